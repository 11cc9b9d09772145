"""Who may use Voice Lab: an access token off loopback, same-origin writes, CSRF, mint limits,
and the security headers every response carries."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.middleware.proxy_fix import ProxyFix

from ..loopback import is_loopback
from ..protocol.limits import RateLimiter
from ..storage import SharedRateLimiter, rate_limiter
from .access_log import hide_tokens, without_token_parameters
from .errors import error_reply

bp = Blueprint("security", __name__)

# Pages that work without the token: the login form itself and the files it needs.
OPEN_ENDPOINTS = frozenset({"security.login", "static"})
# The emulator stands in for a cloud service: its own bearer keys guard it, as the service's do.
OPEN_PREFIXES = ("/emulator/",)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self' https: http: ws: wss:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def csrf_token() -> str:
    """The token forms and htmx requests send back; one per browser session."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def same_origin() -> bool:
    """Whether an unsafe request comes from our own pages (or from no browser at all)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True  # curl, scripts and tests: no browser, no cross-site request
    return urlsplit(source).netloc == request.host


def offered_token() -> str | None:
    """The access token a request offers in a header (or, on the mirror's socket, in its
    query: pages on other origins have no cookie), or None when it offers none."""
    header = request.headers.get("Authorization", "")
    offered = header.removeprefix("Bearer ").strip() or request.headers.get("X-Voice-Lab-Token")
    if request.path == "/ws/mirror":
        offered = offered or request.args.get("token")
    return offered or None


def token_refusal() -> ResponseReturnValue | None:
    """None when the request may go on: no token is configured, the login cookie is there, or
    it offers the right token. Else the 401 (or the redirect to login); and past LOGIN_RATE
    wrong tokens from its client, wherever it offered them, a 429 even for the right one, so
    the token is guessed no faster here than at the login form."""
    token = current_app.config.get("VOICE_LAB_TOKEN")
    if not token or session.get("token_hash") == _digest(token):
        return None
    offered = offered_token()
    if offered is not None:
        limiter: RateLimiter = current_app.extensions["voice_lab_login_limiter"]
        client = request.remote_addr or "?"
        wait = limiter.waiting(client)
        if wait:
            reply = _refuse(
                429,
                "token_rate_limited",
                f"too many wrong access tokens from this address: retry after {wait} s",
            )
            reply[0].headers["Retry-After"] = str(wait)
            return reply
        if _same(offered, token):
            return None
        limiter.retry_after(client)  # a wrong token counts as a wrong login
    if request.method == "GET" and not request.path.startswith(("/api/", "/ws/")):
        return redirect(url_for("security.login", next=without_token_parameters()))
    return _refuse(
        401,
        "token_required",
        "this Voice Lab needs its access token: log in, "
        "or send Authorization: Bearer VOICE_LAB_TOKEN",
    )


def _same(offered: str, expected: str) -> bool:
    """Whether a non-empty offered secret is the expected one (compared in constant time)."""
    return bool(offered) and hmac.compare_digest(offered.encode(), expected.encode())


def _digest(token: str) -> str:
    return hmac.new(b"voice-lab-login", token.encode(), "sha256").hexdigest()


def _refuse(status: int, code: str, message: str) -> tuple[Response, int]:
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return error_reply(status, code, message)
    return current_app.response_class(message, mimetype="text/plain"), status


def local_only_refusal():
    """Without a token, Voice Lab serves this machine only: a request from elsewhere, or for a
    host name that is not loopback (a DNS-rebinding page), is refused whatever it asks for."""
    if current_app.config.get("VOICE_LAB_TOKEN"):
        return None
    # The Host header as sent: werkzeug's request.host quietly trims a malformed one.
    host = request.headers.get("Host", request.host)
    if is_loopback(host) and is_loopback(request.remote_addr or ""):
        return None
    return _refuse(
        403,
        "not_local",
        "without VOICE_LAB_TOKEN this Voice Lab answers only "
        "http://127.0.0.1 or http://localhost from this machine: set a token to serve "
        "others",
    )


def guard():
    """Before every request: loopback or the token, then same-origin and CSRF for writes."""
    refused = local_only_refusal()
    if refused is not None:
        return refused
    if request.endpoint in OPEN_ENDPOINTS or request.path.startswith(OPEN_PREFIXES):
        return None
    refused = token_refusal()
    if refused is not None:
        return refused
    if request.method in UNSAFE_METHODS:
        if not same_origin():
            return _refuse(
                403,
                "cross_origin",
                "requests from other sites are refused: use "
                "Voice Lab's own pages or a client without an Origin header",
            )
        if not request.path.startswith("/api/") and not _csrf_ok():
            return _refuse(
                403,
                "csrf",
                "the form is missing its CSRF token or it expired: reload the page and try again",
            )
    return None


def _csrf_ok() -> bool:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    return isinstance(expected, str) and bool(expected) and _same(sent, expected)


def origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    """Same-origin pages, non-browser clients and configured origins may mirror."""
    if not origin:
        return True
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == host


# Pages on allowed origins import the mirror from here (with the modules it imports), and
# module scripts need CORS.
SHARED_SCRIPTS = tuple(
    f"/static/js/{name}.js"
    for name in (
        "mirror",
        "mirror_states",
        "mirror_events",
        "mirror_audio",
        "peer_stats",
        "recorder",
        "capture",
    )
)
# What browsers send the realtime service (and so its emulator): the SDP and mint requests' own
# headers, the beta opt-in, and the Agents SDK's version header that its WebRTC transport sends
# with the SDP offer.
SERVICE_HEADERS = (
    "Authorization, Content-Type, api-key, OpenAI-Beta, x-openai-agents-sdk, X-Voice-Lab-Scenario"
)


# The SDP and hangup endpoints take a minted key as their bearer, so like the service they answer
# pages on any origin; the mint endpoints take the API key, and answer only where Voice Lab does.
KEYED_ENDPOINTS = frozenset(
    {
        "emulator.call_azure_ga",
        "emulator.call_openai",
        "emulator.call_azure_preview",
        "emulator.hangup",
    }
)


def cors(response: Response) -> None:
    """CORS for what pages call across origins: the shared mirror scripts and the emulator's
    mint endpoints from allowed origins only (otherwise any web page could mint on this
    machine), and the emulator's SDP and hangup endpoints from any origin, as the service
    answers them: a minted key guards those, and the preflight allows the headers it is asked
    for (the Agents SDK adds x-openai-agents-sdk). Answers expose Location (the call id)."""
    service = request.path.startswith(OPEN_PREFIXES)
    if not service and request.path not in SHARED_SCRIPTS:
        return
    response.headers.add("Vary", "Origin")
    origin = request.headers.get("Origin")
    if not origin:
        return
    keyed = request.endpoint in KEYED_ENDPOINTS
    allowed = current_app.config["VOICE_LAB_ALLOWED_ORIGINS"]
    if not keyed and not origin_allowed(origin, request.host, allowed):
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    if service:
        asked = request.headers.get("Access-Control-Request-Headers") if keyed else None
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ", ".join(
            filter(None, (SERVICE_HEADERS, asked))
        )
        response.headers["Access-Control-Expose-Headers"] = "Location"
        response.headers["Access-Control-Max-Age"] = "600"


def headers(response):
    """The security headers on every response, and CORS where pages may call across origins."""
    cors(response)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), geolocation=()")
    return response


def mint_allowed():
    """None when this client may mint now, else the 429 reply with Retry-After."""
    limiter: RateLimiter | SharedRateLimiter = current_app.extensions["voice_lab_mint_limiter"]
    wait = limiter.retry_after(request.remote_addr or "?")
    if not wait:
        return None
    reply, status = error_reply(
        429,
        "mint_rate_limited",
        f"at most {limiter.limit} keys per {limiter.window:g} s from one client: "
        f"retry after {wait} s (VOICE_LAB_MINT_RATE sets the limit)",
        retry_after=str(wait),
    )
    reply.headers["Retry-After"] = str(wait)
    return reply, status


LOGIN_RATE = (10, 60.0)  # login tries per client per seconds


def init_app(app: Flask) -> None:
    """Install the guard, the headers, the mint limiter and the login page."""
    app.extensions["voice_lab_mint_limiter"] = rate_limiter(app, "mint")
    trusted = app.config["VOICE_LAB_TRUSTED_PROXIES"]
    if trusted:  # behind a proxy, the client is the one X-Forwarded-For names, not the proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted)  # type: ignore[method-assign]
    app.extensions["voice_lab_login_limiter"] = RateLimiter(*LOGIN_RATE)
    logging.getLogger("werkzeug").addFilter(hide_tokens)  # the server's request log
    token = app.config.get("VOICE_LAB_TOKEN")
    if token:
        # Logins survive a restart: the cookie key follows the token.
        app.secret_key = hmac.new(b"voice-lab-cookie", token.encode(), "sha256").hexdigest()
    app.register_blueprint(bp)
    app.before_request(guard)
    app.after_request(headers)
    app.jinja_env.globals["csrf_token"] = csrf_token


# A path on this site: one slash, then no slash or backslash (browsers read `/\` as `//`, the
# start of another host), and no control character anywhere (browsers drop tabs and newlines
# from a URL, so `/\t/evil.example` is `//evil.example`; CR/LF would split the header).
_OWN_PATH = re.compile(r"/(?![/\\])[^\x00-\x1f\x7f\\]*")


def own_path(target: str) -> str:
    """`target` if it is a path on this site, else `/`: login never redirects elsewhere."""
    return target if _OWN_PATH.fullmatch(target) else "/"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The access-token form; a right token sets the login cookie. Tries are limited per
    client (LOGIN_RATE), so a token cannot be guessed at speed."""
    target = own_path(request.values.get("next", "/"))
    token = current_app.config.get("VOICE_LAB_TOKEN")
    if request.method == "POST":
        limiter: RateLimiter = current_app.extensions["voice_lab_login_limiter"]
        wait = limiter.retry_after(request.remote_addr or "?")
        if wait:
            error = f"Too many tries from this address: wait {wait} s and try again."
            page = render_template("login.html", target=target, error=error)
            return page, 429, {"Retry-After": str(wait)}
        offered = request.form.get("token", "")
        if token and _same(offered, token):
            session["token_hash"] = _digest(token)
            session.permanent = True
            return redirect(target, 303)
        return render_template("login.html", target=target, error="That token is not right."), 401
    return render_template("login.html", target=target, error=None)

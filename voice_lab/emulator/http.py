"""The emulator's HTTP face: the mint and SDP endpoints of each service flavour.

Paths mirror the services so that AZURE_OPENAI_ENDPOINT=http://HOST/emulator or
OPENAI_BASE_URL=http://HOST/emulator/v1 point the real provider code here.
"""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, Response, current_app, request

from ..protocol.reply import Reply
from . import replies

bp = Blueprint("emulator", __name__, url_prefix="/emulator")

ALLOWED_HEADERS = "Authorization, Content-Type, api-key, X-Voice-Lab-Scenario"


def emulator():
    """The app's Emulator."""
    return current_app.extensions["voice_lab_emulator"]


@bp.after_request
def cors(response: Response) -> Response:
    """Browsers in users' own apps POST here cross-origin, and read the call id in Location.

    A preflight gets the headers it asks for: SDKs add their own (the Agents SDK sends
    x-openai-agents-sdk), and the bearer key, not a header list, is what guards these endpoints.
    """
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    asked = request.headers.get("Access-Control-Request-Headers")
    response.headers["Access-Control-Allow-Headers"] = asked or ALLOWED_HEADERS
    response.headers["Access-Control-Expose-Headers"] = "Location"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.post("/openai/v1/realtime/client_secrets")
def mint_azure_ga():
    """Azure GA: a GA key; an api-version parameter is an error there."""
    if "api-version" in request.args:
        return _send(replies.bad_api_key("azure"))
    return _mint("ga", "azure")


@bp.post("/v1/realtime/client_secrets")
def mint_openai():
    """OpenAI GA client secrets."""
    return _mint("ga", "openai")


@bp.post("/openai/realtimeapi/sessions")
def mint_azure_preview():
    """Azure preview sessions: needs api-version, answers the beta shape."""
    if "api-version" not in request.args:
        return _send(replies.azure_error(404, "Resource not found", code="404"))
    return _mint("beta", "azure")


@bp.post("/openai/v1/realtime/calls")
def call_azure_ga():
    """Azure GA SDP exchange."""
    return _call("azure")


@bp.post("/v1/realtime/calls")
def call_openai():
    """OpenAI GA SDP exchange."""
    return _call("openai")


@bp.post("/v1/realtimertc")
def call_azure_preview():
    """Azure preview SDP exchange on the regional host (`?model=` names the deployment)."""
    if not request.args.get("model"):
        return _send(
            replies.openai_error(
                400,
                "Missing required parameter: 'model'.",
                code="missing_required_parameter",
                param="model",
            )
        )
    return _call("azure")


@bp.post("/openai/v1/realtime/calls/<call_id>/hangup")
@bp.post("/v1/realtime/calls/<call_id>/hangup")
def hangup(call_id: str):
    """End a call from the server side."""
    if not _api_key_ok():
        return _send(replies.bad_api_key("openai"))
    if not emulator().hangup(call_id):
        return _send(
            replies.openai_error(
                404, f"Call '{call_id}' not found.", code="call_not_found", param="call_id"
            )
        )
    return Response(status=200)


def _mint(protocol: str, flavour: str):
    if not _api_key_ok():
        return _send(replies.bad_api_key(flavour))
    # Each key can start a call: the service limits minting per client, and so does its double.
    wait = emulator().mint_limiter.retry_after(request.remote_addr or "?")
    if wait:
        return _send(replies.rate_limited(flavour, wait, fault=False))
    kind = request.mimetype
    if kind and kind != "application/json":
        return _send(
            replies.error(
                flavour,
                400,
                f"Unsupported content type: '{kind}'. This API "
                "method only accepts 'application/json' requests.",
                code="unsupported_content_type",
            )
        )
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        return _send(
            replies.error(
                flavour,
                400,
                "We could not parse the JSON body of your request. The API expects a JSON payload.",
                code="invalid_json",
            )
        )
    scenario = (
        request.headers.get("X-Voice-Lab-Scenario")
        or current_app.config.get("VOICE_LAB_EMULATOR_SCENARIO")
        or "none"
    )
    if request.headers.get("X-Voice-Lab-Scenario") and isinstance(body, dict):
        body.pop("scenario", None)  # the header wins over the body
    return _send(emulator().mint(protocol, body, scenario, flavour=flavour))


def _call(flavour: str):
    token = _bearer()
    if not token:
        return _send(
            replies.openai_error(
                401,
                "You didn't provide an API key. Send the "
                "ephemeral key as 'Authorization: Bearer ek_...'.",
                code="missing_api_key",
            )
        )
    key = emulator().keys.lookup(token)
    if key is None:
        return _send(
            replies.openai_error(
                401,
                "Invalid ephemeral key, or it has expired. Mint "
                "a new one right before the SDP request.",
                code="invalid_api_key",
            )
        )
    offer = _offer()
    if offer is None:
        return _send(
            replies.openai_error(
                400,
                f"Unsupported content type: '{request.mimetype or '(none)'}'. This API method "
                "only accepts 'application/sdp' requests, but you specified the header "
                f"'Content-Type: {request.content_type or ''}'. Please try again with a supported "
                "content type.",
                code="unsupported_content_type",
            )
        )
    if "m=" not in offer:
        return _send(
            replies.openai_error(
                400,
                "Invalid SDP offer: it has no media section.",
                code="invalid_offer",
                param="sdp",
            )
        )
    try:
        call_id, answer = emulator().start_call(key, offer)
    except ValueError as exc:
        return _send(
            replies.openai_error(
                400, f"Invalid SDP offer: {exc}", code="invalid_offer", param="sdp"
            )
        )
    response = Response(answer, status=201, mimetype="application/sdp")
    response.headers["Location"] = f"{request.path.rstrip('/')}/{call_id}"
    return response


def _offer() -> str | None:
    """The SDP offer from an application/sdp body or a multipart `sdp` field."""
    if request.mimetype == "application/sdp":
        return request.get_data(as_text=True)
    if request.mimetype == "multipart/form-data" and "sdp" in request.form:
        return request.form["sdp"]
    return None


def _bearer() -> str:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


def _api_key_ok() -> bool:
    """Whether the request carries the emulator's API key. On loopback any non-empty key will
    do; once Voice Lab is exposed (VOICE_LAB_TOKEN set) only VOICE_LAB_EMULATOR_API_KEY does, and
    without one nobody mints over HTTP (Voice Lab's own pages mint in-process)."""
    offered = request.headers.get("api-key", "").strip() or _bearer()
    if not current_app.config.get("VOICE_LAB_TOKEN"):
        return bool(offered)
    expected = current_app.config.get("VOICE_LAB_EMULATOR_API_KEY") or ""
    return bool(offered and expected) and hmac.compare_digest(offered.encode(), expected.encode())


def _send(reply: Reply) -> Response:
    return Response(reply.text, status=reply.status, headers=dict(reply.headers))

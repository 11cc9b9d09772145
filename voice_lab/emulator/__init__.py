"""The embedded realtime emulator: a real WebRTC endpoint that speaks the realtime protocol.

`init_app` mounts its HTTP routes under /emulator and keeps an `Emulator` in
`app.extensions["voice_lab_emulator"]`. Peer connections live on one asyncio loop thread, which
starts with the first call and stops with `shutdown`.
"""

from __future__ import annotations

import atexit
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask

from ..protocol.limits import RateLimiter
from ..protocol.reply import Reply
from . import replies, scenarios, scripting, settings
from .ears import Ears, locate
from .keys import Key, KeyRegistry
from .script import Ids
from .scripting import ModelScript, ScriptError

if TYPE_CHECKING:
    from ..storage import SharedRateLimiter
    from .loop import LoopThread

GA_MINT_FIELDS = {"session", "expires_after", "scenario", "script"}


class Emulator:
    """Minted keys, live calls, the loop they run on, the limit on minting over HTTP, and the
    ears that transcribe what callers say (None: none installed, or turned off)."""

    def __init__(
        self,
        mint_limiter: RateLimiter | SharedRateLimiter,
        scripts_dir: Path = scripting.FOLDER,
        default_script: ModelScript | None = None,
        ears: Ears | None = None,
    ) -> None:
        self.mint_limiter, self.ears = mint_limiter, ears
        self.scripts_dir, self.default_script = scripts_dir, default_script
        self.keys = KeyRegistry()
        self.calls: dict[str, Any] = {}
        self.ids = Ids()
        self._loop: LoopThread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the loop thread has started (it starts with the first call)."""
        return self._loop is not None

    def mint(
        self, protocol: str, body: Any, scenario: str = "none", *, flavour: str = "azure"
    ) -> Reply:
        """Answer a mint request as the service would: GA client_secrets or preview sessions."""
        body = dict(body) if isinstance(body, dict) else body
        if not isinstance(body, dict):
            return replies.error(
                flavour,
                400,
                "The body must be a JSON object.",
                code="invalid_value" if flavour == "openai" else "BadRequest",
            )
        try:
            chosen = scenarios.parse(body.pop("scenario", None) or scenario)
        except ValueError as exc:
            return replies.openai_error(400, str(exc), code="invalid_value", param="scenario")
        try:
            script = self._script(body.pop("script", None))
        except ScriptError as exc:
            return replies.openai_error(400, f"script: {exc}", code="invalid_value", param="script")
        if chosen.name == "mint_429":
            return replies.rate_limited(flavour, chosen.seconds)
        if chosen.name == "mint_401":
            return replies.bad_api_key(flavour)
        try:
            if protocol == "ga":
                return self._mint_ga(body, chosen, script)
            return self._mint_beta(body, chosen, script)
        except settings.ConfigProblem as exc:
            return replies.openai_error(400, str(exc), code=exc.code, param=exc.param)

    def _script(self, chosen: Any) -> ModelScript | None:
        """The script a mint asked for (a name in the scripts folder or an inline object),
        else the app's."""
        if chosen is None or chosen == "":
            return self.default_script
        return scripting.find(chosen, self.scripts_dir)

    def _mint_ga(
        self, body: dict[str, Any], scenario: scenarios.Scenario, script: ModelScript | None
    ) -> Reply:
        unknown = sorted(set(body) - GA_MINT_FIELDS)
        if unknown:
            raise settings.ConfigProblem(
                f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter"
            )
        session = body.get("session") or {"type": "realtime"}
        ttl = _ttl(body.get("expires_after"))
        model = session.get("model") if isinstance(session, dict) else None
        voice = (
            ((session.get("audio") or {}).get("output") or {}).get("voice")
            if isinstance(session, dict)
            else None
        )
        config = settings.defaults(
            "ga", self.ids.make("sess"), model or "gpt-realtime", voice or "marin"
        )
        config = settings.apply("ga", config, session, first=True)
        key = self.keys.mint("ga", config, str(scenario), ttl, script)
        return replies.ok(
            {
                "value": key.value,
                "expires_at": key.expires_at,
                "session": {**config, "expires_at": key.expires_at},
            }
        )

    def _mint_beta(
        self, body: dict[str, Any], scenario: scenarios.Scenario, script: ModelScript | None
    ) -> Reply:
        config = settings.defaults(
            "beta",
            self.ids.make("sess"),
            body.get("model") or "gpt-4o-realtime-preview",
            body.get("voice") or "verse",
        )
        config = settings.apply("beta", config, body, first=True)
        key = self.keys.mint("beta", config, str(scenario), script=script)
        return replies.ok(
            {**config, "client_secret": {"value": key.value, "expires_at": key.expires_at}}
        )

    def start_call(self, key: Key, offer_sdp: str) -> tuple[str, str]:
        """Open a call for `key` from an SDP offer; return (call id, answer SDP)."""
        from .peer import Call

        call_id = "rtc_" + secrets.token_hex(16)
        if self.ears is not None:
            self.ears.warm()

        async def answer() -> str:
            call = Call(call_id, key, scenarios.parse(key.scenario), self._forget, self.ears)
            self.calls[call_id] = call
            try:
                return await call.answer(offer_sdp)
            except BaseException:
                await call.close()
                raise

        return call_id, self._loop_thread().run(answer(), timeout=30)

    def hangup(self, call_id: str) -> bool:
        """End a call by id; False if there is no such call."""
        call = self.calls.get(call_id)
        if call is None or self._loop is None:
            return False
        self._loop.run(call.close())
        return True

    def shutdown(self) -> None:
        """Close every call, then stop the loop and join its thread (idempotent)."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        atexit.unregister(self.shutdown)
        try:
            loop.run(self._close_calls(), timeout=10)
        finally:
            loop.stop()

    async def _close_calls(self) -> None:
        for call in list(self.calls.values()):
            await call.close()

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)

    def _loop_thread(self) -> LoopThread:
        with self._lock:
            if self._loop is None:
                from .loop import LoopThread  # aiortc's stack loads with the first call only

                self._loop = LoopThread()
                atexit.register(self.shutdown)
            return self._loop


def _ttl(expires_after: Any) -> int | None:
    """Seconds from OpenAI's `expires_after` (10..7200), or None for the default."""
    if expires_after is None:
        return None
    seconds = expires_after.get("seconds") if isinstance(expires_after, dict) else None
    if not isinstance(seconds, int) or not 10 <= seconds <= 7200:
        raise settings.ConfigProblem(
            "Invalid 'expires_after.seconds': expected an integer between 10 and 7200.",
            "expires_after.seconds",
        )
    return seconds


def init_app(app: Flask) -> Emulator:
    """Mount the emulator's routes under /emulator and keep the Emulator on the app."""
    from .. import storage  # not at the top: the configuration imports the emulator's modules
    from .http import bp

    scripts_dir = Path(app.config.get("VOICE_LAB_SCRIPTS_DIR") or scripting.FOLDER)
    chosen = app.config.get("VOICE_LAB_EMULATOR_SCRIPT")
    emulator = Emulator(
        storage.rate_limiter(app, "emulator"),
        scripts_dir,
        scripting.find(chosen, scripts_dir, paths=True) if chosen else None,
        locate(app.config["VOICE_LAB_ASR_MODEL"], app.config["VOICE_LAB_ASR"]),
    )
    app.extensions["voice_lab_emulator"] = emulator
    app.register_blueprint(bp)
    return emulator

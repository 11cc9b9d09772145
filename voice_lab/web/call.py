"""The call page: choose a provider and settings, hold a WebRTC call, mirror its events and
record it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from ..config import configured_providers
from ..emulator import scenarios, scripting
from ..providers import default_model, default_voice
from ..storage import get_store

bp = Blueprint("call", __name__)

VOICES = ("alloy", "ash", "ballad", "cedar", "coral", "echo", "marin", "sage", "shimmer", "verse")


@bp.get("/call")
def call_page():
    """The call page, its choices filled from the configured providers; `?replay=ID` makes
    its microphone session ID's recorded user channel, its settings filled from that call."""
    cfg = current_app.config
    replaying = None
    if "replay" in request.args:
        replaying = get_store().get_session(request.args["replay"])
        if replaying is None:
            abort(404, description=f"There is no session {request.args['replay']} to replay.")
    return render_template(
        "call.html",
        providers=[provider_choice(name, cfg) for name in configured_providers(cfg)],
        scenarios=scenarios.NAMES,
        default_scenario=cfg["VOICE_LAB_EMULATOR_SCENARIO"],
        scripts=scripting.names(Path(cfg["VOICE_LAB_SCRIPTS_DIR"])),
        default_script=cfg.get("VOICE_LAB_EMULATOR_SCRIPT"),
        emulator_protocol=cfg["VOICE_LAB_EMULATOR_PROTOCOL"],
        instructions=cfg.get("VOICE_LAB_INSTRUCTIONS") or "",
        voices=VOICES,
        recording=cfg["VOICE_LAB_RECORDING"],
        replaying=replaying,
    )


def provider_choice(name: str, cfg: Mapping[str, Any]) -> dict[str, str]:
    """What the page needs to know of a provider: its protocol and default model and voice."""
    protocol = "beta" if name == "azure-preview" else "ga"
    if name == "emulator":
        protocol = cfg["VOICE_LAB_EMULATOR_PROTOCOL"]
    return {
        "name": name,
        "protocol": protocol,
        "model": default_model(cfg, name),
        "voice": default_voice(cfg, protocol),
    }

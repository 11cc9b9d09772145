"""What a response or a transcription costs in tokens, counted from lengths as the emulator has
no model: text by characters, audio by duration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .script import ResponsePlan


def text_tokens(text: str) -> int:
    """A rough token count (about 4 characters a token)."""
    return max(1, round(len(text) / 4)) if text else 0


def transcription_tokens(transcript: str, seconds: float) -> dict[str, Any]:
    """A token-billed transcription's usage: audio in (10 tokens a second, as responses count
    it), the transcript's text out."""
    audio, out = int(seconds * 10), text_tokens(transcript)
    return {
        "type": "tokens",
        "input_tokens": audio,
        "output_tokens": out,
        "total_tokens": audio + out,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio},
    }


def usage(plan: ResponsePlan) -> dict[str, Any]:
    """A usage block computed from lengths: text by characters, audio by duration."""
    out_text = text_tokens(plan.call.arguments if plan.call is not None else plan.sent_text)
    out_audio = (
        round(plan.audio_ms * len(plan.sent_text) / max(1, len(plan.text)) / 50)
        if plan.audio
        else 0
    )
    in_total = plan.input_text_tokens + plan.input_audio_tokens
    return {
        "total_tokens": in_total + out_text + out_audio,
        "input_tokens": in_total,
        "output_tokens": out_text + out_audio,
        "input_token_details": {
            "text_tokens": plan.input_text_tokens,
            "audio_tokens": plan.input_audio_tokens,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }

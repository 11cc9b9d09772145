"""What a response and a session cost in dollars, estimated from their usage and a price table.

Pure: reads Usage records (metrics.py) and a PriceTable. The shipped table (prices.json beside
this module) says when it was written and where its figures came from; a user's file in the
same shape replaces it (VOICE_LAB_PRICES, read once at start-up by config.py). A model the
table does not price gets no figure, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .metrics import Usage

RATES = ("text_input", "text_cached", "text_output", "audio_input", "audio_cached", "audio_output")
PER_TOKENS = 1_000_000  # the table's prices are per million tokens
EXAMPLE = (
    '{"written": "2026-12-01", "source": "...", "models": {"gpt-realtime": {'
    + ", ".join(f'"{rate}": 1.0' for rate in RATES)
    + "}}}"
)


class PriceError(ValueError):
    """A price table is malformed; the message names the field and the fix."""


@dataclass(frozen=True)
class PriceTable:
    """Dollars per million tokens of each model (a name or the prefix of dated names), with
    the date the figures were written and where they came from."""

    written: str
    source: str
    models: Mapping[str, Mapping[str, float]]

    def rates(self, model: str | None) -> Mapping[str, float] | None:
        """The rates of a model: its own entry, else the longest name it starts with
        (gpt-realtime-mini-2025-10-06 -> gpt-realtime-mini, not gpt-realtime); None if none."""
        if not model:
            return None
        names = [name for name in self.models if model == name or model.startswith(name + "-")]
        return self.models[max(names, key=len)] if names else None


@dataclass(frozen=True)
class Cost:
    """An estimate in dollars, or why there is none (`missing`: "no price for MODEL")."""

    dollars: float | None
    missing: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The estimate as a JSON object."""
        return {"dollars": self.dollars, "missing": self.missing}


def parse(text: str, origin: str) -> PriceTable:
    """A PriceTable from the JSON text of a price file, or PriceError naming the field to fix."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PriceError(f"{origin} is not JSON ({exc}); write it like {EXAMPLE}") from None
    if not isinstance(data, dict):
        raise PriceError(f"{origin} must hold a JSON object like {EXAMPLE}")
    for field in ("written", "source"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise PriceError(f"{origin}: {field} must be a non-empty string (like {EXAMPLE})")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise PriceError(f"{origin}: models must map model names to their rates ({EXAMPLE})")
    priced = {model: _rates(origin, model, rates) for model, rates in models.items()}
    return PriceTable(data["written"], data["source"], priced)


def _rates(origin: str, model: str, rates: Any) -> dict[str, float]:
    """One model's rates, every one present as a number of dollars >= 0."""
    if not isinstance(rates, dict):
        raise PriceError(f"{origin}: models.{model} must be an object of {', '.join(RATES)}")
    for rate in RATES:
        value = rates.get(rate)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise PriceError(
                f"{origin}: models.{model}.{rate} must be dollars per 1M tokens, a number >= 0 "
                f"(got {value!r})"
            )
    unknown = sorted(set(rates) - set(RATES))
    if unknown:
        raise PriceError(
            f"{origin}: models.{model} has unknown rates {unknown}; use {', '.join(RATES)}"
        )
    return {rate: float(rates[rate]) for rate in RATES}


def shipped() -> PriceTable:
    """The table that comes with Voice Lab."""
    text = resources.files(__package__).joinpath("prices.json").read_text(encoding="utf-8")
    return parse(text, "the shipped table")


def split_cached(usage: Usage) -> tuple[int, int]:
    """Cached input tokens as (text, audio). Where the service reports cached_tokens without
    its split (or with a partial one), the rest counts as text up to the text input, then as
    audio: the cheaper reading, as prompts (instructions, tools) are what caches first."""
    text, audio = usage.input_cached_text, usage.input_cached_audio
    rest = max(usage.input_cached - text - audio, 0)
    to_text = min(rest, max(usage.input_text - text, 0))
    return text + to_text, audio + rest - to_text


def dollars(usage: Usage, rates: Mapping[str, float]) -> float:
    """The cost of one usage at these rates. The service counts cached tokens inside the text
    and audio input, so they are taken out of those and priced at the cached rate."""
    cached_text, cached_audio = split_cached(usage)
    tokens = {
        "text_input": max(usage.input_text - cached_text, 0),
        "text_cached": cached_text,
        "text_output": usage.output_text,
        "audio_input": max(usage.input_audio - cached_audio, 0),
        "audio_cached": cached_audio,
        "audio_output": usage.output_audio,
    }
    return sum(tokens[rate] * rates[rate] for rate in RATES) / PER_TOKENS


def estimate(table: PriceTable, model: str | None, usage: Usage) -> Cost:
    """One usage's cost for a model, or why it has none."""
    rates = table.rates(model)
    if rates is None:
        return Cost(None, f"no price for {model or 'an unknown model'}")
    return Cost(dollars(usage, rates))


def priced_model(model: str | None, config: Any) -> str | None:
    """The model a session is priced by: its row's, or the one its effective config names
    when the row has none."""
    configured = config.get("model") if isinstance(config, dict) else None
    return model or (configured if isinstance(configured, str) else None)


def session_cost(
    table: PriceTable, model: str | None, usages: Iterable[Usage], total: Usage
) -> dict[str, Any]:
    """The estimate of each listed response and of the whole session (`total`, the sum of
    every response's usage), with the table's date and source, as JSON."""
    return {
        "estimate": True,
        "model": model,
        "prices_written": table.written,
        "prices_source": table.source,
        "session": estimate(table, model, total).as_json(),
        "responses": [
            {"response_id": u.response_id, **estimate(table, model, u).as_json()} for u in usages
        ],
    }

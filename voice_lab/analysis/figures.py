"""A session's figures for the sessions list: turns, p95 to first audio, barge-ins, failed
checks and cost, from its fold; and the heard p95 and audio checks, from its recording.

Pure: reads an Aggregates and a hearing (call_times.hearing_json's data). The store keeps
these per session, so the list sorts and filters them without folding any event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import cost
from .aggregates import Aggregates
from .metrics import percentile

FIRST_AUDIO = "to_first_audio_ms"


@dataclass(frozen=True, slots=True)
class Figures:
    """What the sessions list shows of a session's events, as of its fold's last seq. turns
    and interruptions are None when the fold was saved before it counted them; p95_ms when no
    response had audio; cost when the table has no price for the model."""

    upto_seq: int
    folded: int
    turns: int | None
    interruptions: int | None
    failed_checks: int
    p95_ms: float | None
    cost: float | None


@dataclass(frozen=True, slots=True)
class Heard:
    """What the sessions list shows of a session's recording: the p95 to first audio as heard
    (None when no response was heard after the user's speech) and the audio checks failed."""

    p95_ms: float | None
    failed_checks: int


def figures(
    fold: Aggregates, missing: Sequence[int], prices: cost.PriceTable, model: str | None
) -> Figures:
    """The figures of a session's fold, with the seqs the store misses (as the panels' checks
    count them), priced with `prices` for the session's model."""
    checks = fold.session_checks(missing)
    p95 = next(s.p95 for s in fold.latency_stats() if s.name == FIRST_AUDIO)
    estimate = cost.estimate(prices, cost.priced_model(model, fold.config), fold.usage_total())
    return Figures(
        upto_seq=fold.upto,
        folded=fold.folded,
        turns=fold.turns,
        interruptions=fold.interruptions,
        failed_checks=sum(not check.ok for check in checks),
        p95_ms=p95,
        cost=estimate.dollars,
    )


def heard(hearing: Mapping[str, Any]) -> Heard:
    """The figures of a recording's hearing."""
    values = [h[FIRST_AUDIO] for h in hearing["heard"] if h[FIRST_AUDIO] is not None]
    failed = sum(not check["ok"] for check in hearing["checks"])
    return Heard(percentile(values, 95), failed)

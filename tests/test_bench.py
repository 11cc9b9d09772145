"""The bench's figures read percentiles as the panels do: through metrics.percentile."""

from __future__ import annotations

from bench.browser import live_figures
from bench.ears import errors, words
from voice_lab.analysis import metrics

ONE_TO_A_HUNDRED = [float(n) for n in range(1, 101)]


def test_the_p95_of_a_hundred_samples_is_the_95th():
    assert metrics.percentile(ONE_TO_A_HUNDRED, 95) == 95


def test_the_bench_reports_the_same_percentiles():
    p50, p95 = live_figures(ONE_TO_A_HUNDRED, [n / 2 for n in ONE_TO_A_HUNDRED])
    assert (p50.value, p95.value) == (50, 95)
    assert (p50.baseline, p95.baseline) == (25, 47.5)


def test_no_row_seen_is_not_measured():
    assert [f.value for f in live_figures([], [])] == [None, None]


def test_the_word_error_count_is_the_edit_distance():
    """A substitution and an insertion are two errors; the same words none."""
    assert errors(words("Book a table."), words("book the table now")) == 2
    assert errors(words("Turn off the lights"), words("turn off the lights!")) == 0
    assert errors(words("one two three"), []) == 3

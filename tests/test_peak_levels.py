"""Peaks levels as memory-mapped files: what a window or a coarse view reads from them equals
what the whole finest level gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest

from voice_lab.analysis.recording import Peaks, peaks
from voice_lab.ingest import peak_levels


def whole(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write a file (the store's cache writes it beside and renames it; a test need not)."""
    with path.open("wb") as out:
        fill(out)


@pytest.fixture
def finest() -> Peaks:
    """Ten minutes of noise at 100 bins a second: levels down to under 2,000 bins."""
    samples = np.random.default_rng(7).integers(-30000, 30000, (16000 * 600, 2), dtype=np.int16)
    return peaks(samples, 16000, 100)


def test_windows_read_from_the_mapped_level_equal_the_full_levels_slice(tmp_path, finest):
    facts = peak_levels.write(tmp_path / "9", finest, whole)
    assert facts["levels"] == [1, 4, 16, 64]  # 60,000 bins, then 15,000, 3,750, 938
    for window in ((0, 10), (2005, 4000), (123_456, 345_678.5), (599_990, 700_000)):
        start_ms, found = peak_levels.read(tmp_path / "9", facts, 10**6, window)
        first, expected = finest.between(*window)
        assert start_ms == first * 10
        assert np.array_equal(found.low, expected.low)
        assert np.array_equal(found.high, expected.high)


def test_a_coarse_view_reads_the_coarse_level_equal_to_merging_the_finest(tmp_path, finest):
    facts = peak_levels.write(tmp_path / "9", finest, whole)
    # The coarsest level with at least `bins` bins, merged further to fit them.
    for bins, level in ((1000, 16), (5000, 4), (20000, 1), (10, 64)):
        start_ms, found = peak_levels.read(tmp_path / "9", facts, bins, None)
        expected = finest.coarser(level).fitting(bins)
        assert start_ms == 0 and len(found.low) <= bins
        assert found.size == expected.size
        assert np.array_equal(finest.coarser(found.size // finest.size).high, found.high)
        assert np.array_equal(found.high, expected.high)
        assert np.array_equal(found.low, expected.low)

"""A recording's peaks kept as files, one .npy a level, so that a request reads only what it
serves: the whole call's view reads a coarse level of a few thousand bins, a zoomed window reads
its slice of a finer one, each through numpy's memory map, whatever the call's length.

Level k merges FACTOR**k bins of the finest level (the finest is 10 ms a bin, an hour's is
1.4 MB); levels stop once one is short enough to be read whole for any view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..analysis.recording import Peaks

FACTOR = 4  # bins merged from one level to the next: a view reads at most 4x what it draws
SHORT = 2000  # bins: a level this short is the last, as any view may read it whole


def level_path(base: Path, factor: int) -> Path:
    """The file of the level merging `factor` finest bins, beside the recording `base`."""
    return base.with_name(f"{base.name}.peaks-{factor}.npy")


def write(base: Path, finest: Peaks, write_whole: Callable[[Path, Callable], None]) -> dict:
    """Write every level of `finest` beside `base` (each file whole, by `write_whole`); the
    facts a reader needs, for the recording's metadata."""
    factors, level, factor = [], finest, 1
    while True:
        stacked = np.stack((level.low, level.high), axis=1)  # (bins, low|high, channel)
        write_whole(level_path(base, factor), _saver(stacked))
        factors.append(factor)
        if len(level.low) <= SHORT:
            break
        level, factor = level.coarser(FACTOR), factor * FACTOR
    return {"rate": finest.rate, "size": finest.size, "bins": len(finest.low), "levels": factors}


def _saver(array: np.ndarray) -> Callable[[BinaryIO], Any]:
    return lambda out: np.save(out, array)


def read(
    base: Path, facts: dict, bins: int | None, window: tuple[float, float] | None
) -> tuple[float, Peaks]:
    """(start_ms of the first bin, peaks) of the whole call or of `window` (start_ms, end_ms),
    at most `bins` bins when given, read from the coarsest level that has enough bins."""
    rate, size, count = facts["rate"], facts["size"], facts["bins"]
    first, last = 0, count
    if window is not None:
        ms_per_bin = size * 1000 / rate
        first = min(count, max(0, math.floor(window[0] / ms_per_bin)))
        last = min(count, max(first, math.ceil(window[1] / ms_per_bin)))
    wanted = math.ceil((last - first) / bins) if bins else 1
    factor = max(f for f in facts["levels"] if f <= max(1, wanted))
    level = np.load(level_path(base, factor), mmap_mode="r")
    start, end = first // factor, math.ceil(last / factor)
    part = np.asarray(level[start:end])  # only these bins are read from the file
    peaks = Peaks(rate, size * factor, part[:, 0], part[:, 1])
    if bins:
        peaks = peaks.fitting(bins)
    return start * factor * size * 1000 / rate, peaks

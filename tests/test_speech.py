"""Sound per channel from the audio itself: energy with hysteresis over 10 ms frames."""

from __future__ import annotations

import numpy as np

from tests.recordings import RATE, assert_spans, stereo
from voice_lab.analysis.speech import Levels, channel_segments, frame_levels, segments


def test_sound_is_found_where_it_is_on_each_channel():
    user, model = channel_segments(stereo(5, [(0.5, 1.5), (3.0, 4.2)], [(2.0, 2.8)]), RATE)
    assert_spans(user, [(0.5, 1.5), (3.0, 4.2)], 10)
    assert_spans(model, [(2.0, 2.8)], 10)


def test_pauses_shorter_than_the_hang_are_joined():
    words = [(0.5, 0.9), (1.1, 1.5), (2.0, 2.4)]  # 200 ms then 500 ms apart
    found = segments(stereo(3, words)[:, 0], RATE, Levels(hang_ms=300))
    assert_spans(found, [(0.5, 1.5), (2.0, 2.4)], 10)


def test_a_click_shorter_than_the_minimum_is_not_sound():
    found = segments(stereo(2, [(0.5, 0.53), (1.0, 1.5)])[:, 0], RATE, Levels(min_ms=60))
    assert_spans(found, [(1.0, 1.5)], 10)


def test_a_noisy_channel_raises_its_thresholds_above_its_floor():
    """Steady noise louder than on_db is the floor, not sound: the tone over it still is."""
    noisy = stereo(4, [(1.0, 2.0)], noise_db=-38)
    assert frame_levels(noisy[:, 0], RATE).min() > Levels().on_db
    assert_spans(segments(noisy[:, 0], RATE), [(1.0, 2.0)], 20)


def test_silence_and_nothing_have_no_sound():
    assert segments(np.zeros(RATE, dtype=np.int16), RATE) == []
    assert segments(np.zeros(0, dtype=np.int16), RATE) == []

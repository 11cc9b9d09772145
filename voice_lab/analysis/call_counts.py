"""A session's turns and barge-ins, counted as the fold (aggregates.py) goes.

`CallCounts` is the part of `Aggregates` that counts them: its state lives on the fold and is
saved with it. A turn is a user item, as the grouped timeline (timeline.group_events) makes a
turn of each. A barge-in is the user starting to speak (input_audio_buffer.speech_started)
while a response's audio is still being made or played: the service then clears the output
buffer, truncates the item and cancels the response (docs/protocol.md, "A voice turn").
"""

from __future__ import annotations

from ..protocol.names import dig
from ..protocol.record import Event

# What says a response's audio is being made (an audio part, or a delta over a websocket) or
# played (output_audio_buffer.*), and the user's speech that interrupts it.
_AUDIO_DELTA = "response.output_audio.delta"
_AUDIO_PARTS = ("audio", "output_audio")
BARGE_NAMES = frozenset(
    {
        _AUDIO_DELTA,
        "response.content_part.added",
        "response.done",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    }
)
MAX_TURN_ITEMS = 64  # the latest user items, so a late event of one does not count it again
# Counts a fold saved before they were kept cannot know: such a fold loads with them None.
COUNTS = ("turns", "interruptions")
MAX_SOUNDING = 100  # audio kept as sounding at most (a response is done long before)


class CallCounts:
    """Turns and barge-ins of the fold (mixed into Aggregates)."""

    item_response: dict[str, str]  # PanelLists': item id -> the response that produced it

    def __init__(self) -> None:
        # turns (the grouped timeline's user turns) and barge-ins: the audio being made or
        # played ("made:"/"played:" + response id), and whether the user is speaking
        self.turns: int | None = 0
        self.turn_items: list[str] = []
        self.interruptions: int | None = 0
        self.sounding: list[str] = []
        self.speaking = False

    def _turn(self, iid: str) -> None:
        """A user item seen for the first time: a turn of the grouped timeline."""
        if iid in self.item_response:
            return  # a response's item (the timeline groups it with the response)
        self.turn_items = [*self.turn_items, iid][-MAX_TURN_ITEMS:]
        if self.turns is not None:
            self.turns += 1

    def _barge_in(self, event: Event, name: str, rid: str) -> None:
        """Count the user starting to speak while a response's audio is still made or played.
        Semantic VAD may say speech_started several times before one speech_stopped: that
        is one barge-in."""
        if name == "input_audio_buffer.speech_started":
            if self.sounding and not self.speaking and self.interruptions is not None:
                self.interruptions += 1
            self.speaking = True
        elif name == "input_audio_buffer.speech_stopped":
            self.speaking = False
        elif name == _AUDIO_DELTA or (
            name == "response.content_part.added"
            and dig(event.data, "part", "type") in _AUDIO_PARTS
        ):
            _add(self.sounding, f"made:{rid}")
        elif name == "output_audio_buffer.started":
            _add(self.sounding, f"played:{rid}")
        elif name == "response.done":
            self.sounding = [key for key in self.sounding if key != f"made:{rid}"]
        else:  # stopped or cleared: that response's playback, or every one when none is named
            self.sounding = [
                key
                for key in self.sounding
                if not key.startswith("played:") or rid not in ("", key[7:])
            ]


def _add(keys: list[str], key: str) -> None:
    """Add a key to a list of at most MAX_SOUNDING distinct ones."""
    if key not in keys and len(keys) < MAX_SOUNDING:
        keys.append(key)

"""The mirror protocol: the browser copies every data-channel event to us, we store and ack.

`Mirror.handle` takes one text frame and returns its reply, so tests reach the protocol without
a socket; the socket's thin loop is web/mirror_socket.py. See docs/architecture.md, "Mirror
protocol".
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any, NamedTuple

from ..analysis.aggregates import Aggregates
from ..analysis.call_times import RECORDING
from ..protocol.codec import storable
from ..protocol.names import dig
from ..protocol.record import Event
from ..protocol.redaction import field_text
from ..storage.base import Store
from ..storage.errors import SessionGone, StorageError
from ..storage.rows import EventRow, Stored
from . import panel_state
from .frames import MirrorError, parse_frame, to_chunks, to_events

SAVE_EVERY = 10.0  # seconds between saves of a mirrored session's panel figures
HELLO_FOLDS = 5000  # events a hello folds at most to catch the panel figures up
CREATE_FIELDS = ("label", "provider", "model", "protocol", "voice")

logger = logging.getLogger(__name__)


class Queued(NamedTuple):
    """An events frame whose batch waits for the writer."""

    session_id: str
    events: list[Event]
    stored: Callable[[], Stored]  # waits until the batch is stored; raises what refused it


class Mirror:
    """One websocket's state: the session it mirrors, the store it writes to, and the replies
    it owes.

    The socket takes every frame it has already read before it answers the first: their batches
    queue for the writer together and commit in one group, instead of one group per round trip.
    Each frame still gets one reply, in the order the frames came. A batch's events are folded
    into the panels' figures once its ack is out, while the browser sends more.
    """

    def __init__(
        self,
        store: Store,
        on_stored: Callable[[], None] = lambda: None,
        recording: bool = True,
        on_response_done: Callable[[str, str], None] | None = None,
        on_recorded: Callable[[str], object] = lambda session_id: None,
    ):
        self.store = store
        self.on_stored = on_stored  # tells the dashboard's live tails to look
        # Told (session id, response id) of each response.done stored: the live OTLP push,
        # which only queues them, so the ack waits for nothing.
        self.on_response_done = on_response_done
        self.recording = recording  # whether audio frames are stored (VOICE_LAB_RECORDING)
        self.on_recorded = on_recorded  # a recording's stop is stored: prepare it (never blocks)
        self.session_id: str | None = None
        self._owed: deque[dict[str, Any] | Queued] = deque()
        # The session's panel figures, folded as events are stored and saved now and then, so
        # that the panels read only what came since (see aggregates.py).
        self.fold: Aggregates | None = None
        self.saved = (0, 0.0)  # (folded, monotonic time) at the last save
        self._unfolded: list[tuple[Queued, Stored]] = []  # acked, not folded yet

    def handle(self, text: str | bytes) -> dict[str, Any]:
        """Answer one frame: welcome, ack, or an error frame; never raises for bad input."""
        self.take(text)
        reply = self.reply()
        self.fold_stored()
        return reply

    def take(self, text: str | bytes) -> None:
        """Start on a frame (an events batch joins the writer's queue); reply() answers it
        after the frames taken before it. Never raises for bad input."""
        owed: dict[str, Any] | Queued
        try:
            frame = parse_frame(text)
            if frame["op"] == "hello":
                self.settle()  # the welcome's resume point counts every batch before it
                owed = self.hello(frame)
            elif frame["op"] == "audio":
                owed = self.audio(frame)
            elif frame["op"] == "end":
                self.settle()  # the batches before it are stored before the session ends
                owed = self.end()
            else:
                owed = self.events(frame)
        except MirrorError as exc:
            owed = exc.frame()
        self._owed.append(owed)

    @property
    def unanswered(self) -> int:
        """How many frames taken have not been answered yet."""
        return len(self._owed)

    def reply(self) -> dict[str, Any]:
        """The reply to the oldest frame not answered yet, once its batch is stored."""
        owed = self._owed.popleft()
        return owed if isinstance(owed, dict) else self.ack(owed)

    def settle(self) -> None:
        """Wait until every batch taken is stored or refused, and fold the stored ones; their
        replies stay owed."""
        self.fold_stored()
        for owed in self._owed:
            if isinstance(owed, Queued):
                with suppress(StorageError):  # reply() says so
                    self._fold(owed, owed.stored())

    def hello(self, frame: Mapping[str, Any]) -> dict[str, Any]:
        """Attach to a session (or create an external one) and say where to resume."""
        self.close()
        # Refused, a hello leaves the socket on no session: what follows is stored nowhere.
        self.session_id, self.fold = None, None
        created: dict[str, str] = {}
        if isinstance(frame.get("create"), dict) and frame.get("session") is None:
            fields = _creation(frame)
            self.session_id, secret = self.store.create_writable_session(
                origin="external", **fields
            )
            created["secret"] = secret  # the page's only copy: its next hellos carry it
        else:
            self.session_id = self._writable(frame)
        acked = self.store.contiguous_seq(self.session_id)
        audio_acked = self.store.audio_contiguous(self.session_id)
        self._catch_up()
        return {
            "op": "welcome",
            "session": self.session_id,
            "acked": acked,
            "audio_acked": audio_acked,
            **created,
        }

    def _writable(self, frame: Mapping[str, Any]) -> str:
        """The existing session a hello names, once its write secret is checked."""
        session_id, secret = frame.get("session"), frame.get("secret")
        if not isinstance(session_id, str) or not session_id:
            raise MirrorError("bad_hello", 'hello needs "session": ID or "create": {...}')
        session_id = storable(session_id[:200])
        if self.store.get_session(session_id) is None:
            raise MirrorError(
                "session_not_found",
                f"no session {session_id!r}: mint one with "
                "POST /api/sessions or send hello with create",
            )
        if not isinstance(secret, str) or not secret:
            raise MirrorError(
                "secret_required",
                f'hello for session {session_id!r} needs its "secret": the write_secret of '
                "POST /api/sessions, or the secret of the welcome to a hello with create",
            )
        allowed = self.store.write_allowed(session_id, secret)
        if allowed is None:
            raise MirrorError(
                "session_read_only",
                f"session {session_id!r} takes no mirror (it was imported, or made before "
                "write secrets): mirror into a new one",
            )
        if not allowed:
            raise MirrorError(
                "wrong_secret",
                f"that is not the write secret of session {session_id!r}: send the one its "
                "creation returned",
            )
        return session_id

    def events(self, frame: Mapping[str, Any]) -> Queued:
        """Queue a batch to be stored in one transaction; ack() answers it."""
        if self.session_id is None:
            raise MirrorError("no_session", "send hello before events")
        events = to_events(frame.get("events"))
        rows = [EventRow.of(event) for event in events]
        return Queued(self.session_id, events, self.store.queue_events(self.session_id, rows))

    def audio(self, frame: Mapping[str, Any]) -> dict[str, Any]:
        """Store a frame of recording chunks now (they are few and never folded) and ack the
        highest contiguous chunk seq; else say why not."""
        if self.session_id is None:
            raise MirrorError("no_session", "send hello before audio")
        if not self.recording:
            raise MirrorError(
                "recording_off",
                "this Voice Lab stores no recordings (VOICE_LAB_RECORDING=off): send no audio",
            )
        chunks = to_chunks(frame.get("chunks"))
        try:
            upto = self.store.insert_chunks(self.session_id, chunks)
        except StorageError as exc:
            raise refusal(exc, self.session_id, "audio") from None
        return {"op": "audio_ack", "upto": upto}

    def end(self) -> dict[str, Any]:
        """Mark the session ended: the page closed its mirror, hung up or went away."""
        if self.session_id is None:
            raise MirrorError("no_session", "send hello before end")
        try:
            self.store.end_session(self.session_id)
        except StorageError as exc:
            raise refusal(exc, self.session_id, "end") from None
        return {"op": "ended", "session": self.session_id}

    def ack(self, queued: Queued) -> dict[str, Any]:
        """Once the batch is stored, ack the highest contiguous seq; else say why not."""
        try:
            stored = queued.stored()
        except StorageError as exc:
            return refusal(exc, queued.session_id, "batch").frame()
        self.on_stored()
        if self.on_response_done is not None:
            for event in queued.events:
                if event.type == "response.done" and event.response_id:
                    self.on_response_done(queued.session_id, event.response_id)
        if any(_stops_recording(event) for event in queued.events):
            self.on_recorded(queued.session_id)
        self._unfolded.append((queued, stored))
        return {"op": "ack", "upto": stored.contiguous}

    def fold_stored(self) -> None:
        """Fold the batches acked since the last call into the panels' figures."""
        unfolded, self._unfolded = self._unfolded, []
        for queued, stored in unfolded:
            self._fold(queued, stored)

    def _catch_up(self) -> None:
        """Pick up the session's saved fold and what was stored since; none (the panels fold
        themselves) when that is more than HELLO_FOLDS events or fails."""
        if self.session_id is None:
            return
        try:
            self.fold = panel_state.current(self.store, self.session_id, most=HELLO_FOLDS)
        except Exception:  # the figures are a convenience: never worth the mirror
            logger.exception("panel figures of %s not folded", self.session_id)
            self.fold = None
        self.saved = (self.fold.folded if self.fold else 0, time.monotonic())

    def _fold(self, queued: Queued, stored: Stored) -> None:
        """Fold a stored batch into the panels' figures (again is harmless: a seq folded is not
        folded twice); save them every SAVE_EVERY seconds."""
        if queued.session_id != self.session_id:
            return
        if self.fold is None:  # a rebuild by the panels may have made one to go on from
            if time.monotonic() - self.saved[1] >= SAVE_EVERY:
                self._catch_up()
            return
        # The store keeps the last of a seq sent twice in one batch, and so does the fold.
        batch = {event.seq: event for event in queued.events}
        try:
            for seq in sorted(batch):
                event = batch[seq]
                if event.t is None:  # the store dates it on arrival, and so do the panels
                    event = event._replace(t=time.time() * 1000)
                self.fold.feed(event)
        except Exception:
            logger.exception("panel figures of %s not folded", self.session_id)
            self.fold = None
            return
        if stored.max_seq == self.fold.upto and stored.total != self.fold.folded:
            # A gap below what was folded got filled: fold again from the stored events.
            self.fold, self.saved = None, (0, 0.0)
        elif time.monotonic() - self.saved[1] >= SAVE_EVERY:
            self._save()

    def close(self) -> None:
        """Fold what is acked, and save the panels' figures if they changed since the last
        save."""
        self.fold_stored()
        self._save()

    def _save(self) -> None:
        fold = self.fold
        if fold is None or self.session_id is None or fold.folded == self.saved[0]:
            return
        try:
            panel_state.save(self.store, self.session_id, fold)
        except Exception:  # the panels fold what is missing themselves
            logger.exception("panel figures of %s not saved", self.session_id)
            self.fold = None
            return
        self.saved = (fold.folded, time.monotonic())


def refusal(exc: StorageError, session_id: str, what: str) -> MirrorError:
    """The MirrorError the browser is told for a write the store refused."""
    if isinstance(exc, SessionGone):
        return MirrorError("session_not_found", f"session {session_id!r} was deleted")
    # Locked, disk full, a write refused: not acked, so the browser sends it again.
    return MirrorError("storage_unavailable", f"could not store the {what} ({exc}); send it again")


def _stops_recording(event: Event) -> bool:
    """Whether the event is the page's voicelab.recording stop: the recording is complete."""
    return event.type == RECORDING and dig(event.data, "phase") == "stop"


def _creation(frame: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in frame["create"].items() if k in CREATE_FIELDS}
    if any(not isinstance(v, str | None) for v in fields.values()):
        raise MirrorError("bad_hello", f"create fields ({', '.join(CREATE_FIELDS)}) must be text")
    fields = {k: field_text(v) for k, v in fields.items() if v}
    fields.setdefault("provider", "external")
    return fields

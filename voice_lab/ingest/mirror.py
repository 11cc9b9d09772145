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
from typing import Any, NamedTuple, cast

from ..analysis.aggregates import Aggregates
from ..protocol.codec import MAX_DEPTH, TooDeep, loads, storable
from ..protocol.record import Event, parse_event, row_problem
from ..protocol.redaction import field_text
from ..storage.errors import SessionGone, StorageError
from ..storage.rows import EventRow, Stored
from ..storage.sqlite import Store
from . import panel_state

MAX_FRAME_BYTES = 1024 * 1024
MAX_BATCH_EVENTS = 500
# The frame's own levels (frame, events list, event) above a local event object's MAX_DEPTH.
MAX_FRAME_DEPTH = MAX_DEPTH + 3
# No event limit of its own: an event is at most a frame, and what is stored is never longer
# than its frame (escapes only shrink), so every stored event fits the importer's event limit.
SAVE_EVERY = 10.0  # seconds between saves of a mirrored session's panel figures
HELLO_FOLDS = 5000  # events a hello folds at most to catch the panel figures up
CREATE_FIELDS = ("label", "provider", "model", "protocol", "voice")

logger = logging.getLogger(__name__)


class MirrorError(Exception):
    """A frame we refuse; the connection stays up and the browser is told why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def frame(self) -> dict[str, str]:
        """The error frame sent back."""
        return {"op": "error", "code": self.code, "message": self.message}


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

    def __init__(self, store: Store, on_stored: Callable[[], None] = lambda: None):
        self.store = store
        self.on_stored = on_stored  # tells the dashboard's live tails to look
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
        self._catch_up()
        return {"op": "welcome", "session": self.session_id, "acked": acked, **created}

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

    def ack(self, queued: Queued) -> dict[str, Any]:
        """Once the batch is stored, ack the highest contiguous seq; else say why not."""
        try:
            stored = queued.stored()
        except SessionGone:
            return MirrorError(
                "session_not_found", f"session {queued.session_id!r} was deleted"
            ).frame()
        except StorageError as exc:
            # Locked, disk full, a write refused: not acked, so the browser sends it again.
            return MirrorError(
                "storage_unavailable", f"could not store the batch ({exc}); send it again"
            ).frame()
        self.on_stored()
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
            self.store.save_aggregates(self.session_id, fold.upto, fold.folded, fold.dumps())
        except Exception:  # the panels fold what is missing themselves
            logger.exception("panel figures of %s not saved", self.session_id)
            self.fold = None
            return
        self.saved = (fold.folded, time.monotonic())


def parse_frame(text: str | bytes) -> dict[str, Any]:
    """A frame's JSON object with a known op, or a MirrorError saying what is wrong."""
    size = len(text)
    if isinstance(text, str) and size * 4 > MAX_FRAME_BYTES:  # else it fits however it encodes
        size = len(text.encode())
    if size > MAX_FRAME_BYTES:
        raise MirrorError(
            "frame_too_large",
            f"a frame may hold {MAX_FRAME_BYTES} bytes (got {size}): send smaller batches",
        )
    try:
        frame = loads(text, MAX_FRAME_DEPTH)
    except TooDeep:
        raise MirrorError(
            "too_deep",
            f"a frame may nest {MAX_FRAME_DEPTH} levels (a local event {MAX_DEPTH}): "
            "send data-channel text as a string",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MirrorError("not_json", f"a frame must be JSON text ({exc})") from None
    if not isinstance(frame, dict):
        raise MirrorError("bad_frame", "a frame must be a JSON object with an op")
    if frame.get("op") not in ("hello", "events"):
        raise MirrorError("unknown_op", f"op must be hello or events (got {frame.get('op')!r})")
    return frame


def to_events(events: Any) -> list[Event]:
    """Validate a batch and parse its events: redacted and categorised."""
    if not isinstance(events, list) or not events:
        raise MirrorError("bad_events", '"events" must be a non-empty list')
    if len(events) > MAX_BATCH_EVENTS:
        raise MirrorError(
            "batch_too_large", f"a batch may hold {MAX_BATCH_EVENTS} events (got {len(events)})"
        )
    return [parse_event(*_checked(index, item)) for index, item in enumerate(events)]


def _checked(index: int, item: Any) -> tuple[int, str, float | None, str | dict]:
    """An event of a batch as parse_event's arguments, or a MirrorError saying what is wrong."""
    problem: str | None = "must be an object with seq, dir, t and data"
    if isinstance(item, dict):
        seq, direction, t, data = item.get("seq"), item.get("dir"), item.get("t"), item.get("data")
        problem = row_problem(seq, direction, t)
        if problem is None:  # seq is an int, direction a str and t a number or None
            row = cast(int, seq), cast(str, direction), float(t) if t is not None else None
            if isinstance(data, str):
                return *row, data
            if not isinstance(data, dict):
                problem = "data must be the data-channel text, or a local event object"
            elif str(data.get("type", "")).startswith("voicelab."):
                return *row, data
            else:
                problem = "an object in data must be a local event with a voicelab.* type"
    raise MirrorError("bad_event", f"events[{index}]: {problem}")


def _creation(frame: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in frame["create"].items() if k in CREATE_FIELDS}
    if any(not isinstance(v, str | None) for v in fields.values()):
        raise MirrorError("bad_hello", f"create fields ({', '.join(CREATE_FIELDS)}) must be text")
    fields = {k: field_text(v) for k, v in fields.items() if v}
    fields.setdefault("provider", "external")
    return fields

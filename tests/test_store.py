"""Storage: migrations, idempotent batches, resume points."""

import ast
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from tests.waiting import until
from voice_lab import create_app, storage
from voice_lab.config import ConfigError
from voice_lab.ingest.mirror import Mirror
from voice_lab.storage import migrations
from voice_lab.storage.errors import Conflict, SessionGone, StorageError, Unavailable
from voice_lab.storage.listing import SessionQuery
from voice_lab.storage.migrations import NAMES
from voice_lab.storage.postgres import PostgresStore, PostgresWriter
from voice_lab.storage.rows import AudioChunk, EventRow
from voice_lab.storage.sqlite import SQLiteStore, SQLiteWriter

MIGRATIONS = migrations.scripts("sqlite")
pytestmark = pytest.mark.backends()  # every test with a store runs on each backend
sqlite_only = pytest.mark.backends("sqlite")
postgres_only = pytest.mark.backends("postgresql")


def row(seq: int, category: str = "response") -> EventRow:
    return EventRow(seq, "server", 1000.0 + seq, "response.created", category, "resp_1", None, "{}")


@sqlite_only
def test_migrate_sets_wal_and_version_once(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store.migrate() == len(MIGRATIONS)
    autocheckpoint = store.writer.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert autocheckpoint == SQLiteWriter.WAL_PAGES


def test_batches_are_stored_once(store):
    sid = store.create_session(provider="emulator", label="x")
    assert store.insert_events(sid, [row(1), row(2), row(3, "error")]) == (3, 3, 3, 3)
    assert store.insert_events(sid, [row(2), row(3, "error"), row(4)]) == (1, 4, 4, 4)
    session = store.get_session(sid)
    assert (session["event_count"], session["error_count"], session["max_seq"]) == (4, 1, 4)
    assert session["first_t"] == 1001.0
    assert [r["seq"] for r in store.iter_events(sid, batch=3)] == [1, 2, 3, 4]


def test_contiguous_seq_stops_at_the_first_gap(store):
    sid = store.create_session(provider="emulator")
    assert store.contiguous_seq(sid) == 0
    assert store.insert_events(sid, [row(2), row(3)]).contiguous == 0
    assert store.contiguous_seq(sid) == 0
    assert store.insert_events(sid, [row(1), row(5)]).contiguous == 3
    assert store.contiguous_seq(sid) == 3
    assert store.insert_events(sid, [row(4)]).contiguous == 5
    assert store.contiguous_seq(sid) == 5
    assert store.contiguous_seq("vl_missing") == 0


def test_missing_seqs_are_the_first_gaps_up_to_max_seq(store):
    sid = store.create_session(provider="emulator")
    store.insert_events(sid, [row(1), row(2), row(3)])
    assert store.missing_seqs(sid) == []
    store.insert_events(sid, [row(5), row(9)])
    assert store.missing_seqs(sid) == [4, 6, 7, 8]
    assert store.missing_seqs(sid, limit=2) == [4, 6]
    assert store.missing_seqs("vl_missing") == []


def test_a_batch_is_one_transaction(store):
    sid = store.create_session(provider="emulator")
    bad = EventRow(2, "server", 1.0, "x", None, None, None, "{}")  # category NOT NULL
    with pytest.raises(StorageError, match="(?i)not.null"):
        store.insert_events(sid, [row(1), bad])
    assert store.get_session(sid)["event_count"] == 0
    assert list(store.iter_events(sid)) == []


def test_events_of_unknown_session_refused(store):
    with pytest.raises(SessionGone):
        store.insert_events("vl_nope", [row(1)])


def test_list_search_and_delete(store):
    a = store.create_session(provider="emulator", label="100% done_ok", created_at=1)
    b = store.create_session(provider="emulator", label="other", created_at=2)
    store.insert_events(a, [row(1)])
    assert [s["id"] for s in store.list_sessions()] == [b, a]
    assert [s["id"] for s in store.list_sessions(SessionQuery(search="100%"))] == [a]
    assert store.list_sessions(SessionQuery(search="100_")) == []  # LIKE wildcards match literally
    assert store.delete_session(a) and store.get_session(a) is None
    assert list(store.iter_events(a)) == []


def test_counts_follow_inserts_resends_and_old_databases(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    old.execute("INSERT INTO sessions (id, created_at, provider) VALUES ('s', 0, 'x')")
    old.execute(
        "INSERT INTO events (session_id, seq, direction, received_at, type, category, payload) "
        "VALUES ('s', 1, 'server', 0, 'error', 'error', '{}'), ('s', 2, 'server', 0, NULL, "
        "'unknown', 'hi')"
    )
    old.commit()
    old.close()
    store = SQLiteStore(path)
    store.migrate()
    assert store.category_counts("s") == {"error": 1, "unknown": 1}
    store.insert_events("s", [row(2), row(3), row(4, "error"), row(4)])
    assert store.category_counts("s") == {"error": 1, "unknown": 1, "response": 2}
    assert store.event_types("s") == ["error", "response.created"]
    store.delete_session("s")
    assert store.db.execute("SELECT count(*) FROM event_counts").fetchone()[0] == 0
    store.close()


def test_rows_know_when_their_payload_is_compact_json():
    from voice_lab.protocol.record import parse_event

    assert EventRow.of(parse_event(1, "server", 1.0, '{"type":"a","n":1}')).compact
    assert not EventRow.of(parse_event(2, "server", 1.0, '{"type": "a", "n": 1}')).compact
    assert not EventRow.of(parse_event(3, "server", 1.0, "not json")).compact
    assert EventRow.of(parse_event(4, "local", 1.0, {"type": "voicelab.x"})).compact


def test_compact_is_exact_for_odd_text():
    from voice_lab.protocol.record import parse_event

    def canonical(raw: str) -> bool:  # what exports embed must be json.dumps' compact text
        return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")) == raw

    texts = ['{"type":"a","s":"\\ud800"}', '{"type":"a","x":1.50}', '{"type":"a","s":"é"}']
    events = [parse_event(n, "server", 1.0, text) for n, text in enumerate(texts, 1)]
    events.append(parse_event(9, "local", 1.0, {"type": "voicelab.x", "s": "\ud800"}))
    assert [e.compact for e in events] == [False, False, True, False]
    assert [canonical(e.raw) for e in events[1:3]] == [False, True]


@sqlite_only
def test_a_batch_larger_than_a_statement_takes_goes_in_whole(store):
    sid = store.create_session(provider="emulator")
    # 50 parameters: four rows of eleven columns per statement, so 10 rows take three.
    store.writer.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)
    assert store.insert_events(sid, [row(n) for n in range(1, 11)]) == (10, 10, 10, 10)
    assert [r["seq"] for r in store.iter_events(sid)] == list(range(1, 11))


@sqlite_only
def test_a_batch_above_what_another_process_stored_is_refused_once(store):
    sid = store.create_session(provider="emulator")
    assert store.insert_events(sid, [row(1), row(2)]).contiguous == 2
    other = SQLiteWriter(
        store.path
    )  # another process's writer: this one still thinks seq 2 is the top
    try:
        assert other.insert(sid, [row(3)]).contiguous == 3
    finally:
        other.db.close()
    with pytest.raises(Conflict):  # the mirror says "send it again"
        store.insert_events(sid, [row(3), row(4)])
    assert store.insert_events(sid, [row(3), row(4)]) == (1, 4, 4, 4)
    assert [r["seq"] for r in store.iter_events(sid)] == [1, 2, 3, 4]


def test_a_group_interrupted_before_its_write_fails_its_batches(store, monkeypatch):
    sid = store.create_session(provider="emulator")
    writer = store.writer
    first, second = writer.submit(sid, [row(1)]), writer.submit(sid, [row(2)])

    def interrupted(group):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.wait(first)
    with pytest.raises(RuntimeError, match="not written"):  # at once: nobody writes it again
        writer.wait(second)
    monkeypatch.undo()
    assert store.insert_events(sid, [row(1), row(2)]) == (2, 2, 2, 2)


def test_batches_queued_together_fail_alone(store):
    sid = store.create_session(provider="emulator")
    other = store.create_session(provider="emulator")
    bad = EventRow(3, "server", 1.0, "x", None, None, None, "{}")  # category NOT NULL
    first = store.queue_events(sid, [row(1), row(2)])
    refused = store.queue_events(other, [row(1), bad])
    last = store.queue_events(sid, [row(3), row(2)])
    assert first()[:2] == (2, 2)  # writes all three: one group, one commit
    assert last()[:2] == (1, 3)
    with pytest.raises(StorageError, match="(?i)not.null"):
        refused()
    with pytest.raises(StorageError, match="(?i)not.null"):  # asked again, the same answer
        refused()
    assert store.get_session(other)["event_count"] == 0
    assert [r["seq"] for r in store.iter_events(sid)] == [1, 2, 3]


def test_sessions_from_before_write_secrets_take_no_mirror(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    old.execute("INSERT INTO sessions (id, created_at, provider) VALUES ('s', 0, 'x')")
    old.commit()
    old.close()
    store = SQLiteStore(path)
    store.migrate()
    mirror = Mirror(store)
    reply = mirror.handle(json.dumps({"op": "hello", "session": "s", "secret": "vlw_guess"}))
    assert reply["code"] == "session_read_only"
    assert mirror.handle(json.dumps({"op": "events", "events": []}))["code"] == "no_session"
    made, secret = store.create_writable_session(provider="x")
    assert store.write_allowed(made, secret) and store.write_allowed("s", secret) is None
    store.close()


@sqlite_only
def test_a_database_locked_past_the_wait_is_unavailable(store):
    sid = store.create_session(provider="emulator")
    store.writer.db.execute("PRAGMA busy_timeout = 50")  # the store waits 10 s: no need here
    locker = sqlite3.connect(store.path, isolation_level=None)  # as another process would
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Unavailable, match="locked"):
            store.insert_events(sid, [row(1)])
        with pytest.raises(Unavailable, match="locked"):
            store.end_session(sid)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert store.insert_events(sid, [row(1)]).contiguous == 1


def test_a_database_that_cannot_be_opened_is_unavailable(tmp_path):
    with pytest.raises(Unavailable, match="unable to open"):
        SQLiteStore(tmp_path / "no such folder" / "store.sqlite3")


@sqlite_only
def test_a_save_that_would_wait_for_another_write_is_unavailable(store):
    sid = store.create_session(provider="emulator")
    with store.writer.lock, pytest.raises(Unavailable, match="under way"):  # a write under way
        store.save_aggregates(sid, 1, 1, "{}", wait=False)
    assert store.load_aggregates(sid) is None


def test_a_session_deleted_under_a_write_is_gone(store):
    sid = store.create_session(provider="emulator")
    queued = store.queue_events(sid, [row(1)])
    assert store.delete_session(sid)  # before the queued batch is written
    with pytest.raises(SessionGone, match="(?i)foreign key"):
        queued()


def test_an_import_under_a_stored_id_is_a_conflict(store):
    sid = store.create_session(provider="emulator")
    with pytest.raises(Conflict):
        store.import_session({"id": sid}, [row(1)])
    assert store.get_session(sid)["provider"] == "emulator" and store.contiguous_seq(sid) == 0


def test_a_database_the_old_layout_made_opens_unchanged(tmp_path):
    # Before the migrations had names, the same scripts ran from files beside the store, each
    # counted in user_version: a database at the last version must open as it is.
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS, start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    old.execute("INSERT INTO sessions (id, created_at, provider) VALUES ('s', 0, 'x')")
    old.commit()
    schema = old.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    old.close()
    store = SQLiteStore(path)
    assert store.migrate() == len(NAMES) == len(MIGRATIONS)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(NAMES)
    now = store.db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")
    assert [tuple(r) for r in now] == schema
    assert store.get_session("s")["provider"] == "x"
    store.close()


def test_a_database_before_replays_gains_an_empty_replay_of(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:7], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    old.execute("INSERT INTO sessions (id, created_at, provider) VALUES ('s', 0, 'x')")
    old.commit()
    old.close()
    store = SQLiteStore(path)
    assert store.migrate() == len(NAMES)
    assert store.get_session("s")["replay_of"] is None
    replay = store.create_session(provider="emulator", replay_of="s")
    assert store.get_session(replay)["replay_of"] == "s"
    store.close()


def test_migrations_are_named_in_the_order_they_run():
    numbers = [int(name.split("_")[0]) for name in NAMES]
    assert numbers == sorted(set(numbers))  # they only grow: none runs before an older one
    files = resources.files(migrations).joinpath("sqlite").iterdir()
    assert sorted(f.name for f in files if f.name.endswith(".sql")) == [f"{n}.sql" for n in NAMES]


def test_nothing_outside_storage_imports_sqlite3():
    package = Path(__file__).resolve().parent.parent / "voice_lab"
    importers = []
    for path in package.rglob("*.py"):
        if "storage" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "sqlite3" for name in names):
                importers.append(str(path.relative_to(package)))
    assert importers == [], "only voice_lab/storage/ speaks to sqlite3"


def test_the_database_setting_picks_the_backend(tmp_path):
    app = create_app({"VOICE_LAB_DATABASE": str(tmp_path / "picked.sqlite3"), "TESTING": True})
    assert storage.backend(app) is SQLiteStore
    store = storage.open_store(app)
    try:
        assert type(store) is SQLiteStore and store.path == str(tmp_path / "picked.sqlite3")
    finally:
        store.close()


def test_a_database_no_backend_takes_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a path read from the setting would have been made
    with pytest.raises(ConfigError, match="VOICE_LAB_DATABASE: no storage backend for mysql"):
        create_app({"VOICE_LAB_DATABASE": "mysql://db.example/voice_lab", "TESTING": True})
    assert list(tmp_path.iterdir()) == []


def chunk(seq: int) -> AudioChunk:
    return AudioChunk(seq, 1000.0 + seq, bytes([seq % 256]) * (100 + seq))


def test_recording_chunks_are_stored_once_in_seq_order(store):
    sid = store.create_session(provider="emulator")
    assert store.recording_info(sid) is None and store.audio_contiguous(sid) == 0
    assert store.insert_chunks(sid, [chunk(2), chunk(1)]) == 2
    assert store.insert_chunks(sid, [chunk(2), chunk(4)]) == 2  # 3 is missing
    assert store.audio_contiguous(sid) == 2
    assert store.insert_chunks(sid, [chunk(3)]) == 4
    assert list(store.recording_chunks(sid, batch=3)) == [chunk(n).data for n in (1, 2, 3, 4)]
    assert store.recording_info(sid) == {
        "chunks": 4,
        "bytes": sum(len(chunk(n).data) for n in (1, 2, 3, 4)),
        "first_t": 1001.0,
        "contiguous": 4,
    }
    assert store.contiguous_seq(sid) == 0  # the events' sequence is another one


def test_a_resent_chunk_keeps_what_was_stored_first(store):
    sid = store.create_session(provider="emulator")
    store.insert_chunks(sid, [AudioChunk(1, 1.0, b"first")])
    assert store.insert_chunks(sid, [AudioChunk(1, 2.0, b"again")]) == 1
    assert list(store.recording_chunks(sid)) == [b"first"]


def test_deleting_a_session_deletes_its_recording(store):
    sid, other = store.create_session(provider="x"), store.create_session(provider="x")
    store.insert_chunks(sid, [chunk(1), chunk(2)])
    store.insert_chunks(other, [chunk(1)])
    assert store.delete_session(sid)
    left = store.db.execute("SELECT session_id, count(*) FROM recording_chunks GROUP BY 1")
    assert [tuple(r) for r in left] == [(other, 1)]
    assert store.recording_info(sid) is None


def test_chunks_of_a_session_that_is_gone_are_refused(store):
    with pytest.raises(SessionGone):
        store.insert_chunks("vl_missing", [chunk(1)])


def test_migrating_again_changes_nothing(store):
    assert store.version() == len(NAMES)
    assert store.migrate() == store.version() == len(NAMES)


def test_every_dialect_has_each_migration():
    for dialect in ("sqlite", "postgres"):
        files = resources.files(migrations).joinpath(dialect).iterdir()
        assert sorted(f.name for f in files) == [f"{n}.sql" for n in NAMES], dialect


@postgres_only
def test_rows_another_worker_stored_are_stored_once(store):
    sid = store.create_session(provider="emulator")
    assert store.insert_events(sid, [row(1), row(2)]).contiguous == 2
    other = PostgresWriter(store.url)  # another worker's writer, on its own connection
    try:
        assert other.insert(sid, [row(3)]).contiguous == 3
    finally:
        other.close()
    assert store.insert_events(sid, [row(3), row(4, "error")]) == (1, 4, 4, 4)
    session = store.get_session(sid)
    assert (session["event_count"], session["error_count"]) == (4, 1)
    assert store.category_counts(sid) == {"response": 3, "error": 1}


@postgres_only
def test_workers_writing_the_same_seqs_at_once_store_each_once(store):
    sid = store.create_session(provider="emulator")
    writers = [PostgresWriter(store.url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(writers)) as pool:
            done = [
                pool.submit(writer.insert, sid, [row(n) for n in range(start, start + 50)])
                for start in range(1, 201, 25)
                for writer in writers
            ]
            assert sum(future.result().new for future in done) == 225
    finally:
        for writer in writers:
            writer.close()
    assert [r["seq"] for r in store.iter_events(sid)] == list(range(1, 226))
    assert store.get_session(sid)["event_count"] == 225 == store.category_counts(sid)["response"]


@postgres_only
def test_a_group_that_meets_another_worker_s_rows_waits_its_turn_and_never_deadlocks(store):
    # One worker's group has stored seqs 1-2 and is about to store 3-4 when another worker,
    # storing 3-4 too (a page that moved to it and resent), starts: that one must wait for the
    # session before writing anything, or each would wait on the other.
    sid = store.create_session(provider="emulator")
    first, second = PostgresWriter(store.url), PostgresWriter(store.url)
    try:
        db = first.db
        db.execute("BEGIN")
        if first.LOCK_SESSIONS:
            db.execute(first.LOCK_SESSIONS, ([sid],))
        first.insert_batch(db, sid, [row(1), row(2)])
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(second.insert, sid, [row(3), row(4)])
            until(lambda: _waits_on_a_lock(store, second), "the second worker waiting")
            assert first.insert_batch(db, sid, [row(3), row(4)]).new == 2
            db.execute("COMMIT")
            assert later.result(timeout=30).new == 0  # whichever stored a seq first keeps it
    finally:
        first.close()
        second.close()
    assert [r["seq"] for r in store.iter_events(sid)] == [1, 2, 3, 4]


def _waits_on_a_lock(store, writer: PostgresWriter) -> bool:
    """Whether the writer's connection is waiting for a lock."""
    pid = writer.db.info.backend_pid
    with psycopg.connect(store.url) as db:
        found = db.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
    return found is not None and found[0] == "Lock"


@postgres_only
def test_a_save_that_would_wait_for_a_locked_row_is_unavailable(store):
    sid = store.create_session(provider="emulator")
    store.save_aggregates(sid, 1, 1, "{}")
    with psycopg.connect(store.url) as other:  # a transaction of another worker, left open
        other.execute("SELECT 1 FROM panel_states WHERE session_id = %s FOR UPDATE", (sid,))
        with pytest.raises(Unavailable, match="lock"):
            store.save_aggregates(sid, 2, 2, "{}", wait=False)
    assert store.load_aggregates(sid) == (1, 1, "{}")


def test_a_postgresql_server_that_cannot_be_reached_is_unavailable(tmp_path):
    with pytest.raises(Unavailable, match="PostgreSQL"):  # no server listens in tmp_path
        PostgresStore(f"postgresql://nobody@/voice_lab?host={tmp_path}")


def test_a_postgresql_url_picks_postgresql_and_a_sqlite_url_sqlite(tmp_path):
    app = Flask(__name__, instance_path=str(tmp_path))
    app.config["VOICE_LAB_DATABASE"] = "postgresql://team@db.example/voice_lab"
    assert storage.backend(app) is PostgresStore
    assert storage.database(app) == "postgresql://team@db.example/voice_lab"
    assert storage.database_path(app) == tmp_path / "postgresql"  # the recordings' cache
    app.config["VOICE_LAB_DATABASE"] = f"sqlite:///{tmp_path}/picked.sqlite3"
    assert storage.backend(app) is SQLiteStore
    assert storage.database(app) == str(tmp_path / "picked.sqlite3")
    app.config["VOICE_LAB_DATABASE"] = "sqlite://picked.sqlite3"
    with pytest.raises(ConfigError, match="sqlite:///PATH"):
        storage.backend(app)

"""The bundle: export -> import gives the same audio and the same events, through the store, the
routes and the command line; and every bundle we refuse, with why."""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import zipfile

import av
import pytest

from tests.recordings import T0, recorder_chunks, stereo
from tests.stores import plain_session
from voice_lab.analysis.recording import remux
from voice_lab.exchange.bundle import (
    MAX_BUNDLE_BYTES,
    MAX_RECORDING_BYTES,
    bundle_chunks,
    read_import,
)
from voice_lab.exchange.export import export_chunks
from voice_lab.exchange.reader import MAX_FILE_BYTES, ImportRefused
from voice_lab.protocol.record import parse_event
from voice_lab.storage import open_store
from voice_lab.storage.rows import MAX_CHUNK_BYTES, AudioChunk, EventRow

pytestmark = pytest.mark.backends()  # the app on each storage backend

EVENTS = [
    ("local", {"type": "voicelab.recording", "phase": "start", "t0": T0, "channels": 2}),
    ("server", '{"type":"input_audio_buffer.speech_started","audio_start_ms":500}'),
    ("server", '{"type":"output_audio_buffer.started","response_id":"resp_1"}'),
    ("local", {"type": "voicelab.recording", "phase": "stop", "chunks": 4}),
]


def recorded_session(store) -> str:
    """A session with a few events and a three-second stereo recording in its chunks."""
    session_id = store.create_session(provider="emulator", label="recorded")
    rows = [
        EventRow.of(parse_event(seq, direction, T0 + 100 * seq, data))
        for seq, (direction, data) in enumerate(EVENTS, start=1)
    ]
    store.insert_events(session_id, rows)
    samples = stereo(3.0, user=[(0.5, 1.4)], model=[(1.8, 2.6)])
    chunks = [
        AudioChunk(seq, T0 + 1000.25 * seq, data)
        for seq, data in enumerate(recorder_chunks(samples), start=1)
    ]
    store.insert_chunks(session_id, chunks)
    return session_id


def bundle_of(store, session_id: str) -> bytes:
    """The session's bundle, as the routes and the command line write it."""
    session = store.get_session(session_id)
    pieces = bundle_chunks(session, store.export_rows(session_id), store.audio_chunks(session_id))
    return b"".join(pieces)


def export_of(store, session_id: str) -> bytes:
    """The session's plain JSON export."""
    text = "".join(export_chunks(store.get_session(session_id), store.export_rows(session_id)))
    return text.encode()


def sha(chunks) -> str:
    """The hash of chunks concatenated."""
    return hashlib.sha256(b"".join(chunks)).hexdigest()


def packets(path) -> str:
    """The hash of a media file's audio packets and their times: what it plays."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.audio[0]):
            if packet.dts is not None:
                digest.update(f"{packet.pts}:{packet.duration}:".encode() + bytes(packet))
    return digest.hexdigest()


def same_moment(document: bytes) -> bytes:
    """An export with its exported_at blanked, so two made seconds apart compare."""
    return re.sub(rb'"exported_at": "[^"]*"', b'"exported_at": ""', document, count=1)


def test_bundle_export_import_gives_the_same_audio_and_events(store, tmp_path):
    first = recorded_session(store)
    bundle = bundle_of(store, first)
    members = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    assert members == ["session.json", "recording.webm", "recording.json"]
    session_json = zipfile.ZipFile(io.BytesIO(bundle)).read("session.json")
    assert same_moment(session_json) == same_moment(export_of(store, first))

    imported = read_import(bundle, "call.zip")
    again = store.import_session(*imported)
    assert list(store.audio_chunks(again)) == list(store.audio_chunks(first))  # seq, t, bytes
    assert sha(store.recording_chunks(again)) == sha(store.recording_chunks(first))
    # remux writes random Matroska UIDs, so its files are compared by what they play.
    made = [remux(store.recording_chunks(s), tmp_path / f"{s}.webm") for s in (first, again)]
    assert made[0] == made[1] and made[0].seekable
    assert packets(tmp_path / f"{first}.webm") == packets(tmp_path / f"{again}.webm")
    assert store.get_session(again)["origin"] == "imported"
    # The events part of the JSON is byte-stable through the bundle, and so is the audio.
    second = zipfile.ZipFile(io.BytesIO(bundle_of(store, again)))
    events = session_json.split(b'"events": [')[1]
    assert second.read("session.json").split(b'"events": [')[1] == events
    assert second.read("recording.webm") == b"".join(store.recording_chunks(first))


def test_a_gap_in_the_recording_is_kept(store):
    session_id = store.create_session(provider="emulator")
    store.insert_events(session_id, [EventRow.of(parse_event(1, "server", 1.0, "{}"))])
    store.insert_chunks(session_id, [AudioChunk(1, 1.0, b"a"), AudioChunk(3, 3.0, b"ccc")])
    again = store.import_session(*read_import(bundle_of(store, session_id), "gap.zip"))
    assert list(store.audio_chunks(again)) == [(1, 1.0, b"a"), (3, 3.0, b"ccc")]


def test_a_session_without_a_recording_bundles_its_json_alone(store):
    session_id = store.create_session(provider="emulator")
    store.insert_events(session_id, [EventRow.of(parse_event(1, "server", 1.0, "{}"))])
    bundle = bundle_of(store, session_id)
    assert zipfile.ZipFile(io.BytesIO(bundle)).namelist() == ["session.json"]
    imported = read_import(bundle, "quiet.zip")
    assert imported.chunks == [] and len(imported.rows) == 1


def zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP of the members, in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


SESSION = json.dumps(
    {
        "format": "voice-lab.session",
        "version": 1,
        "session": {"label": "x"},
        "events": [{"seq": 1, "dir": "server", "t": 1.0, "event": {"type": "a"}}],
    }
).encode()


def listing(*chunks: dict) -> bytes:
    """A recording.json listing the chunks."""
    return json.dumps({"format": "voice-lab.recording", "version": 1, "chunks": chunks}).encode()


def chunk(seq, t=1.0, length=2) -> dict:
    """One entry of a recording.json."""
    return {"seq": seq, "t": t, "bytes": length}


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ({"recording.webm": b"ab", "recording.json": listing(chunk(1))}, "has no session.json"),
        ({"session.json": SESSION, "recording.webm": b"ab"}, "has no recording.json"),
        ({"session.json": SESSION, "recording.json": listing(chunk(1))}, "has no recording.webm"),
        ({"session.json": SESSION, "notes.txt": b"hi"}, "notes.txt is not a member"),
        (
            {
                "session.json": SESSION,
                "recording.webm": b"abab",
                "recording.json": listing(chunk(2), chunk(1)),
            },
            "chunk 2 has seq 1 after seq 2",
        ),
        (
            {
                "session.json": SESSION,
                "recording.webm": b"abab",
                "recording.json": listing(chunk(1), chunk(1)),
            },
            "chunk 2 has seq 1 after seq 1",
        ),
        (
            {
                "session.json": SESSION,
                "recording.webm": b"abc",
                "recording.json": listing(chunk(1)),
            },
            "holds 3 bytes and the chunks of recording.json add up to 2",
        ),
        (
            {
                "session.json": SESSION,
                "recording.webm": b"ab",
                "recording.json": listing(chunk(1, length=MAX_CHUNK_BYTES + 1)),
            },
            f"a chunk may hold {MAX_CHUNK_BYTES} bytes",
        ),
        (
            {
                "session.json": SESSION,
                "recording.webm": b"ab",
                "recording.json": listing(chunk(1, t=None)),
            },
            "t must be milliseconds",
        ),
        (
            {"session.json": SESSION, "recording.webm": b"ab", "recording.json": listing()},
            '"chunks" must be a non-empty list',
        ),
        (
            {"session.json": SESSION, "recording.webm": b"ab", "recording.json": b"{"},
            "recording.json: not valid JSON",
        ),
        ({"session.json": b"{nope"}, "session.json: not valid JSON"),
    ],
)
def test_bundles_are_refused_with_a_reason(members, fragment):
    with pytest.raises(ImportRefused) as info:
        read_import(zipped(members), "bad.zip")
    assert fragment in str(info.value)


def test_a_bundle_too_large_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.zip"
    with open(path, "wb") as file:
        file.write(b"PK\x03\x04")
        file.truncate(MAX_BUNDLE_BYTES + 1)  # sparse: nothing is written past the magic
    with open(path, "rb") as file, pytest.raises(ImportRefused, match="limit for a bundle"):
        read_import(file, "huge.zip")


def test_a_zip_bomb_is_refused_by_its_declared_size():
    # Zeros past the recording's limit, deflated to a small fraction of it.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
        bundle.writestr("session.json", SESSION)
        with bundle.open("recording.webm", "w", force_zip64=True) as member:
            block = bytes(1024 * 1024)
            for _ in range(MAX_RECORDING_BYTES // len(block) + 1):
                member.write(block)
    assert len(buffer.getvalue()) < MAX_FILE_BYTES
    with pytest.raises(ImportRefused, match=f"unpacks to .* the limit is {MAX_RECORDING_BYTES}"):
        read_import(buffer.getvalue(), "bomb.zip")


def test_a_member_that_unpacks_past_its_declared_size_is_refused():
    data = bytearray(zipped({"session.json": SESSION + b" " * 10_000}))
    # Declare 100 bytes in both headers: zipfile stops there and finds the CRC wrong.
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 100)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)
    with pytest.raises(ImportRefused, match="damaged ZIP"):
        read_import(bytes(data), "liar.zip")


def test_not_a_zip_after_its_magic_is_refused():
    with pytest.raises(ImportRefused, match="damaged ZIP"):
        read_import(b"PK\x03\x04 and then nothing of a zip", "odd.zip")


def test_the_routes_export_a_bundle_and_the_form_imports_it(app, client, csrf):
    store = open_store(app)
    try:
        first = recorded_session(store)
        page = client.get(f"/sessions/{first}").get_data(as_text=True)
        assert 'data-testid="export-bundle"' in page
        response = client.get(f"/sessions/{first}/export.zip")
        assert response.status_code == 200 and response.mimetype == "application/zip"
        assert f'filename="voice-lab-{first}.zip"' in response.headers["Content-Disposition"]
        bundle = response.get_data()
        upload = {"file": (io.BytesIO(bundle), "call.zip"), "csrf_token": csrf}
        imported = client.post("/import", data=upload)
        assert imported.status_code == 303, imported.get_data(as_text=True)
        again = imported.headers["Location"].rsplit("/", 1)[-1]
        assert sha(store.recording_chunks(again)) == sha(store.recording_chunks(first))
        refused = client.post(
            "/import", data={"file": (io.BytesIO(bundle[:-30]), "cut.zip"), "csrf_token": csrf}
        )
        assert refused.status_code == 400 and "damaged ZIP" in refused.get_data(as_text=True)
        assert client.get("/sessions/vl_nope/export.zip").status_code == 404
    finally:
        store.close()


def test_no_bundle_button_without_a_recording(app, client):
    session_id = plain_session(app)
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="export"' in page and "export-bundle" not in page


def test_cli_bundle_round_trip(app, runner, tmp_path):
    store = open_store(app)
    try:
        first = recorded_session(store)
        path = tmp_path / "call.zip"
        exported = runner.invoke(args=["export", first, "--bundle", "-o", str(path)])
        assert exported.exit_code == 0, exported.output
        result = runner.invoke(args=["import", str(path), "--label", "again"])
        assert result.exit_code == 0, result.output
        assert "and 4 recording chunks" in result.output
        again = result.output.strip().rsplit(" ", 1)[-1]
        assert list(store.audio_chunks(again)) == list(store.audio_chunks(first))
        assert store.get_session(again)["label"] == "again"
        path.write_bytes(b"PK\x03\x04broken")
        refused = runner.invoke(args=["import", str(path)])
        assert refused.exit_code == 1 and "damaged ZIP" in refused.output
    finally:
        store.close()

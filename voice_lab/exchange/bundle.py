"""A session's bundle: one ZIP holding its JSON export and its recording, written as a stream and
read back with every size bounded before and while it is read.

The members: `session.json`, the plain export byte for byte; and, when the session has a
recording, `recording.webm`, its chunks exactly as the page's MediaRecorder handed them over,
concatenated (a WebM any player opens, though without seeking), and `recording.json`, each
chunk's seq, t and length. The raw chunks, not a remuxed file: import then stores the very rows
the mirror stored (seqs, times and bytes, gaps included), so a bundle's round trip gives the
same audio to the byte, and the seekable file is made from them as for a recorded call.
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, BinaryIO, NamedTuple, cast

from ..protocol.codec import loads
from ..protocol.record import row_problem
from ..storage.rows import MAX_CHUNK_BYTES, AudioChunk, EventRow, ExportRow
from .export import export_chunks
from .imports import parse_import
from .reader import MAX_FILE_BYTES, ImportRefused

MAGIC = b"PK\x03\x04"  # a ZIP's first local file header: how an upload is known as a bundle
SESSION_MEMBER = "session.json"
AUDIO_MEMBER = "recording.webm"
CHUNKS_MEMBER = "recording.json"
RECORDING_FORMAT = "voice-lab.recording"
RECORDING_VERSION = 1

# An hour's call at 64 kbps is about 29 MB in 3,600 chunks: these bound a recording at several
# hours, so an import holds at most this much audio until its one transaction.
MAX_RECORDING_BYTES = 256 * 1024 * 1024
MAX_CHUNKS = 50_000
MAX_CHUNKS_BYTES = 100 * MAX_CHUNKS  # a line of recording.json is about 60 bytes
# The JSON export is deflated, the audio stored: a bundle is never larger than its members.
MAX_BUNDLE_BYTES = MAX_FILE_BYTES + MAX_RECORDING_BYTES + MAX_CHUNKS_BYTES
# What each member may declare it holds; zipfile stops reading a member at its declared size
# and checks its CRC there, so a member cannot unpack to more than this (a zip bomb).
MEMBER_LIMITS = {
    SESSION_MEMBER: MAX_FILE_BYTES,
    AUDIO_MEMBER: MAX_RECORDING_BYTES,
    CHUNKS_MEMBER: MAX_CHUNKS_BYTES,
}


class Imported(NamedTuple):
    """What an import stores: the session's fields, its event rows and its recording's chunks."""

    fields: dict[str, Any]
    rows: list[EventRow]
    chunks: list[AudioChunk]


class _Spout:
    """A write-only file that holds what was written until it is drained: zipfile writes a
    stream to it (with data descriptors, as it cannot seek), and a response sends each piece."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def write(self, data: bytes) -> int:
        """Keep a piece; zipfile counts on the length back."""
        self.pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: drain() hands the pieces over."""

    def drain(self) -> bytes:
        """What was written since the last drain."""
        data, self.pieces = b"".join(self.pieces), []
        return data


def bundle_chunks(
    session: Mapping[str, Any], rows: Iterable[ExportRow], chunks: Iterable[AudioChunk]
) -> Iterator[bytes]:
    """The bundle in pieces as it is written, so memory stays flat for an hour of audio. `rows`
    come from Store.export_rows, `chunks` from Store.audio_chunks (in seq order)."""
    spout = _Spout()
    with zipfile.ZipFile(cast(IO[bytes], spout), "w") as bundle:
        with _member(bundle, SESSION_MEMBER, zipfile.ZIP_DEFLATED) as member:
            for text in export_chunks(session, rows):
                member.write(text.encode())
                yield spout.drain()
        chunks = iter(chunks)
        first = next(chunks, None)
        if first is not None:
            lines = []
            # Opus does not deflate: stored, the audio costs no CPU and stays byte-addressable.
            with _member(bundle, AUDIO_MEMBER, zipfile.ZIP_STORED) as member:
                for seq, t, data in itertools.chain((first,), chunks):
                    member.write(data)
                    lines.append(json.dumps({"seq": seq, "t": t, "bytes": len(data)}))
                    yield spout.drain()
            with _member(bundle, CHUNKS_MEMBER, zipfile.ZIP_DEFLATED) as member:
                head = {"format": RECORDING_FORMAT, "version": RECORDING_VERSION}
                member.write(
                    (
                        json.dumps(head)[:-1] + ', "chunks": [\n' + ",\n".join(lines) + "\n]}\n"
                    ).encode()
                )
    yield spout.drain()


def _member(bundle: zipfile.ZipFile, name: str, compression: int) -> IO[bytes]:
    """A member opened for writing as a stream (its size unknown, so ZIP64 from the start)."""
    info = zipfile.ZipInfo(name)  # dated 1980: a bundle's bytes follow from its contents
    info.compress_type = compression
    return bundle.open(info, "w", force_zip64=True)


def read_import(source: bytes | BinaryIO, name: str = "upload") -> Imported:
    """What an upload imports: a bundle (known by its magic bytes) or any file parse_import
    reads. A file must be seekable (uploads and open files are); ImportRefused says what is
    wrong."""
    file = io.BytesIO(source) if isinstance(source, bytes) else source
    head = file.read(len(MAGIC))
    file.seek(0)
    if head == MAGIC:
        return read_bundle(file, name)
    fields, rows = parse_import(file, name)
    return Imported(fields, rows, [])


def read_bundle(file: BinaryIO, name: str) -> Imported:
    """A bundle's session, events and chunks, every size bounded, or ImportRefused."""
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    if size > MAX_BUNDLE_BYTES:
        raise ImportRefused(
            f"{name} is over {MAX_BUNDLE_BYTES} bytes, and the limit for a bundle is "
            f"{MAX_BUNDLE_BYTES}: export a shorter call"
        )
    try:
        with zipfile.ZipFile(file) as bundle:
            members = _members(bundle, name)
            with bundle.open(members[SESSION_MEMBER]) as member:
                fields, rows = parse_import(cast(BinaryIO, member), f"{name}: {SESSION_MEMBER}")
            chunks = _recording(bundle, members, name) if AUDIO_MEMBER in members else []
    except zipfile.BadZipFile as exc:
        raise ImportRefused(f"{name} is a damaged ZIP ({exc}): export the bundle again") from None
    return Imported(fields, rows, chunks)


def _members(bundle: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    """The bundle's members by name, each checked against its limit before anything is read."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in bundle.infolist():
        where = f"{name}: {info.filename}"
        if info.filename not in MEMBER_LIMITS:
            raise ImportRefused(
                f"{where} is not a member of a bundle, which holds {SESSION_MEMBER}, and "
                f"{AUDIO_MEMBER} with {CHUNKS_MEMBER}: import a bundle Voice Lab exported"
            )
        if info.filename in members:
            raise ImportRefused(f"{where} appears twice: export the bundle again")
        if info.flag_bits & 0x1:
            raise ImportRefused(f"{where} is encrypted: zip it again without a password")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ImportRefused(
                f"{where} is compressed with method {info.compress_type}: store or deflate it"
            )
        if info.file_size > MEMBER_LIMITS[info.filename]:
            raise ImportRefused(
                f"{where} unpacks to {info.file_size} bytes, and the limit is "
                f"{MEMBER_LIMITS[info.filename]}: export a shorter call"
            )
        members[info.filename] = info
    missing = [m for m in (SESSION_MEMBER, AUDIO_MEMBER, CHUNKS_MEMBER) if m not in members]
    if SESSION_MEMBER in missing or len(missing) == 1:
        raise ImportRefused(
            f"{name} has no {missing[0]}: a bundle holds {SESSION_MEMBER}, and "
            f"{AUDIO_MEMBER} with {CHUNKS_MEMBER} when the session has a recording"
        )
    return members


def _recording(
    bundle: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], name: str
) -> list[AudioChunk]:
    """The chunks recording.json lists, cut from recording.webm in its order."""
    listed = _listed_chunks(bundle, members[CHUNKS_MEMBER], f"{name}: {CHUNKS_MEMBER}")
    audio = members[AUDIO_MEMBER]
    total = sum(length for _, _, length in listed)
    if audio.file_size != total:
        raise ImportRefused(
            f"{name}: {AUDIO_MEMBER} holds {audio.file_size} bytes and the chunks of "
            f"{CHUNKS_MEMBER} add up to {total}: export the bundle again"
        )
    chunks = []
    with bundle.open(audio) as member:
        for seq, t, length in listed:
            # Read to the declared size: zipfile checks the CRC when the last byte is read.
            chunks.append(AudioChunk(seq, t, member.read(length)))
    return chunks


def _listed_chunks(
    bundle: zipfile.ZipFile, info: zipfile.ZipInfo, where: str
) -> list[tuple[int, float, int]]:
    """recording.json's chunks as (seq, t, length), each checked, in strictly rising seqs."""
    with bundle.open(info) as member:
        data = member.read(MAX_CHUNKS_BYTES + 1)
    try:
        document = loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != RECORDING_FORMAT:
        raise ImportRefused(f'{where}: expected {{"format": "{RECORDING_FORMAT}", ...}}')
    if document.get("version") != RECORDING_VERSION:
        raise ImportRefused(
            f"{where}: version {document.get('version')!r} of {RECORDING_FORMAT} is not "
            f"supported (this Voice Lab reads version {RECORDING_VERSION})"
        )
    items = document.get("chunks")
    if not isinstance(items, list) or not items:
        raise ImportRefused(f'{where}: "chunks" must be a non-empty list')
    if len(items) > MAX_CHUNKS:
        raise ImportRefused(f"{where}: more than {MAX_CHUNKS} chunks")
    listed: list[tuple[int, float, int]] = []
    for index, item in enumerate(items):
        seq, t, length = _checked_chunk(item, f"{where}: chunk {index + 1}")
        if listed and seq <= listed[-1][0]:
            raise ImportRefused(
                f"{where}: chunk {index + 1} has seq {seq} after seq {listed[-1][0]}: chunks "
                "are listed in rising seq order, each once"
            )
        listed.append((seq, t, length))
    return listed


def _checked_chunk(item: Any, where: str) -> tuple[int, float, int]:
    """One listed chunk's seq, t and length, or ImportRefused saying what is wrong."""
    if not isinstance(item, dict):
        raise ImportRefused(f'{where}: expected {{"seq", "t", "bytes"}}')
    seq: Any = item.get("seq")
    t: Any = item.get("t")
    length: Any = item.get("bytes")
    # A chunk's seq and t follow an event row's rules, except that t is always known.
    problem = row_problem(seq, "local", t) or (
        "t must be milliseconds since the epoch" if t is None else None
    )
    if problem is None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
        problem = "bytes must be a whole number of bytes, at least 1"
    if problem is None and length > MAX_CHUNK_BYTES:
        problem = f"a chunk may hold {MAX_CHUNK_BYTES} bytes (got {length})"
    if problem is not None:
        raise ImportRefused(f"{where}: {problem}")
    return seq, float(t), length

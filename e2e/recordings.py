"""What the store holds of a call's recording, for the fault tests' "no chunk lost"."""

from __future__ import annotations

import json
from pathlib import Path

from voice_lab.storage.sqlite import SQLiteStore


def assert_every_chunk_stored_once(database: str | Path, session_id: str) -> int:
    """Assert the session's stored chunks are seqs 1..N with N the count the page's recorder
    made (its voicelab.recording stop event), and no gap was recorded; returns N."""
    store = SQLiteStore(database)
    try:
        info = store.recording_info(session_id)
        phases = [
            json.loads(row["payload"])
            for row in store.iter_events(session_id)
            if row["type"] == "voicelab.recording"
        ]
    finally:
        store.close()
    assert info is not None, "no recording stored"
    assert [p["phase"] for p in phases] == ["start", "stop"], phases
    # Each (session, seq) is stored once (the key), so count == contiguous means 1..N exactly.
    assert info["chunks"] == info["contiguous"] == phases[1]["chunks"], (info, phases)
    return info["chunks"]

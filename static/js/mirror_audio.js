// The recording's side of the mirror: chunks numbered in their own sequence from 1, sent as
// {"op": "audio"} frames, dropped once the server's audio_ack covers them, resent after a
// reconnect from the welcome's audio_acked. Mirror (mirror.js) owns the socket and calls in.
//
// While the server is away the chunks wait here, up to a byte budget (about 5 minutes at 64
// kbps). Past it the oldest chunks never sent are dropped, and the ones after them renumbered,
// so the sequence the server sees has no hole; the page records a visible gap instead. Chunks
// sent once are kept (the server may have stored them under their seq), and so is chunk 1: it
// holds the WebM header every later chunk needs.

export const AUDIO_BUFFER_BYTES = 5 * 60 * 8000;
const KEEP_AFTER_TRIM = 0.9; // trim to 90% of the budget: one gap event per 30 s away, not per chunk
const MAX_FRAME_CHUNKS = 64;
const CHUNK_OVERHEAD = 64; // {"seq":n,"t":...,"data":""}, with room

/** Base64 of a Blob's bytes, without reading them through a JavaScript string. */
function base64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).slice(String(reader.result).indexOf(",") + 1));
    reader.onerror = () => reject(reader.error || new Error("reading a recording chunk failed"));
    reader.readAsDataURL(blob);
  });
}

/** Unacked recording chunks and where their sending stands. */
export class AudioOutbox {
  constructor({ frameBytes, budgetBytes = AUDIO_BUFFER_BYTES, onReady, onGap, onError }) {
    this.frameBytes = frameBytes;
    this.budgetBytes = budgetBytes;
    this.onReady = onReady; // a chunk is ready to send
    this.onGap = onGap; // chunks were dropped: the fields of a voicelab.recording gap event
    this.onError = onError;
    this.seq = 0; // last seq given
    this.acked = 0; // highest contiguous seq the server stored
    this.off = false; // the server records nothing: take no more chunks
    this._pending = []; // unacked chunks in seq order: {seq, t, data, size}
    this._bytes = 0; // their sizes, as recorded
    this._sentUpto = 0;
    this._sentMax = 0; // the highest seq ever sent: at or below it, seqs may be stored
    this._reading = 0; // chunks still being read into base64
    this._chain = Promise.resolve(); // reads in the order the chunks came
  }

  /** Whether every chunk taken is stored. */
  get done() {
    return this._reading === 0 && this.acked >= this.seq;
  }

  /** Take a recorded chunk that arrived at `t` (the mirror's clock). */
  add(blob, t) {
    if (this.off) return;
    this._reading += 1;
    this._chain = this._chain
      .then(() => base64(blob))
      .then((data) => {
        if (this.off) return;
        this._pending.push({ seq: ++this.seq, t, data, size: blob.size });
        this._bytes += blob.size;
        this._trim();
        this.onReady();
      })
      .catch((exc) => this.onError(String(exc?.message || exc)))
      .finally(() => {
        this._reading -= 1;
      });
  }

  /** A welcome: resend after `stored`; on the first one, continue after a session's audio.
   * True when it acked something new. */
  welcomed(stored, first) {
    if (first && stored > 0 && this.acked === 0) {
      for (const entry of this._pending) entry.seq += stored;
      this.seq += stored;
      this._sentMax += stored;
      this.acked = stored;
    }
    const news = this.ack(stored);
    this._sentUpto = this.acked;
    return news;
  }

  /** The server stored every chunk up to `upto`; true when that is news. */
  ack(upto) {
    const acked = Math.min(Number(upto) || 0, this.seq);
    if (acked <= this.acked) return false;
    this.acked = acked;
    while (this._pending.length && this._pending[0].seq <= acked) this._bytes -= this._pending.shift().size;
    return true;
  }

  /** Send again everything after the last ack (the server could not store it). */
  resend() {
    this._sentUpto = this.acked;
  }

  /** The server records nothing: forget the chunks and take no more. */
  refuse() {
    this.off = true;
    this._pending = [];
    this._bytes = 0;
    this.acked = this.seq;
  }

  /** Send what was not sent yet on an open websocket, in frames under the frame limit. */
  flush(ws) {
    const first = this._pending.length ? this._pending[0].seq : this.seq + 1;
    let index = Math.max(0, this._sentUpto + 1 - first);
    while (index < this._pending.length) {
      const chunks = [];
      let bytes = CHUNK_OVERHEAD;
      while (index < this._pending.length && chunks.length < MAX_FRAME_CHUNKS) {
        const { seq, t, data } = this._pending[index];
        if (chunks.length && bytes + data.length + CHUNK_OVERHEAD > this.frameBytes) break;
        chunks.push({ seq, t, data });
        bytes += data.length + CHUNK_OVERHEAD;
        index += 1;
      }
      ws.send(JSON.stringify({ op: "audio", chunks }));
      this._sentUpto = chunks[chunks.length - 1].seq;
      this._sentMax = Math.max(this._sentMax, this._sentUpto);
    }
  }

  // Over the budget: drop the oldest chunks that were never sent (never chunk 1, never the
  // newest), renumber the rest, and report the gap.
  _trim() {
    if (this._bytes <= this.budgetBytes) return;
    const floor = Math.max(this._sentMax, 1);
    const start = this._pending.findIndex((entry) => entry.seq > floor);
    if (start === -1) return;
    let end = start;
    let dropped = 0;
    while (end < this._pending.length - 1 && this._bytes - dropped > this.budgetBytes * KEEP_AFTER_TRIM) {
      dropped += this._pending[end].size;
      end += 1;
    }
    if (end === start) return;
    const fromSeq = this._pending[start].seq;
    const count = end - start;
    this._pending.splice(start, count);
    for (const entry of this._pending.slice(start)) entry.seq -= count;
    this.seq -= count;
    this._bytes -= dropped;
    this.onGap({ from_seq: fromSeq, bytes: dropped, chunks: count, reason: "buffer_full" });
  }
}

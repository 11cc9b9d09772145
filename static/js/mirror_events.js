// The events' side of the mirror: each event numbered in the session's seq from 1 and kept as
// its JSON until the server's ack covers it, sent as {"op": "events"} frames of at most 500
// events and 1 MiB, and sent again after a reconnect or a refused batch from the last ack.
// Mirror (mirror.js) owns the socket and calls in, as it does AudioOutbox (mirror_audio.js).

export const MAX_FRAME_BYTES = 1024 * 1024;
const MAX_BATCH_EVENTS = 500;
const FRAME_OVERHEAD = 32; // {"op":"events","events":[ ... ]}
const encoder = new TextEncoder();

function byteLength(text) {
  // At most 3 UTF-8 bytes per UTF-16 unit: that bound is enough (batches add these up, so it
  // must never be below the real size) until it comes near a frame, then count exactly.
  const bound = text.length * 3;
  return bound < MAX_FRAME_BYTES ? bound : encoder.encode(text).length;
}

/** Unacked events and where their sending stands. */
export class EventOutbox {
  constructor() {
    this.seq = 0; // last seq recorded
    this.acked = 0; // highest contiguous seq the server committed
    this._pending = []; // unacked events in seq order: {event, json, bytes}
    this._sentUpto = 0;
  }

  /** Whether every event recorded is committed. */
  get done() {
    return this.acked >= this.seq;
  }

  /** Number an event with the next seq and keep it until acked; returns the event. */
  add(dir, t, data) {
    const event = { seq: ++this.seq, dir, t, data };
    this._pending.push(this._entry(event));
    return event;
  }

  /** Joining a session that already holds `stored` events (a reloaded page): continue after
   * them. */
  renumberAfter(stored) {
    this.seq += stored;
    this._pending = this._pending.map(({ event }) => this._entry({ ...event, seq: event.seq + stored }));
    this.acked = stored;
  }

  /** The server committed up to `upto`: drop those events; false if that is nothing new. */
  ack(upto) {
    const acked = Math.min(Number(upto) || 0, this.seq);
    if (acked <= this.acked) return false;
    this.acked = acked;
    const drop = this._pending.findIndex((entry) => entry.event.seq > acked);
    this._pending.splice(0, drop === -1 ? this._pending.length : drop);
    return true;
  }

  /** Send everything after the last ack again on the next flush. */
  resend() {
    this._sentUpto = this.acked;
  }

  /** Send the events not sent yet on the open socket `ws`, in frames. */
  flush(ws) {
    const first = this._pending.length ? this._pending[0].event.seq : this.seq + 1;
    let index = Math.max(0, this._sentUpto + 1 - first);
    while (index < this._pending.length) {
      const batch = [];
      let bytes = FRAME_OVERHEAD;
      while (index < this._pending.length && batch.length < MAX_BATCH_EVENTS) {
        const entry = this._pending[index];
        if (batch.length && bytes + entry.bytes + 1 > MAX_FRAME_BYTES) break;
        batch.push(entry.json);
        bytes += entry.bytes + 1;
        index += 1;
      }
      ws.send(`{"op":"events","events":[${batch.join(",")}]}`);
      this._sentUpto = this._pending[index - 1].event.seq;
    }
  }

  _entry(event) {
    let json = JSON.stringify(event);
    let bytes = byteLength(json);
    if (bytes > MAX_FRAME_BYTES - FRAME_OVERHEAD) {
      // One event cannot exceed a frame: keep its beginning (stored as text, marked as cut).
      const keep = Math.floor((MAX_FRAME_BYTES - FRAME_OVERHEAD - 1024) / 6);
      const text = typeof event.data === "string" ? event.data : JSON.stringify(event.data);
      event.data = `${text.slice(0, keep)}… [cut by the mirror: ${text.length} characters]`;
      json = JSON.stringify(event);
      bytes = byteLength(json);
    }
    return { event, json, bytes };
  }
}

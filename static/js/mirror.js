// Mirror a realtime call's data channel to Voice Lab over the /ws/mirror websocket.
//
// Every message the data channel delivers or the page sends is recorded at that moment with a
// per-session seq and a browser timestamp, then sent in small batches; the server acks what it
// committed, and whatever is unacked is resent after a reconnect. The call never waits on the
// mirror: recording is synchronous and cheap, and a server that is away only grows the buffer.
//
// Use in any page that holds a call (see README, "Mirror your own app"):
//   import { Mirror } from "https://voicelab.example/static/js/mirror.js";
//   const mirror = new Mirror({ url: "wss://voicelab.example/ws/mirror",
//                               create: { label: "my app", provider: "openai", protocol: "ga" } });
//   (or { url, session, secret }: the id and write_secret of POST /api/sessions)
//   mirror.watch(pc);      // state changes, getStats() samples, channels the peer opens
//   mirror.attach(dc);     // the channel you created: wraps dc.send, listens to messages
//   mirror.recordAudio(micStream, remoteStream);  // optional: the call in stereo
//   ...
//   await mirror.close();  // after the call: waits briefly for the last acks, ends the session
// Or, for a page whose library makes its own peer connection, see capture.js.

import { AUDIO_BUFFER_BYTES, AudioOutbox } from "./mirror_audio.js";
import { EventOutbox, MAX_FRAME_BYTES } from "./mirror_events.js";
import { CLOSING, ON_CLOSE, ON_SOCKET_LOST, SENDING, SHOWN, UNWELCOMED } from "./mirror_states.js";
import { sampleStats } from "./peer_stats.js";
import { CHANNELS, MIME, StereoRecorder } from "./recorder.js";

const COALESCE_MS = 5;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10000;
const CLOSE_WAIT_MS = 3000;
const END_FRAME = '{"op":"end"}';
const IDLE_CLOSE = 4408; // the server closed a quiet socket: reconnect once there is more to send

/** Milliseconds since the epoch, fractional, on the browser's monotonic clock. */
export function now() {
  return performance.timeOrigin + performance.now();
}

/** A websocket URL for `url`, which may be relative to the page or use http(s). */
export function websocketUrl(url) {
  const absolute = new URL(url, location.href);
  if (absolute.protocol === "http:") absolute.protocol = "ws:";
  if (absolute.protocol === "https:") absolute.protocol = "wss:";
  return absolute.href;
}

function asText(data) {
  if (typeof data === "string") return data;
  const size = data?.byteLength ?? data?.size ?? 0;
  return `[binary message, ${size} bytes]`;
}

/**
 * The recorder and its websocket. Events: "record" (detail: the event), "ack" (detail: acked
 * seq), "audio_ack" (detail: acked chunk seq), "state" (detail: connecting | open | idle |
 * reconnecting | closing | closed), "error" (detail: the server's error frame).
 */
export class Mirror extends EventTarget {
  constructor({
    url,
    session = null,
    secret = null,
    create = null,
    statsIntervalMs = 1000,
    audioBufferBytes = AUDIO_BUFFER_BYTES,
  } = {}) {
    super();
    if (!url) throw new Error("Mirror needs the url of /ws/mirror");
    if (!session && !create) throw new Error("Mirror needs a session id or a create object");
    if (session && !secret) throw new Error("Mirror needs the session's write secret with its id");
    this.url = websocketUrl(url);
    this.session = session;
    // The session's write secret: kept in memory only, for every hello after a reconnect.
    this.secret = secret;
    this.create = session ? null : create;
    this.statsIntervalMs = statsIntervalMs;
    this.events = new EventOutbox();
    this._state = "connecting"; // one of SHOWN's names
    this.lastError = null;
    this._ws = null;
    this._flushTimer = null;
    this._retryTimer = null;
    this._retries = 0;
    this._resendTimer = null;
    this._storageRetries = 0;
    this._closing = null; // the promise close() returns
    this._cleanups = [];
    this._channels = new WeakSet();
    this.recorder = null; // the StereoRecorder of recordAudio()
    this.audio = new AudioOutbox({
      frameBytes: MAX_FRAME_BYTES,
      budgetBytes: audioBufferBytes,
      onReady: () => this._wake(),
      onGap: (gap) => this.local("voicelab.recording", { phase: "gap", ...gap }),
      onError: (message) => this.local("voicelab.error", { message, source: "recording" }),
    });
    this._connect();
  }

  /** The state as pages are shown it: connecting | open | idle | reconnecting | closing | closed. */
  get state() {
    return SHOWN[this._state];
  }

  /** The last seq recorded. */
  get seq() {
    return this.events.seq;
  }

  /** The highest contiguous seq the server committed. */
  get acked() {
    return this.events.acked;
  }

  /** Record one message: dir "server" | "client" (data-channel text) or "local" (an object). */
  record(dir, data) {
    if (this._state === "closed") return null;
    const event = this.events.add(dir, now(), dir === "local" ? data : asText(data));
    this.dispatchEvent(new CustomEvent("record", { detail: event }));
    this._wake();
    return event;
  }

  /** Record a local `voicelab.*` event with its fields. */
  local(type, fields = {}) {
    return this.record("local", { type, ...fields });
  }

  /** Record what a data channel sends and delivers, and its state changes. */
  attach(dc) {
    if (this._channels.has(dc)) return dc;
    this._channels.add(dc);
    const mirror = this;
    const send = dc.send;
    dc.send = function mirroredSend(data) {
      send.call(this, data);
      mirror.record("client", data);
    };
    const state = () => this.local("voicelab.dc_state", { label: dc.label, state: dc.readyState });
    this._listen(dc, "message", (e) => this.record("server", e.data));
    for (const type of ["open", "closing", "close"]) this._listen(dc, type, state);
    this._listen(dc, "error", (e) =>
      this.local("voicelab.error", {
        message: e.error?.message || "data channel error",
        source: "datachannel",
      }),
    );
    state();
    return dc;
  }

  /** Record a peer connection's state changes, channels it receives and getStats() samples. */
  watch(pc) {
    this._listen(pc, "connectionstatechange", () =>
      this.local("voicelab.pc_state", { state: pc.connectionState }),
    );
    this._listen(pc, "iceconnectionstatechange", () =>
      this.local("voicelab.ice_state", { state: pc.iceConnectionState }),
    );
    this._listen(pc, "icegatheringstatechange", () =>
      this.local("voicelab.ice_gathering", { state: pc.iceGatheringState }),
    );
    this._listen(pc, "datachannel", (e) => this.attach(e.channel));
    this._cleanups.push(sampleStats(pc, this.statsIntervalMs, (type, fields) => this.local(type, fields)));
    return pc;
  }

  /**
   * Record the call in stereo (left: `localStream`, the microphone as sent; right:
   * `remoteStream`, as played) and send it with the events; `context`: an AudioContext to use.
   * Returns the StereoRecorder (call its setMicrophone(stream) after a microphone switch), or
   * null when recording cannot start here: that is recorded as a voicelab.error, and the call
   * goes on. close() stops it.
   */
  recordAudio(localStream, remoteStream, { context = null } = {}) {
    if (this.recorder || this._closing || this.audio.off) return this.recorder;
    let recorder;
    try {
      recorder = new StereoRecorder(localStream, remoteStream, { context });
    } catch (exc) {
      this.local("voicelab.error", { message: String(exc?.message || exc), source: "recording" });
      return null;
    }
    this.recorder = recorder;
    recorder.addEventListener("start", () =>
      this.local("voicelab.recording", { phase: "start", t0: now(), mime: MIME, channels: CHANNELS }),
    );
    recorder.addEventListener("chunk", (e) => this.audio.add(e.detail, now()));
    recorder.addEventListener("error", (e) =>
      this.local("voicelab.error", { message: e.detail, source: "recording" }),
    );
    // How many chunks it made: those stored, plus those a gap event reports as dropped.
    recorder.addEventListener("stop", () =>
      this.local("voicelab.recording", { phase: "stop", chunks: recorder.chunks }),
    );
    return recorder;
  }

  /** Record uncaught errors and unhandled rejections of the page. */
  watchErrors(target = window) {
    this._listen(target, "error", (e) =>
      this.local("voicelab.error", { message: String(e.message || e.error || "error"), source: "page" }),
    );
    this._listen(target, "unhandledrejection", (e) =>
      this.local("voicelab.error", {
        message: String(e.reason?.message || e.reason || "unhandled rejection"),
        source: "page",
      }),
    );
  }

  /** Stop recording (the audio's last chunk first), and once the server acked everything (or
   * `waitMs` passed) end the session; resolves when done. */
  close({ waitMs = CLOSE_WAIT_MS } = {}) {
    if (this._closing) return this._closing;
    this._closing = (this.recorder?.stop() ?? Promise.resolve()).then(() => this._drain(waitMs));
    return this._closing;
  }

  _drain(waitMs) {
    for (const cleanup of this._cleanups.splice(0)) cleanup();
    this._setState(ON_CLOSE[this._state]);
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(deadline);
        this.removeEventListener("ack", check);
        this.removeEventListener("audio_ack", check);
        this._end();
        resolve(this._summary());
      };
      const check = () => {
        if (this._allAcked()) finish();
      };
      const deadline = setTimeout(finish, waitMs);
      this.addEventListener("ack", check);
      this.addEventListener("audio_ack", check);
      if (!this._ws && !this._allAcked()) {
        // Away with events unacked: try now rather than when the backoff would.
        clearTimeout(this._retryTimer);
        this._connect();
      }
      this._flush();
      check();
    });
  }

  /** The page is going away (`pagehide`): send what is recorded and end the session now,
   * without waiting for acks; a page that cannot (its socket is away) ends by the server's
   * silence timeout. */
  abandon() {
    if (this._state === "closed") return;
    this._closing ??= Promise.resolve().then(() => this._summary());
    for (const cleanup of this._cleanups.splice(0)) cleanup();
    this.recorder?.stop();
    this._flush();
    this._end();
  }

  // Tell the server the session ended, after everything sent before, and close the socket.
  _end() {
    clearTimeout(this._flushTimer);
    clearTimeout(this._retryTimer);
    clearTimeout(this._resendTimer);
    if (this._ws?.readyState === WebSocket.OPEN) this._ws.send(END_FRAME);
    if (this._ws) this._ws.close(1000, "call ended");
    this._setState("closed");
  }

  // What close() resolves with: how much was recorded and acked, events and audio chunks.
  _summary() {
    const { seq: chunks, acked: chunksAcked } = this.audio;
    return { recorded: this.seq, acked: this.acked, chunks, chunks_acked: chunksAcked };
  }

  _allAcked() {
    return this.events.done && this.audio.done;
  }

  // Something new to send: reconnect a socket the server closed while idle, and flush soon.
  _wake() {
    if (this._state === "idle") {
      this._setState("resuming");
      this._connect();
    }
    this._schedule();
  }

  _listen(target, type, handler) {
    target.addEventListener(type, handler);
    this._cleanups.push(() => target.removeEventListener(type, handler));
  }

  _setState(state) {
    const shown = this.state;
    this._state = state;
    if (this.state !== shown) this.dispatchEvent(new CustomEvent("state", { detail: this.state }));
  }

  _connect() {
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (exc) {
      this.lastError = { code: "bad_url", message: String(exc.message || exc) };
      this._setState("unusable");
      return;
    }
    this._ws = ws;
    ws.addEventListener("open", () => {
      const hello = this.session
        ? { op: "hello", session: this.session, secret: this.secret }
        : { op: "hello", create: this.create };
      ws.send(JSON.stringify(hello));
    });
    ws.addEventListener("message", (e) => this._onFrame(e.data));
    ws.addEventListener("close", (e) => {
      if (this._ws !== ws) return;
      this._ws = null;
      if (this._state === "closed") return;
      if (e.code === IDLE_CLOSE && this._state === "open" && this._allAcked()) {
        this._setState("idle"); // record() connects again
        return;
      }
      this._setState(ON_SOCKET_LOST[this._state]);
      // While closing, the last events have only moments left: retry at the shortest delay.
      const delay = CLOSING.has(this._state)
        ? BACKOFF_MIN_MS
        : Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this._retries++);
      this._retryTimer = setTimeout(() => this._connect(), delay * (0.5 + Math.random() / 2));
    });
  }

  _onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.op === "welcome") this._onWelcome(frame);
    else if (frame.op === "ack") this._ack(frame.upto);
    else if (frame.op === "audio_ack") {
      if (this.audio.ack(frame.upto)) this._audioAcked();
    } else if (frame.op === "error") {
      this.lastError = frame;
      this.dispatchEvent(new CustomEvent("error", { detail: frame }));
      if (frame.code === "storage_unavailable") this._resendSoon();
      if (frame.code === "recording_off") this._stopAudio();
    }
  }

  // The server stores no recordings: stop the recorder and forget its chunks.
  _stopAudio() {
    this.audio.refuse();
    this.recorder?.stop();
    this._audioAcked();
  }

  _audioAcked() {
    this.dispatchEvent(new CustomEvent("audio_ack", { detail: this.audio.acked }));
  }

  // The server could not store a batch (locked, disk full): after a pause, send again
  // everything after the last ack, on the same socket.
  _resendSoon() {
    if (this._resendTimer) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this._storageRetries++);
    this._resendTimer = setTimeout(() => {
      this._resendTimer = null;
      this.events.resend();
      this.audio.resend();
      this._flush();
    }, delay);
  }

  _onWelcome(frame) {
    if (!this.session && frame.session) {
      this.session = frame.session;
      this.secret = frame.secret; // created for this page: its only copy
    }
    const acked = Number(frame.acked) || 0;
    const first = UNWELCOMED.has(this._state);
    if (first && acked > 0 && this.acked === 0) this.events.renumberAfter(acked);
    if (this.audio.welcomed(Number(frame.audio_acked) || 0, first)) this._audioAcked();
    this._retries = 0;
    this._ack(acked); // may finish a close(): then the state stays closed
    this.events.resend();
    if (this._state !== "closed") this._setState(CLOSING.has(this._state) ? "draining" : "open");
    this._flush();
  }

  _ack(upto) {
    if (!this.events.ack(upto)) return;
    this._storageRetries = 0;
    this.dispatchEvent(new CustomEvent("ack", { detail: this.acked }));
  }

  _schedule() {
    if (this._flushTimer || !SENDING.has(this._state)) return;
    this._flushTimer = setTimeout(() => {
      this._flushTimer = null;
      this._flush();
    }, COALESCE_MS);
  }

  _flush() {
    const ws = this._ws;
    if (!ws || !SENDING.has(this._state) || ws.readyState !== WebSocket.OPEN) return;
    this.events.flush(ws);
    this.audio.flush(ws);
  }
}

// Record a call in stereo: left = the microphone track as sent, right = the remote track as
// played, merged before one MediaRecorder so both channels share its clock (two recorders would
// start at an unknown offset).
//
// Chromium gives WebAudio silence from a remote WebRTC stream unless a media element plays it,
// so the remote stream also plays in a muted <audio> that is never added to the page. The
// microphone's merger input stays connected through a mute (a disabled track gives silence)
// and is moved to the new track on a switch, so the recording goes on without a break.
//
// Nothing here may stop a call: every failure becomes an "error" event, and the recorder
// simply stops.

export const MIME = "audio/webm;codecs=opus";
export const CHANNELS = 2;
const BITS_PER_SECOND = 64000;
const TIMESLICE_MS = 1000;
const STOP_WAIT_MS = 2000;

/**
 * One stereo MediaRecorder over a microphone stream and a remote stream. Events: "start",
 * "chunk" (detail: the Blob, never empty), "stop" (after the last chunk), "error" (detail: a
 * message).
 */
export class StereoRecorder extends EventTarget {
  constructor(localStream, remoteStream, { context = null } = {}) {
    super();
    this.context = context || new AudioContext();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    this.player = new Audio();
    this.player.muted = true;
    this.player.srcObject = remoteStream;
    this.player.play().catch(() => {}); // muted: autoplay rules let it play
    this.merger = this.context.createChannelMerger(CHANNELS);
    const destination = this.context.createMediaStreamDestination();
    destination.channelCount = CHANNELS;
    this.merger.connect(destination);
    this.remote = this._source(remoteStream, 1);
    this.local = null;
    this.setMicrophone(localStream);
    this._stopped = null; // stop()'s promise
    this.chunks = 0; // chunks handed out so far
    this.media = new MediaRecorder(destination.stream, {
      mimeType: MIME,
      audioBitsPerSecond: BITS_PER_SECOND,
    });
    this.media.addEventListener("start", () => this.dispatchEvent(new Event("start")));
    this.media.addEventListener("dataavailable", (e) => {
      if (!e.data.size) return;
      this.chunks += 1;
      this.dispatchEvent(new CustomEvent("chunk", { detail: e.data }));
    });
    this.media.addEventListener("error", (e) => this._fail(e.error?.message || "MediaRecorder error"));
    this.media.addEventListener("stop", () => this._release());
    this.media.start(TIMESLICE_MS);
  }

  /** Record the microphone from `stream` on, on the same channel (after a switch). */
  setMicrophone(stream) {
    const previous = this.local;
    this.local = this._source(stream, 0);
    previous?.disconnect();
  }

  /** Stop recording; resolves once the last chunk is out (or soon after, whatever happens). */
  stop() {
    this._stopped ??= new Promise((resolve) => {
      if (this.media.state === "inactive") return resolve();
      const timer = setTimeout(resolve, STOP_WAIT_MS);
      this.addEventListener(
        "stop",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
      try {
        this.media.stop();
      } catch (exc) {
        this._fail(exc.message);
        resolve();
      }
    });
    return this._stopped;
  }

  _source(stream, input) {
    const source = this.context.createMediaStreamSource(stream);
    source.connect(this.merger, 0, input);
    return source;
  }

  _fail(message) {
    this.dispatchEvent(new CustomEvent("error", { detail: message }));
    this.stop();
  }

  _release() {
    this.local?.disconnect();
    this.remote.disconnect();
    this.merger.disconnect();
    this.player.srcObject = null;
    this.dispatchEvent(new Event("stop"));
  }
}

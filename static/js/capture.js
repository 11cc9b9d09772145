// Mirror every call a page holds, whoever makes its peer connection: a library that creates its
// own RTCPeerConnection and data channel (the Agents SDK's WebRTC transport, for one) gives
// `mirror.watch(pc)` and `mirror.attach(dc)` no way in, so capture() wraps the constructor
// itself, before the library uses it. Two lines, before the app creates its session:
//   import { capture } from "https://voicelab.example/static/js/capture.js";
//   capture({ url: "wss://voicelab.example/ws/mirror" });
// Each peer connection made after that is its own external session, from its first message:
// watched, every channel it creates or receives attached, ended when the page closes it (a
// hang-up) or goes away (`pagehide`).

import { Mirror } from "./mirror.js";

const CAPTURED = Symbol("mirrored by capture()");

/**
 * Mirror every RTCPeerConnection the page creates from now on, each into a new session.
 * `url`: the /ws/mirror URL; `create`: the session's fields (label, provider, model, protocol,
 * voice; the label defaults to the page's title); the other options go to each Mirror.
 */
export function capture({ url, create = {}, ...options } = {}) {
  if (!url) throw new Error("capture needs the url of /ws/mirror");
  const Native = window.RTCPeerConnection;
  if (!Native) throw new Error("capture needs a browser with WebRTC (RTCPeerConnection)");
  // Twice would mirror every call into two sessions.
  if (Native[CAPTURED]) throw new Error("capture() was already called in this page: call it once");
  const label = create.label ?? (document.title || location.host);
  const live = new Set();
  const mirrorFor = (pc) => {
    const mirror = new Mirror({ url, create: { ...create, label }, ...options });
    live.add(mirror);
    mirror.addEventListener("state", (e) => e.detail === "closed" && live.delete(mirror));
    mirror.watch(pc);
    return mirror;
  };

  class CapturedPeerConnection extends Native {
    #mirror;

    constructor(...args) {
      super(...args);
      // Made before the app can create a channel or add a listener: nothing is missed.
      this.#mirror = mirrorFor(this);
    }

    /** The channel the page asked for, mirrored from its first message (and its sends). */
    createDataChannel(...args) {
      return this.#mirror.attach(super.createDataChannel(...args));
    }

    /** Hang up: close fires no state event, so the final state is recorded here. */
    close() {
      super.close();
      this.#mirror.local("voicelab.pc_state", { state: this.connectionState });
      this.#mirror.close();
    }
  }
  CapturedPeerConnection[CAPTURED] = true;

  window.RTCPeerConnection = CapturedPeerConnection;
  window.addEventListener("pagehide", () => {
    for (const mirror of live) mirror.abandon();
  });
}

// The call page: a Call holds one WebRTC call with the service (or the emulator), from the mint
// to the stop, and mirrors it; the page starts and stops calls.
//
// The ephemeral key lives only inside Call.connect(): it goes into the SDP POST's Authorization
// header and nowhere else (not the DOM, not the console, not the mirror, not the Call).

import { enableControls, initControls, listMicrophones } from "./call_controls.js";
import { initSettings, lockSettings, readSettings } from "./call_settings.js";
import {
  clearEvents,
  countdown,
  showChannel,
  showError,
  showMicrophone,
  showMirror,
  showPeer,
  showPhase,
  showRemote,
  showSession,
  stopAudio,
} from "./call_status.js";
import { sessionConfig, sessionUpdate } from "./client_events.js";
import { audioContext } from "./levels.js";
import { Mirror } from "./mirror.js";
import { loadReplay } from "./replay.js";
import { CallError, callId, describeError, gatheringDone, postOffer } from "./signaling.js";

const $ = (id) => document.getElementById(id);
const root = $("call");
const SESSIONS_URL = root.dataset.sessionsUrl;
const MIRROR_URL = root.dataset.mirrorUrl;
const CHANNEL_LABEL = "oai-events";
/**
 * One call, from the mint to the stop: the session row, its mirror, the microphone, the peer and
 * its data channel. Events: "phase" (detail: starting | live | stopping | ended).
 */
class Call extends EventTarget {
  constructor(settings, replay = null) {
    super();
    this.settings = settings; // the form's choices when the call started
    this.replay = replay; // the recorded call whose user channel is the microphone, if any
    this.session = null; // the minted session, without its key
    this.mirror = null;
    this.stream = null; // the microphone
    this.pc = null;
    this.sender = null; // the microphone's sender on pc
    this.dc = null;
    this.callId = null; // the service's id for the call, from the SDP answer
    this.stopping = false;
    this._stopped = null; // stop()'s promise
    this._stopCountdown = null; // ends the key's countdown, once the key is used or the call stops
    this._showPeer = null; // shows the peer's states again (close() fires no events)
  }

  /** Start the call; a failure is shown and recorded, and stops the call. */
  async start() {
    this._setPhase("starting");
    try {
      await this.connect();
    } catch (exc) {
      if (this.stopping) return;
      const message = exc instanceof CallError ? exc.message : `${exc.name || "Error"}: ${exc.message}`;
      showError("call-error", message);
      this.mirror?.local("voicelab.error", { message, source: exc.source || "call" });
      await this.stop();
    }
  }

  /** Mint, open the mirror, the microphone and the peer, exchange SDP. Bails out on stop(). */
  async connect() {
    const began = performance.now();
    const minted = await fetch(SESSIONS_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(mintRequest(this.settings, this.replay)),
    });
    const mint = { status: minted.status, ms: Math.round(performance.now() - began) };
    const mintText = await minted.text();
    if (!minted.ok) throw new CallError(describeError("Minting a key", minted.status, mintText), "mint");
    // The key and the write secret stay out of this.session: only their users hold them.
    const { ephemeral_key: key, write_secret: secret, ...session } = JSON.parse(mintText);
    this.session = session;
    this._writeSecret = secret; // ending the session row needs it too
    if (this.stopping) {
      this._endSession(); // stop() came while minting: close the row that was just opened
      return;
    }
    this._openMirror(mint, secret);
    const track = await this._openMicrophone();
    if (!track) return;
    this._openPeer(track);
    if (!(await this._exchangeSdp(key))) return;
    this._stopCountdown("used");
    this._stopCountdown = null;
    this._setPhase("live");
    listMicrophones(track, Boolean(this.replay)).catch((exc) =>
      this.mirror.local("voicelab.error", { message: exc.message, source: "microphone" }),
    );
  }

  /** Send client events on the data channel; false when there is no open channel. */
  send(events) {
    const { dc } = this;
    if (!dc || dc.readyState !== "open") return false;
    for (const event of events) dc.send(JSON.stringify(event));
    return true;
  }

  /** Use the microphone `deviceId` from now on, muted or not; a failure is shown and recorded. */
  async switchMicrophone(deviceId, muted) {
    if (!this.sender) return;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: deviceId } } });
      const track = stream.getAudioTracks()[0];
      track.enabled = !muted;
      await this.sender.replaceTrack(track);
      this.mirror.recorder?.setMicrophone(stream); // the recording's left channel follows
      for (const old of this.stream.getTracks()) old.stop();
      this.stream = stream;
      showMicrophone(stream);
      this.mirror.local("voicelab.mic", { device: track.label, muted });
    } catch (exc) {
      showError("call-error", `Switching the microphone failed: ${exc.message}`);
      this.mirror.local("voicelab.error", { message: exc.message, source: "microphone" });
    }
  }

  /** Mute the microphone, or unmute it. */
  setMuted(muted) {
    if (!this.stream) return;
    const track = this.stream.getAudioTracks()[0];
    track.enabled = !muted;
    this.mirror.local("voicelab.mic", { device: track.label, muted });
  }

  /** End the call: channel, peer, microphone, the session row, then let the mirror drain. */
  stop(reason = null) {
    if (this._stopped) return this._stopped;
    this.stopping = true;
    this._stopped = (async () => {
      this._setPhase("stopping");
      if (reason) showError("call-error", `The call ended: ${reason}.`);
      const { mirror, pc, dc } = this;
      mirror?.local("voicelab.call", { phase: "stop" });
      mirror?.recorder?.stop(); // the recording ends with the call; close() waits for its end
      this._stopCountdown?.("–");
      dc?.close();
      if (pc) {
        pc.close(); // close() fires no state events: record and show the final state ourselves
        mirror?.local("voicelab.pc_state", { state: pc.connectionState });
        this._showPeer();
      }
      for (const track of this.stream?.getTracks() ?? []) track.stop();
      stopAudio();
      if (this.session) await this._endSession();
      await mirror?.close();
      this._setPhase("ended");
    })();
    return this._stopped;
  }

  /** The page is going away: end the session row by beacon (it outlives the page), drop the peer. */
  abandon() {
    // A beacon carries a body but no headers: the secret goes in the body (sent as text/plain).
    if (this.session) navigator.sendBeacon(endUrl(this.session.id), this._endBody());
    this.pc?.close();
  }

  _setPhase(phase) {
    this.dispatchEvent(new CustomEvent("phase", { detail: phase }));
  }

  // The one place the minted session reaches the mirror: the mirror's hello names it and
  // carries its write secret, so every event recorded from here on lands in that session's row.
  _openMirror(mint, secret) {
    const { session } = this;
    const mirror = new Mirror({ url: MIRROR_URL, session: session.id, secret });
    this.mirror = mirror;
    showMirror(mirror);
    showSession(session.id);
    mirror.watchErrors(window);
    mirror.local("voicelab.call", { phase: "start" });
    mirror.local("voicelab.mint", {
      ...mint,
      provider: session.provider,
      model: session.model,
      protocol: session.protocol,
      expires_at: session.expires_at,
      ...(session.provider === "emulator" && {
        scenario: this.settings.scenario,
        script: this.settings.script || null,
      }),
    });
    this._stopCountdown = countdown(session.expires_at);
  }

  // The microphone's track, or null when stop() came while the browser asked for it.
  async _openMicrophone() {
    const stream = await (this.replay?.microphone() ?? navigator.mediaDevices.getUserMedia({ audio: true }));
    if (this.stopping) {
      for (const t of stream.getTracks()) t.stop();
      return null;
    }
    this.stream = stream;
    const track = stream.getAudioTracks()[0];
    this.mirror.local("voicelab.mic", { device: track.label, muted: false });
    showMicrophone(stream);
    return track;
  }

  _openPeer(track) {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    this.mirror.watch(pc);
    this._showPeer = showPeer(pc);
    pc.addEventListener("track", (e) => {
      const remote = e.streams[0] || new MediaStream([e.track]);
      showRemote(remote);
      if (this.settings.record) this.mirror.recordAudio(this.stream, remote, { context: audioContext() });
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") this.stop("the peer connection failed");
    });
    this.sender = pc.addTrack(track, this.stream);
    const dc = pc.createDataChannel(CHANNEL_LABEL);
    this.dc = dc;
    this.mirror.attach(dc);
    showChannel(dc);
    // The service opens with session.created; the choices follow it, as the protocol orders.
    const configure = (e) => {
      let type = null;
      try {
        type = JSON.parse(e.data).type;
      } catch {
        return;
      }
      if (type !== "session.created") return;
      dc.removeEventListener("message", configure);
      dc.send(JSON.stringify(sessionUpdate(this.session.protocol, this.settings)));
      // Names the page's own client event, so a replay tells it from those sent by hand.
      this.mirror.local("voicelab.configure", { seq: this.mirror.seq });
    };
    dc.addEventListener("message", configure);
    dc.addEventListener("close", () => this.stop("the data channel closed"));
  }

  // Offer, wait for the host candidates, POST the offer with the key, take the answer: true
  // once it is taken, false when stop() came first.
  async _exchangeSdp(key) {
    const { mirror, pc } = this;
    const offerStarted = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringDone(pc);
    mirror.local("voicelab.sdp", {
      phase: "offer",
      status: "created",
      ms: Math.round(performance.now() - offerStarted),
    });
    if (this.stopping) return false;
    const answer = await postOffer(mirror, this.session.webrtc_url, key, pc.localDescription.sdp);
    this.callId = callId(answer.location);
    if (this.stopping) return false;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    return true;
  }

  // Mark the session row ended (with the call id the service gave, if any).
  _endSession() {
    return fetch(endUrl(this.session.id), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: this._endBody(),
    }).catch(() => {});
  }

  // What POST .../end takes: the session's write secret, and the call id the service gave.
  _endBody() {
    const body = { secret: this._writeSecret };
    if (this.callId) body.call_id = this.callId;
    return JSON.stringify(body);
  }
}

function endUrl(sessionId) {
  return `${SESSIONS_URL}/${encodeURIComponent(sessionId)}/end`;
}

/** The body of POST /api/sessions for these settings (and the replayed session, if any). */
function mintRequest(settings, replay) {
  const body = {
    provider: settings.provider,
    model: settings.model,
    voice: settings.voice,
    instructions: settings.instructions,
    label: settings.label,
    session: sessionConfig(settings.protocol, settings),
    replay_of: replay?.source,
  };
  if (settings.provider === "emulator") {
    body.scenario = settings.scenario;
    if (settings.script) body.script = settings.script;
    body.protocol = settings.protocol;
  }
  return body;
}

// The page: a Start button makes a Call, which lives until it has ended.

let call = null; // the call being started, held or stopped; null when idle

function setPhase(phase) {
  showPhase(phase);
  $("start").disabled = phase !== "idle" && phase !== "ended";
  $("stop").disabled = phase !== "starting" && phase !== "live";
  enableControls(phase === "live");
  lockSettings(phase === "starting" || phase === "live" || phase === "stopping");
}

function start() {
  if (call) return; // a call is starting, live or stopping: never two
  audioContext(); // created inside the click, so autoplay rules let it run
  call = new Call(readSettings(), replay);
  replay?.follow(call);
  call.addEventListener("phase", (e) => {
    if (e.detail === "ended") call = null;
    setPhase(e.detail);
  });
  clearEvents();
  showError("call-error", "");
  call.start();
}

initSettings();
const replay = await loadReplay();
initControls(() => call);
$("start").addEventListener("click", start);
$("stop").addEventListener("click", () => call?.stop());
window.addEventListener("pagehide", () => call?.abandon());
setPhase("idle");
root.dataset.ready = "true";

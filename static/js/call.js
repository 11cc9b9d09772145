// The call page: mint a key, hold the WebRTC call with the service (or the emulator), mirror it.
//
// The ephemeral key lives only inside connect(): it goes into the SDP POST's Authorization
// header and nowhere else (not the DOM, not the console, not the mirror).

import { chosenProtocol, initSettings, lockSettings, readSettings } from "./call_settings.js";
import { parseClientEvent, sessionConfig, sessionUpdate, templates, userMessage } from "./client_events.js";
import {
  clearEvents,
  countdown,
  setText,
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
import { audioContext } from "./levels.js";
import { Mirror } from "./mirror.js";

const $ = (id) => document.getElementById(id);
const root = $("call");
const SESSIONS_URL = root.dataset.sessionsUrl;
const MIRROR_URL = root.dataset.mirrorUrl;
const CHANNEL_LABEL = "oai-events";
const GATHER_WAIT_MS = 2000;

let call = null; // the call being started, held or stopped; null when idle

/** A failure to show as the service (or Voice Lab) said it. */
class CallError extends Error {
  constructor(message, source) {
    super(message);
    this.source = source;
  }
}

/** The body of POST /api/sessions for these settings. */
function mintRequest(settings) {
  const body = {
    provider: settings.provider,
    model: settings.model,
    voice: settings.voice,
    instructions: settings.instructions,
    label: settings.label,
    session: sessionConfig(settings.protocol, settings),
  };
  if (settings.provider === "emulator") {
    body.scenario = settings.scenario;
    body.protocol = settings.protocol;
  }
  return body;
}

// ---- display ----------------------------------------------------------------------------

function setPhase(phase) {
  showPhase(phase);
  $("start").disabled = phase !== "idle" && phase !== "ended";
  $("stop").disabled = phase !== "starting" && phase !== "live";
  $("controls").disabled = phase !== "live";
  lockSettings(phase === "starting" || phase === "live" || phase === "stopping");
}

/** The message of a JSON error body ({error: {message, source, status, code}}), else the text. */
function describeError(what, status, text) {
  let error = null;
  try {
    error = JSON.parse(text)?.error ?? null;
  } catch {
    // not JSON: show the text itself
  }
  if (!error || typeof error !== "object") {
    return `${what} failed (HTTP ${status}): ${String(error || text || "no body").slice(0, 500)}`;
  }
  const details = [error.source, error.status && `status ${error.status}`, error.code && `code ${error.code}`]
    .filter(Boolean)
    .join(", ");
  return `${what} failed (HTTP ${status}): ${error.message || "no message"}${details ? ` [${details}]` : ""}`;
}

// ---- the call ---------------------------------------------------------------------------

async function start() {
  if (call) return; // a call is starting, live or stopping: never two
  audioContext(); // created inside the click, so autoplay rules let it run
  const current = { settings: readSettings(), stopping: false };
  call = current;
  clearEvents();
  showError("call-error", "");
  setPhase("starting");
  try {
    await connect(current);
  } catch (exc) {
    if (current.stopping) return;
    const message = exc instanceof CallError ? exc.message : `${exc.name || "Error"}: ${exc.message}`;
    showError("call-error", message);
    current.mirror?.local("voicelab.error", { message, source: exc.source || "call" });
    await stop(current);
  }
}

/** Mint, open the microphone and the peer, exchange SDP. Bails out when Stop was pressed. */
async function connect(current) {
  const { settings } = current;
  const began = performance.now();
  const minted = await fetch(SESSIONS_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(mintRequest(settings)),
  });
  const mintMs = Math.round(performance.now() - began);
  const mintText = await minted.text();
  if (!minted.ok) throw new CallError(describeError("Minting a key", minted.status, mintText), "mint");
  const { ephemeral_key: key, ...session } = JSON.parse(mintText);
  current.session = session;
  if (current.stopping) {
    endSession(current); // Stop came while minting: close the row that was just opened
    return;
  }
  const mirror = new Mirror({ url: MIRROR_URL, session: session.id });
  current.mirror = mirror;
  showMirror(mirror);
  showSession(session.id);
  mirror.watchErrors(window);
  mirror.local("voicelab.call", { phase: "start" });
  mirror.local("voicelab.mint", {
    status: minted.status,
    ms: mintMs,
    provider: session.provider,
    model: session.model,
    protocol: session.protocol,
    expires_at: session.expires_at,
  });
  current.stopCountdown = countdown(session.expires_at);
  if (current.stopping) return;

  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  if (current.stopping) {
    for (const t of stream.getTracks()) t.stop();
    return;
  }
  current.stream = stream;
  const track = current.stream.getAudioTracks()[0];
  mirror.local("voicelab.mic", { device: track.label, muted: false });
  showMicrophone(current.stream);

  const pc = new RTCPeerConnection();
  current.pc = pc;
  mirror.watch(pc);
  current.showStates = showPeer(pc);
  pc.addEventListener("track", (e) => {
    const remote = e.streams[0] || new MediaStream([e.track]);
    showRemote(remote);
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed") stop(current, "the peer connection failed");
  });
  current.sender = pc.addTrack(track, current.stream);
  const dc = pc.createDataChannel(CHANNEL_LABEL);
  current.dc = dc;
  mirror.attach(dc);
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
    dc.send(JSON.stringify(sessionUpdate(session.protocol, settings)));
  };
  dc.addEventListener("message", configure);
  dc.addEventListener("close", () => stop(current, "the data channel closed"));

  const offerStarted = performance.now();
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringDone(pc);
  mirror.local("voicelab.sdp", {
    phase: "offer",
    status: "created",
    ms: Math.round(performance.now() - offerStarted),
  });
  if (current.stopping) return;

  const answer = await postOffer(mirror, session.webrtc_url, key, pc.localDescription.sdp);
  current.callId = callId(answer.location);
  if (current.stopping) return;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  current.stopCountdown("used");
  current.stopCountdown = null;
  setPhase("live");
  listMicrophones(track).catch((exc) =>
    mirror.local("voicelab.error", { message: exc.message, source: "microphone" }),
  );
}

/** The SDP POST: only Authorization and Content-Type, the answer checked before it is used. */
async function postOffer(mirror, url, key, sdp) {
  const began = performance.now();
  const timing = () => Math.round(performance.now() - began);
  let reply;
  try {
    reply = await fetch(url, {
      method: "POST",
      body: sdp,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/sdp" },
    });
  } catch (exc) {
    const error = `the SDP POST did not reach ${new URL(url).origin}: ${exc.message}`;
    mirror.local("voicelab.sdp", { phase: "answer", status: 0, ms: timing(), error });
    throw new CallError(error, "sdp");
  }
  const text = await reply.text();
  if (!reply.ok) {
    const error = describeError("The SDP exchange", reply.status, text);
    mirror.local("voicelab.sdp", { phase: "answer", status: reply.status, ms: timing(), error });
    throw new CallError(error, "sdp");
  }
  mirror.local("voicelab.sdp", { phase: "answer", status: reply.status, ms: timing() });
  return { sdp: text, location: reply.headers.get("Location") };
}

/** Wait until ICE gathering completes (host candidates: quick), so the offer carries them. */
function gatheringDone(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_WAIT_MS);
  });
}

function callId(location) {
  if (!location) return null;
  return location.split("?")[0].split("/").filter(Boolean).pop() || null;
}

/** End the call: channel, peer, microphone, the session row, then let the mirror drain. */
function stop(current = call, reason = null) {
  if (!current) return Promise.resolve();
  if (current.stopped) return current.stopped;
  current.stopping = true;
  current.stopped = (async () => {
    setPhase("stopping");
    if (reason) showError("call-error", `The call ended: ${reason}.`);
    const { mirror, pc, dc } = current;
    mirror?.local("voicelab.call", { phase: "stop" });
    current.stopCountdown?.("–");
    dc?.close();
    if (pc) {
      pc.close(); // close() fires no state events: record and show the final state ourselves
      mirror?.local("voicelab.pc_state", { state: pc.connectionState });
      current.showStates();
    }
    for (const track of current.stream?.getTracks() ?? []) track.stop();
    stopAudio();
    if (current.session) await endSession(current);
    await mirror?.close();
    call = null;
    setPhase("ended");
  })();
  return current.stopped;
}

/** Mark the session row ended (with the call id the service gave, if any). */
function endSession(current) {
  return fetch(`${SESSIONS_URL}/${encodeURIComponent(current.session.id)}/end`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(current.callId ? { call_id: current.callId } : {}),
  }).catch(() => {});
}

// ---- during the call --------------------------------------------------------------------

async function listMicrophones(active) {
  const select = $("mic");
  const devices = await navigator.mediaDevices.enumerateDevices();
  const options = devices
    .filter((d) => d.kind === "audioinput")
    .map((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || `microphone ${i + 1}`;
      option.selected = d.label === active.label;
      return option;
    });
  select.replaceChildren(...options);
}

async function switchMicrophone() {
  const current = call;
  if (!current?.sender) return;
  const muted = $("mute").checked;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { deviceId: { exact: $("mic").value } },
    });
    const track = stream.getAudioTracks()[0];
    track.enabled = !muted;
    await current.sender.replaceTrack(track);
    for (const old of current.stream.getTracks()) old.stop();
    current.stream = stream;
    showMicrophone(stream);
    current.mirror.local("voicelab.mic", { device: track.label, muted });
  } catch (exc) {
    showError("call-error", `Switching the microphone failed: ${exc.message}`);
    current.mirror.local("voicelab.error", { message: exc.message, source: "microphone" });
  }
}

function setMuted() {
  const current = call;
  if (!current?.stream) return;
  const muted = $("mute").checked;
  const track = current.stream.getAudioTracks()[0];
  track.enabled = !muted;
  current.mirror.local("voicelab.mic", { device: track.label, muted });
}

/** Send client events on the call's data channel; false when there is no open channel. */
function sendEvents(events) {
  const dc = call?.dc;
  if (!dc || dc.readyState !== "open") return false;
  for (const event of events) dc.send(JSON.stringify(event));
  return true;
}

function sendText(e) {
  e.preventDefault();
  const input = $("text-input");
  const text = input.value.trim();
  if (text && sendEvents(userMessage(text))) input.value = "";
}

function sendEditorEvent() {
  setText("editor-sent", "");
  const parsed = parseClientEvent($("editor").value);
  if (parsed.error) {
    showError("editor-error", parsed.error);
    return;
  }
  if (!sendEvents([parsed.event])) {
    showError("editor-error", "No open call: start one first (nothing was sent).");
    return;
  }
  showError("editor-error", "");
  setText("editor-sent", `sent ${parsed.event.type}`);
}

function fillTemplate() {
  const name = $("editor-template").value;
  if (!name) return;
  const protocol = call?.session?.protocol || chosenProtocol();
  const settings = call?.settings || readSettings();
  $("editor").value = JSON.stringify(templates(protocol, settings)[name], null, 2);
  showError("editor-error", "");
}

// ---- wiring -----------------------------------------------------------------------------

initSettings();
$("start").addEventListener("click", start);
$("stop").addEventListener("click", () => stop(call));
$("mic").addEventListener("change", switchMicrophone);
$("mute").addEventListener("change", setMuted);
$("text-form").addEventListener("submit", sendText);
$("editor-send").addEventListener("click", sendEditorEvent);
$("editor-template").addEventListener("change", fillTemplate);
window.addEventListener("pagehide", () => {
  if (call?.session) navigator.sendBeacon(`${SESSIONS_URL}/${encodeURIComponent(call.session.id)}/end`);
  call?.pc?.close();
});
setPhase("idle");
root.dataset.ready = "true";

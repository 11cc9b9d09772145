// The call page's status: the phase, the session, the key's lifetime, the peer's and the
// channel's states, the audio levels, the mirror's counts and the list of events. Display only:
// it shows what the call and its mirror report, and starts nothing itself.

import { LevelMeter } from "./levels.js";
import { now } from "./mirror.js";

const $ = (id) => document.getElementById(id);
const root = $("call");
const SESSION_PAGE = root.dataset.sessionPage;
const MAX_LISTED = 1000;
const DIRECTION_MARKS = { server: "↓", client: "↑", local: "•" };

const micMeter = new LevelMeter($("mic-level"));
const remoteMeter = new LevelMeter($("remote-level"));

/** Put `text` in the element `id`. */
export function setText(id, text) {
  $(id).textContent = text;
}

/** Show `message` in the alert `id`; an empty message hides it. */
export function showError(id, message) {
  const el = $(id);
  el.textContent = message || "";
  el.hidden = !message;
}

/** Show the call's phase: idle | starting | live | stopping | ended. */
export function showPhase(phase) {
  setText("call-phase", phase);
  root.dataset.phase = phase;
}

/** Link the session's page. */
export function showSession(id) {
  const link = $("session-link");
  link.href = `${SESSION_PAGE}${encodeURIComponent(id)}`;
  link.textContent = id;
  link.hidden = false;
  $("session-none").hidden = true;
}

/** Count the key's lifetime down each second; the function returned stops it, showing `final`. */
export function countdown(expiresAt) {
  const el = $("key-ttl");
  const tick = () => {
    const left = Math.round(expiresAt - Date.now() / 1000);
    el.textContent = left > 0 ? `${left} s left` : "expired";
  };
  tick();
  const timer = setInterval(tick, 1000);
  return (final) => {
    clearInterval(timer);
    el.textContent = final;
  };
}

/** Empty the list of events, for the next call. */
export function clearEvents() {
  $("event-list").replaceChildren();
}

function eventType(event) {
  if (event.dir === "local") return event.data.type;
  try {
    return JSON.parse(event.data)?.type ?? "(no type)";
  } catch {
    return "(not JSON)";
  }
}

function listEvent(event, startedAt) {
  const type = eventType(event);
  if (type === "voicelab.stats") return;
  const list = $("event-list");
  const item = $("event-row").content.firstElementChild.cloneNode(true);
  item.dataset.dir = event.dir;
  item.dataset.type = type;
  item.classList.add(`dir-${event.dir}`);
  item.querySelector(".t").textContent = `${((event.t - startedAt) / 1000).toFixed(3)}s`;
  item.querySelector(".dir").textContent = DIRECTION_MARKS[event.dir];
  item.querySelector(".type").textContent = type;
  item.querySelector("pre").textContent =
    typeof event.data === "string" ? event.data : JSON.stringify(event.data);
  list.append(item);
  while (list.childElementCount > MAX_LISTED) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

/** List what `mirror` records, with its state, errors and counts, from now on. */
export function showMirror(mirror) {
  const startedAt = now();
  const counts = () => {
    setText("recorded-count", String(mirror.seq));
    setText("acked-seq", String(mirror.acked));
  };
  mirror.addEventListener("record", (e) => {
    listEvent(e.detail, startedAt);
    counts();
  });
  mirror.addEventListener("ack", counts);
  mirror.addEventListener("state", (e) => setText("mirror-state", e.detail));
  mirror.addEventListener("error", (e) =>
    setText("mirror-error", `${e.detail.code}: ${e.detail.message}`),
  );
  setText("mirror-state", mirror.state);
  setText("mirror-error", "");
  counts();
}

/** Show the peer's states as they change; the function returned shows them again. */
export function showPeer(pc) {
  const states = () => {
    setText("pc-state", pc.connectionState);
    setText("ice-state", pc.iceConnectionState);
    setText("ice-gathering", pc.iceGatheringState);
  };
  for (const type of ["connectionstatechange", "iceconnectionstatechange", "icegatheringstatechange"]) {
    pc.addEventListener(type, states);
  }
  states();
  return states;
}

/** Show the data channel's state as it changes. */
export function showChannel(dc) {
  const state = () => setText("dc-state", `${dc.label}: ${dc.readyState}`);
  for (const type of ["open", "closing", "close"]) dc.addEventListener(type, state);
  state();
}

/** Show the level of the microphone's stream. */
export function showMicrophone(stream) {
  micMeter.show(stream);
}

/** Play the service's audio and show its level. */
export function showRemote(stream) {
  $("remote-audio").srcObject = stream;
  remoteMeter.show(stream);
}

/** Stop the levels and the playback: the call is over. */
export function stopAudio() {
  micMeter.stop();
  remoteMeter.stop();
  $("remote-audio").srcObject = null;
}

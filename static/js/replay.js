// Replay a recorded call: the call page's microphone becomes the recording's user channel (its
// left), played in real time by a media element through WebAudio (a splitter, then a
// MediaStreamAudioDestinationNode) whose track the call sends (and records, so the new
// recording holds it too). The element streams the seekable recording as it plays, on its
// timestamps: nothing is decoded whole, however long the call was.
//
// Playback starts when the call is live, and the client events the original page sent by hand
// go out (when asked) at their offsets from the recording's start: both count from the same
// moment, so each event meets the audio it met in the original. When the recording has played,
// the call goes on until the model is done answering, then stops by itself.

import { audioContext } from "./levels.js";

const $ = (id) => document.getElementById(id);
const USER_CHANNEL = 0; // the recorder's left: the microphone as sent (see recorder.js)
const QUIET_MS = 2000; // after the recording: stop once the model has been quiet this long
const LAST_WAIT_MS = 30000; // ... or this long after the recording, whatever the model does
const RETRIES = 30; // a recording being prepared answers 503 with Retry-After
const CALL_WAIT_MS = 15000; // a recorded function output waits this long for the replay's call
const AUDIO_ENDED = new Set(["output_audio_buffer.stopped", "output_audio_buffer.cleared"]);

/** The replay a page at /call?replay=ID shows, its plan loaded and the settings form filled
 * from it; null on any other call page. */
export async function loadReplay() {
  const panel = $("replay");
  if (!panel) return null;
  const replay = new Replay(panel);
  try {
    await replay.load($("settings"));
  } catch (exc) {
    show("failed", exc.message);
  }
  return replay;
}

function show(state, text) {
  const status = $("replay-state");
  status.dataset.state = state;
  status.textContent = text;
}

/**
 * A recorded call to play again: its plan (settings, recording, client events sent by hand)
 * and a media element for the recording. One call at a time follows it.
 */
class Replay {
  constructor(panel) {
    this.panel = panel;
    this.source = panel.dataset.session; // the original's id: the new session's replay_of
    this.checkbox = panel.querySelector("[name=replay_client_events]");
    this.plan = null;
    this.ready = Promise.reject(new Error("Cannot replay: its plan did not load"));
    this.ready.catch(() => {}); // the call that needs it reports it
    this.player = null; // the media element playing the recording in the current call
    this.unused = null; // one loaded for the ready message, not played yet
  }

  /** Load the plan, fill `form` from it, and wait for the recording to be served. */
  async load(form) {
    const reply = await fetch(this.panel.dataset.planUrl);
    if (!reply.ok) throw new Error(`Cannot replay: ${await errorText(reply)}`);
    this.plan = await reply.json();
    this.fill(form);
    this.ready = recordingServed(this.plan.recording).then(() => loaded(this.plan.recording));
    this.ready.then(
      (player) => {
        this.unused = player; // the first call plays this one
        show("ready", `ready: ${player.duration.toFixed(1)} s of the user's audio`);
      },
      (exc) => show("failed", `Cannot replay: ${exc.message}`),
    );
  }

  /** Fill the settings form with the original's; the user may change any before Start. */
  fill(form) {
    const { provider, ...rest } = this.plan.settings;
    // The provider first: choosing one resets the model and voice to its defaults.
    if (provider && [...form.elements.provider.options].some((o) => o.value === provider)) {
      setField(form.elements.provider, provider);
    }
    for (const [name, value] of Object.entries(rest)) {
      if (form.elements[name]) setField(form.elements[name], value);
    }
  }

  /** The microphone of a call: a stream that carries the recording's user channel once the
   * call is live. Each call has an element of its own: an element feeds one graph only. */
  async microphone() {
    await this.ready;
    const context = audioContext();
    const player = this.unused ?? (await loaded(this.plan.recording));
    this.unused = null;
    const splitter = context.createChannelSplitter(2);
    const destination = context.createMediaStreamDestination();
    destination.channelCount = 1;
    const source = context.createMediaElementSource(player);
    source.connect(splitter);
    splitter.connect(destination, USER_CHANNEL);
    this._release(); // a previous call's, should it have ended without an "ended" phase
    this.player = player;
    this.nodes = [source, splitter, destination];
    return destination.stream;
  }

  /** Follow `call`: play when it is live, send the client events, stop it once done. */
  follow(call) {
    const sendEvents = this.checkbox.checked;
    this.checkbox.disabled = true;
    const onPhase = (e) => {
      if (e.detail === "live") this._play(call, sendEvents);
      else if (e.detail === "stopping") this._end(call, "call_stopped");
      else if (e.detail === "ended") {
        call.removeEventListener("phase", onPhase);
        this.checkbox.disabled = false;
        this._release();
      }
    };
    call.addEventListener("phase", onPhase);
  }

  async _play(call, sendEvents) {
    const { player } = this;
    this.timers = [];
    this.ended = false;
    const events = sendEvents ? this.plan.client_events : [];
    try {
      await player.play(); // resolves as the first audio plays: the moment the offsets count from
    } catch (exc) {
      show("failed", `Cannot replay: the recording would not play (${exc.message})`);
      call.mirror.local("voicelab.error", { source: "replay", message: exc.message });
      return;
    }
    if (call.stopping) { // stopped while the element began to play: nothing more to follow
      player.pause();
      return;
    }
    this.playing = true;
    call.mirror.local("voicelab.replay", {
      phase: "start",
      source: this.source,
      client_events: sendEvents,
      events: events.length,
      duration_ms: Math.round(player.duration * 1000),
    });
    show("playing", `playing ${player.duration.toFixed(1)} s of the user's audio`);
    this._send(call, events, watchCalls(call));
    const model = watchModel(call);
    player.addEventListener("ended", () => {
      if (this.ended) return;
      this._end(call, "recording_ended");
      model.quiet(QUIET_MS, LAST_WAIT_MS).then(() => call.stop());
    });
  }

  // The events in their order, each at its offset or after the one before it: an output that
  // waits for the replay's function call keeps the response.create after it in its place.
  async _send(call, events, calls) {
    const started = performance.now();
    for (const step of events) {
      const wait = started + Math.max(0, step.offset_ms) - performance.now();
      if (wait > 0) await new Promise((resolve) => this.timers.push(setTimeout(resolve, wait)));
      if (this.ended) return;
      const event = step.answers ? await answering(call, step, calls) : step.event;
      if (this.ended) return;
      if (event) sendWhenOpen(call, event);
    }
  }

  // Let go of the call's element and nodes: the page's one AudioContext would keep them (and
  // the element its buffered media) for as long as the page stays open.
  _release() {
    for (const node of this.nodes ?? []) node.disconnect();
    this.nodes = [];
    if (this.player) {
      this.player.pause();
      this.player.removeAttribute("src");
      this.player.load();
      this.player = null;
    }
  }

  _end(call, reason) {
    if (!this.playing || this.ended) return;
    this.ended = true;
    this.playing = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.player?.pause();
    call.mirror?.local("voicelab.replay", { phase: "end", source: this.source, reason });
    if (reason === "recording_ended") show("played", "the recording has played");
    else show("stopped", "stopped before the recording's end");
  }
}

/** Set a form field as a user would, so the form's own listeners follow it. */
function setField(field, value) {
  if (field.type === "checkbox") field.checked = Boolean(value);
  else if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === String(value))) {
    field.add(new Option(String(value), String(value)));
    field.value = String(value);
  } else field.value = String(value);
  field.dispatchEvent(new Event("change"));
}

/** Resolves once the server serves the recording: one still being prepared answers 503 with
 * Retry-After, asked again; another failure rejects with what the server said. */
async function recordingServed(url) {
  for (let attempt = 0; ; attempt += 1) {
    const reply = await fetch(url, { headers: { Range: "bytes=0-0" } });
    if (reply.ok) return;
    if (reply.status !== 503 || attempt >= RETRIES) throw new Error(`the recording: ${await errorText(reply)}`);
    const wait = Number(reply.headers.get("Retry-After")) || 1;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

/** A media element holding the recording, resolved once it can play through (its duration
 * known); never added to the page, it plays only into the graph it is given to. */
function loaded(url) {
  return new Promise((resolve, reject) => {
    const player = new Audio();
    player.preload = "auto";
    player.addEventListener("canplaythrough", () => resolve(player), { once: true });
    player.addEventListener("error", () => {
      reject(new Error(`the recording would not load (${player.error?.message || "media error"})`));
    }, { once: true });
    player.src = url;
  });
}

/** What a failed reply said: its JSON error's message, or its text, with its status. */
async function errorText(reply) {
  const text = await reply.text();
  let message = text;
  try {
    message = JSON.parse(text)?.error?.message || text;
  } catch {
    // an HTML error page: its text, cut short
  }
  const plain = message.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return `HTTP ${reply.status}: ${plain.slice(0, 300)}`;
}

/** Send a client event on the call's channel, once it is open (a replay may go live first). */
function sendWhenOpen(call, event) {
  if (call.send([event]) || !call.dc || call.stopping) return;
  call.dc.addEventListener("open", () => call.send([event]), { once: true });
}

/** Call `handle` with each event the service sends on the call's channel (text that is not
 * JSON is no event of the protocol: the mirror keeps it, this skips it). */
function onServerEvent(call, handle) {
  call.dc.addEventListener("message", (e) => {
    let event;
    try {
      event = JSON.parse(e.data);
    } catch {
      return;
    }
    handle(event);
  });
}

/** The ids of the function calls the replay's model makes, in the order it makes them, and
 * next(): a wait for the next one. */
function watchCalls(call) {
  const ids = [];
  const waits = new Set();
  onServerEvent(call, (event) => {
    const item = event.item;
    if (event.type !== "response.output_item.done" || item?.type !== "function_call") return;
    if (!item.call_id || ids.includes(item.call_id)) return;
    ids.push(item.call_id);
    for (const wake of waits) wake();
    waits.clear();
  });
  // A new call, or a quarter second, whichever comes first: the call may stop meanwhile.
  const next = () =>
    new Promise((resolve) => {
      waits.add(resolve);
      setTimeout(() => waits.delete(resolve) && resolve(), 250);
    });
  return { ids, next };
}

/** A recorded function output made the answer of the replay's call in the same place (its ids
 * are its own), once that call is made; null, recorded as an error, when it never is. */
async function answering(call, step, calls) {
  const { call: place, name } = step.answers;
  const began = performance.now();
  while (calls.ids.length <= place && !call.stopping && performance.now() - began < CALL_WAIT_MS) {
    await calls.next();
  }
  const callId = calls.ids[place];
  if (!callId) {
    call.mirror?.local("voicelab.error", {
      source: "replay",
      message: `the replay's model made no function call #${place + 1} (${name}) in ` +
        `${CALL_WAIT_MS / 1000} s: its recorded output was not sent`,
    });
    return null;
  }
  return { ...step.event, item: { ...step.event.item, call_id: callId } };
}

/**
 * Whether the model is busy, from the server's events: a response open, its audio playing, or
 * the user's speech not yet answered. quiet(ms, most) resolves once it has been idle for `ms`,
 * after `most` whatever it does, or as soon as the call stops.
 */
function watchModel(call) {
  const open = new Set();
  let playing = false;
  let speaking = false;
  let changed = performance.now();
  onServerEvent(call, (event) => {
    const id = event.response?.id;
    if (event.type === "response.created" && id) open.add(id);
    else if (event.type === "response.done" && id) open.delete(id);
    else if (event.type === "output_audio_buffer.started") playing = true;
    else if (AUDIO_ENDED.has(event.type)) playing = false;
    else if (event.type === "input_audio_buffer.speech_started") speaking = true;
    else if (event.type === "input_audio_buffer.speech_stopped") speaking = false;
    else return;
    changed = performance.now();
  });
  const busy = () => open.size > 0 || playing || speaking;
  return {
    quiet(ms, most) {
      const began = performance.now();
      return new Promise((resolve) => {
        const check = setInterval(() => {
          const now = performance.now();
          if ((!busy() && now - changed >= ms) || now - began >= most || call.stopping) {
            clearInterval(check);
            resolve();
          }
        }, 100);
      });
    },
  };
}

// The time view: the recording's two waveforms (from the server's peaks) and the event lanes on
// one time axis, with a player. Times are ms from the recording's start unless named `t`
// (the events' clock, as rows carry it in data-t).

import { LANES_H, Lanes, label } from "./timeview_lanes.js";

const MIN_SPAN = 100; // the closest zoom, in ms
const ZOOM = 2; // one button press or a wheel notch of 100 px
const DRAG = 4; // px a press may move and still be a click
const WAVES = [["user", "#2563eb"], ["model", "#16a34a"]];
const WAVE_H = 60;
const AXIS_H = 16;
const HEIGHT = WAVES.length * WAVE_H + LANES_H + AXIS_H;
const REFINE_MS = 150; // a zoom or pan settles this long before the finer peaks are asked for
const MARGIN = 1; // a window of finer peaks reaches a view's span beyond each edge, for panning

class TimeView {
  constructor(root) {
    this.root = root;
    this.canvas = root.querySelector("canvas");
    this.audio = root.querySelector("audio");
    this.position = root.querySelector("[data-testid=timeview-position]");
    this.caption = root.querySelector("[data-testid=timeview-caption]");
    this.lanes = JSON.parse(root.dataset.lanes);
    this.marks = new Lanes(this.lanes);
    this.peaks = null; // the whole call at about a bin a pixel
    this.fine = null; // a window of finer peaks, once zoomed in past the whole call's level
    this.asked = 0; // the latest window asked for: an older reply is dropped
    this.duration = 0;
    this.view = { start: 0, span: 0 };
    this.title = this.canvas.title;
    this.canvas.height = HEIGHT;
    this.canvas.style.height = `${HEIGHT}px`; // the lanes set it, not the stylesheet
    // The page's view starts before the stylesheet may apply: its width, which sets the bins
    // asked for, must not be a bare canvas's 300 px.
    this.canvas.style.width = "100%";
    this.listen();
    this.fetchPeaks({ bins: this.width() }).then((found) => {
      this.peaks = found;
      this.duration = found.duration_ms;
      this.view = { start: 0, span: found.duration_ms };
      this.openAt();
      this.drawnFrom(found);
    }).finally(async () => {
      // The session page loads its events once the view has painted (or failed to), told
      // only once htmx has wired the page's triggers: this module may run first.
      await parsed;
      setTimeout(() => this.root.dispatchEvent(new Event("timeview-ready", { bubbles: true })));
    });
  }

  // Draw after new peaks arrived, counted and marked: the bench times the first paint and a
  // zoom's redraw by them.
  drawnFrom(found) {
    this.draw();
    this.root.dataset.drawn = String(Number(this.root.dataset.drawn || 0) + 1);
    performance.mark("timeview-drawn", { detail: { per_second: found.per_second } });
  }

  width() {
    return this.canvas.clientWidth || 800;
  }

  // Peaks of the whole call or a window (`finest` when the server has no finer ones).
  // A 503 with Retry-After says the server is still preparing the recording (after the call
  // ended): say so and ask again, then reload the player, whose first request met the same.
  async fetchPeaks(params) {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
    const preparing = this.root.querySelector("[data-testid=timeview-preparing]");
    let reply;
    while ((reply = await fetch(`${this.root.dataset.peaks}?${query}`, {
      headers: { Accept: "application/json" },
    })).status === 503 && reply.headers.has("Retry-After")) {
      preparing.hidden = false;
      const seconds = Number(reply.headers.get("Retry-After")) || 2;
      await new Promise((next) => setTimeout(next, seconds * 1000));
    }
    if (!reply.ok) throw new Error(`the time view's peaks: ${reply.status} ${await reply.text()}`);
    if (!preparing.hidden) {
      preparing.hidden = true;
      if (this.audio.error) this.audio.load();
    }
    return reply.json();
  }

  // Zoomed in past the whole call's level, ask (once the view settles) for only the window
  // shown, and its margins, at about a bin a pixel; the coarse level draws meanwhile.
  refine() {
    clearTimeout(this.refining);
    if (!this.peaks) return;
    const perPx = 1000 / this.msPerPx(); // bins a second the view draws one a pixel
    if (this.peaks.finest || perPx <= this.peaks.per_second * 1.5) return;
    if (this.covers(this.fine, perPx)) return;
    this.refining = setTimeout(async () => {
      const asked = ++this.asked;
      const start = Math.max(0, this.view.start - MARGIN * this.view.span);
      const end = Math.min(this.duration, this.view.start + (1 + MARGIN) * this.view.span);
      const bins = Math.ceil(((end - start) / this.view.span) * this.width());
      const found = await this.fetchPeaks({ start_ms: start, end_ms: end, bins });
      if (asked !== this.asked) return;
      this.fine = { ...found, end_ms: end };
      this.root.dataset.fine = `${Math.round(start)}-${Math.round(end)}`; // for tests
      this.drawnFrom(found);
    }, REFINE_MS);
  }

  // Whether a window of peaks holds the whole view at `perPx` bins a second or finer (or the
  // finest there is).
  covers(level, perPx) {
    const end = this.view.start + this.view.span;
    if (!level || level.start_ms > this.view.start || level.end_ms < end) return false;
    return level.finest || level.per_second >= perPx / 1.5;
  }

  // A link with ?at=ms opens at that moment, centred when zoomed.
  openAt() {
    const at = Number(new URLSearchParams(location.search).get("at"));
    if (Number.isFinite(at) && at > 0) this.seek(at, false);
  }

  listen() {
    this.root.addEventListener("click", (event) => {
      const action = event.target.closest("[data-action]")?.dataset.action;
      if (action === "play") this.audio.paused ? this.audio.play() : this.audio.pause();
      else if (action === "zoom-in") this.zoom(1 / ZOOM, this.view.start + this.view.span / 2);
      else if (action === "zoom-out") this.zoom(ZOOM, this.view.start + this.view.span / 2);
    });
    this.root.querySelector("[data-testid=timeview-speed]").addEventListener("change", (event) => {
      this.audio.playbackRate = Number(event.target.value);
    });
    this.canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      this.zoom(ZOOM ** (event.deltaY / 100), this.msAt(event.offsetX));
    }, { passive: false });
    this.canvas.addEventListener("pointerdown", (event) => this.press(event));
    this.canvas.addEventListener("pointermove", (event) => this.hover(event));
    for (const name of ["play", "pause", "seeked", "timeupdate"]) {
      this.audio.addEventListener(name, () => this.played(name));
    }
    window.addEventListener("resize", () => this.draw());
  }

  // A press that stays put seeks there; one that moves pans the view.
  press(event) {
    const x0 = event.offsetX;
    const start0 = this.view.start;
    let moved = false;
    this.canvas.setPointerCapture(event.pointerId);
    const move = (e) => {
      if (Math.abs(e.offsetX - x0) > DRAG) moved = true;
      if (moved) this.pan(start0 - (e.offsetX - x0) * this.msPerPx());
    };
    const up = (e) => {
      this.canvas.removeEventListener("pointermove", move);
      this.canvas.removeEventListener("pointerup", up);
      if (moved) return;
      const mark = this.markAt(e.offsetX, e.offsetY);
      this.seek(mark ? mark.start_ms : this.msAt(e.offsetX), true);
    };
    this.canvas.addEventListener("pointermove", move);
    this.canvas.addEventListener("pointerup", up);
  }

  // A marker in a lane under the pointer: a click seeks to its start, a hover shows its text.
  markAt(px, py) {
    const x = (ms) => (ms - this.view.start) / this.msPerPx();
    return this.marks.at(py - WAVES.length * WAVE_H, px, x, this.duration);
  }

  hover(event) {
    const mark = this.markAt(event.offsetX, event.offsetY);
    this.canvas.title = mark?.label ? label(mark) : this.title;
  }

  msPerPx() {
    return this.view.span / (this.canvas.clientWidth || 1);
  }

  msAt(x) {
    return this.view.start + x * this.msPerPx();
  }

  zoom(factor, around) {
    if (!this.duration) return;
    const span = Math.min(this.duration, Math.max(MIN_SPAN, this.view.span * factor));
    const start = around - (around - this.view.start) * (span / this.view.span);
    this.view.span = span;
    this.pan(start);
  }

  pan(start) {
    this.view.start = Math.min(Math.max(0, start), this.duration - this.view.span);
    this.refine();
    this.draw();
  }

  // Seek the player to ms from the recording's start, keeping the playhead in view.
  seek(ms, remember) {
    const at = Math.min(Math.max(0, ms), this.duration || ms);
    this.audio.currentTime = at / 1000;
    if (at < this.view.start || at > this.view.start + this.view.span) {
      this.pan(at - this.view.span / 2);
    }
    if (remember) this.remember(at);
    this.played("seek");
  }

  // The URL holds the position, so the address bar is a link to this moment.
  remember(at) {
    const url = new URL(location.href);
    url.searchParams.set("at", String(Math.round(at)));
    history.replaceState(history.state, "", url);
  }

  played(name) {
    this.root.querySelector("[data-action=play]").textContent = this.audio.paused ? "Play" : "Pause";
    const at = this.audio.currentTime * 1000;
    if (name === "pause") this.remember(at);
    this.position.textContent = `${(at / 1000).toFixed(2)} s of ${(this.duration / 1000).toFixed(2)} s`;
    this.highlight(this.lanes.t0 + at);
    const words = this.marks.spoken(at, this.duration);
    this.caption.textContent = words.map((span) => `${span.side}: ${span.label}`).join("  ·  ");
    this.draw();
  }

  // The row whose event is the last at or before the playhead.
  highlight(t) {
    let best = null;
    for (const row of document.querySelectorAll("[data-testid=event-row][data-t]")) {
      const rowT = Number(row.dataset.t);
      if (rowT <= t && (!best || rowT >= Number(best.dataset.t))) best = row;
    }
    for (const row of document.querySelectorAll("details.row.playhead")) {
      if (row !== best) row.classList.remove("playhead");
    }
    best?.classList.add("playhead");
  }

  draw() {
    if (!this.peaks) return;
    this.root.dataset.span = String(Math.round(this.view.span)); // the visible span, for tests
    this.root.dataset.start = String(Math.round(this.view.start));
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(HEIGHT * ratio);
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, width, canvas.height);
    WAVES.forEach(([name, colour], i) => this.wave(ctx, name, colour, i * WAVE_H, width));
    const x = (ms) => (ms - this.view.start) / this.msPerPx();
    this.marks.draw(ctx, x, WAVES.length * WAVE_H, width, this.duration);
    this.axis(ctx, WAVES.length * WAVE_H + LANES_H, width);
    ctx.fillStyle = "#dc2626";
    ctx.fillRect(Math.round(x(this.audio.currentTime * 1000)), 0, 1, WAVES.length * WAVE_H + LANES_H);
  }

  // One channel's min and max per pixel, from the bins that pixel covers: the finer window's
  // where it holds the pixel, else the whole call's.
  wave(ctx, name, colour, top, width) {
    const fine = this.fine?.per_second > this.peaks.per_second ? this.fine : null;
    const mid = top + WAVE_H / 2;
    const scale = (WAVE_H / 2 - 2) / 128;
    ctx.fillStyle = colour;
    for (let x = 0; x < width; x++) {
      const level = fine && fine.start_ms <= this.msAt(x) && this.msAt(x + 1) <= fine.end_ms
        ? fine : this.peaks;
      const { min, max } = level.channels[name];
      const perMs = level.per_second / 1000;
      const a = Math.floor((this.msAt(x) - level.start_ms) * perMs);
      const b = Math.max(a + 1, Math.floor((this.msAt(x + 1) - level.start_ms) * perMs));
      let low = 0;
      let high = 0;
      for (let i = Math.max(0, a); i < b && i < min.length; i++) {
        if (min[i] < low) low = min[i];
        if (max[i] > high) high = max[i];
      }
      ctx.fillRect(x, mid - high * scale, 1, Math.max(1, (high - low) * scale));
    }
    ctx.fillStyle = "#64748b";
    ctx.font = "11px sans-serif";
    ctx.fillText(name, 4, top + 12);
  }

  // Ticks at a round step that leaves about 80 px between labels.
  axis(ctx, top, width) {
    const steps = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000].map((p) => m * p));
    const step = steps.sort((a, b) => a - b).find((s) => s / this.msPerPx() >= 80) ?? 600000;
    ctx.fillStyle = "#64748b";
    for (let ms = Math.ceil(this.view.start / step) * step; ms <= this.view.start + this.view.span; ms += step) {
      const x = (ms - this.view.start) / this.msPerPx();
      ctx.fillRect(x, top, 1, 4);
      ctx.fillText(ms < 1000 ? `${ms} ms` : `${ms / 1000} s`, x + 2, top + 13);
    }
  }
}

// The view comes in the page (the session page's script tag follows it) or as an htmx partial;
// rows clicked below seek it to their event's time.
// htmx:load may name the partial more than once (its own swap, then an ancestor's load): a
// second TimeView on the same root would double every listener, and Play would play and pause.
// The compare page holds two views, so each root is remembered, not only the latest.
let current = null;
const viewed = new WeakSet();
// The document parsed: htmx wires its triggers on DOMContentLoaded (a timer after it runs after
// every listener of it). "interactive" may come before that event or after it: the window's
// load, which always follows it, settles that case.
const parsed = document.readyState === "complete" ? Promise.resolve() : new Promise((resolve) => {
  document.addEventListener("DOMContentLoaded", resolve, { once: true });
  window.addEventListener("load", resolve, { once: true });
});
const inline = document.querySelector("[data-testid=timeview]"); // the page's own, parsed already
if (inline) {
  viewed.add(inline);
  current = new TimeView(inline);
}
document.addEventListener("htmx:load", (event) => {
  const root = event.detail.elt.querySelector?.("[data-testid=timeview]")
    ?? (event.detail.elt.matches?.("[data-testid=timeview]") ? event.detail.elt : null);
  if (root && !viewed.has(root)) {
    viewed.add(root);
    current = new TimeView(root);
  }
});

document.addEventListener("click", (event) => {
  const row = event.target.closest("[data-testid=event-row][data-t] > summary")?.parentElement;
  if (!row || !current) return;
  current.seek(Number(row.dataset.t) - current.lanes.t0, true);
});

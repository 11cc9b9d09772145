// The time view: the recording's two waveforms (from the server's peaks) and the event lanes on
// one time axis, with a player. Times are ms from the recording's start unless named `t`
// (the events' clock, as rows carry it in data-t).

const MIN_SPAN = 100; // the closest zoom, in ms
const ZOOM = 2; // one button press or a wheel notch of 100 px
const DRAG = 4; // px a press may move and still be a click
const WAVES = [["user", "#2563eb"], ["model", "#16a34a"]];
const LANES = [["vad", "VAD speech", "#93c5fd"], ["responses", "responses", "#c4b5fd"],
  ["audio", "output audio", "#86efac"], ["errors", "errors", "#dc2626"]];
const WAVE_H = 60;
const LANE_H = 16;
const AXIS_H = 16;

class TimeView {
  constructor(root) {
    this.root = root;
    this.canvas = root.querySelector("canvas");
    this.audio = root.querySelector("audio");
    this.position = root.querySelector("[data-testid=timeview-position]");
    this.lanes = JSON.parse(root.dataset.lanes);
    this.peaks = null;
    this.duration = 0;
    this.view = { start: 0, span: 0 };
    this.finest = false; // the server has no finer peaks than the ones held
    this.canvas.height = WAVES.length * WAVE_H + LANES.length * LANE_H + AXIS_H;
    this.listen();
    this.load(this.canvas.clientWidth || 800).then(() => this.openAt());
  }

  // Peaks with about one bin a pixel for the view; a finer level only when a zoom needs it.
  async load(bins) {
    const url = `${this.root.dataset.peaks}?bins=${Math.max(1, Math.ceil(bins))}`;
    const reply = await fetch(url, { headers: { Accept: "application/json" } });
    if (!reply.ok) throw new Error(`the time view's peaks: ${reply.status} ${await reply.text()}`);
    const found = await reply.json();
    if (this.peaks && found.per_second <= this.peaks.per_second) this.finest = true;
    this.peaks = found;
    if (!this.duration) {
      this.duration = found.duration_ms;
      this.view = { start: 0, span: found.duration_ms };
    }
    this.draw();
    // Each waveform drawn from newly fetched peaks, counted and marked: the bench times the
    // first paint and a zoom's redraw by them.
    this.root.dataset.drawn = String(Number(this.root.dataset.drawn || 0) + 1);
    performance.mark("timeview-drawn", { detail: { per_second: found.per_second } });
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
      if (!moved) this.seek(this.msAt(e.offsetX), true);
    };
    this.canvas.addEventListener("pointermove", move);
    this.canvas.addEventListener("pointerup", up);
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
    const wanted = (this.canvas.clientWidth * this.duration) / span;
    const held = (this.peaks.per_second * this.duration) / 1000;
    if (!this.finest && wanted > held * 1.5) this.load(wanted * 2);
  }

  pan(start) {
    this.view.start = Math.min(Math.max(0, start), this.duration - this.view.span);
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
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round((WAVES.length * WAVE_H + LANES.length * LANE_H + AXIS_H) * ratio);
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, width, canvas.height);
    WAVES.forEach(([name, colour], i) => this.wave(ctx, name, colour, i * WAVE_H, width));
    LANES.forEach(([name, label, colour], i) => {
      this.lane(ctx, name, label, colour, WAVES.length * WAVE_H + i * LANE_H, width);
    });
    this.axis(ctx, WAVES.length * WAVE_H + LANES.length * LANE_H, width);
    const x = (this.audio.currentTime * 1000 - this.view.start) / this.msPerPx();
    ctx.fillStyle = "#dc2626";
    ctx.fillRect(Math.round(x), 0, 1, WAVES.length * WAVE_H + LANES.length * LANE_H);
  }

  // One channel's min and max per pixel, from the bins that pixel covers.
  wave(ctx, name, colour, top, width) {
    const { min, max } = this.peaks.channels[name];
    const perMs = this.peaks.per_second / 1000;
    const mid = top + WAVE_H / 2;
    const scale = (WAVE_H / 2 - 2) / 128;
    ctx.fillStyle = colour;
    for (let x = 0; x < width; x++) {
      const a = Math.floor(this.msAt(x) * perMs);
      const b = Math.max(a + 1, Math.floor(this.msAt(x + 1) * perMs));
      let low = 0;
      let high = 0;
      for (let i = a; i < b && i < min.length; i++) {
        if (min[i] < low) low = min[i];
        if (max[i] > high) high = max[i];
      }
      ctx.fillRect(x, mid - high * scale, 1, Math.max(1, (high - low) * scale));
    }
    ctx.fillStyle = "#64748b";
    ctx.font = "11px sans-serif";
    ctx.fillText(name, 4, top + 12);
  }

  lane(ctx, name, label, colour, top, width) {
    ctx.fillStyle = colour;
    for (const span of this.lanes[name]) {
      const end = span.end_ms ?? this.duration;
      const x0 = (span.start_ms - this.view.start) / this.msPerPx();
      const x1 = (end - this.view.start) / this.msPerPx();
      if (x1 < 0 || x0 > width) continue;
      ctx.fillRect(x0, top + 2, Math.max(2, x1 - x0), LANE_H - 4);
    }
    ctx.fillStyle = "#64748b";
    ctx.fillText(label, 4, top + LANE_H - 4);
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

// The view arrives as an htmx partial; rows clicked below seek it to their event's time.
let current = null;
document.addEventListener("htmx:load", (event) => {
  const root = event.detail.elt.querySelector?.("[data-testid=timeview]")
    ?? (event.detail.elt.matches?.("[data-testid=timeview]") ? event.detail.elt : null);
  if (root) current = new TimeView(root);
});

document.addEventListener("click", (event) => {
  const row = event.target.closest("[data-testid=event-row][data-t] > summary")?.parentElement;
  if (!row || !current) return;
  current.seek(Number(row.dataset.t) - current.lanes.t0, true);
});

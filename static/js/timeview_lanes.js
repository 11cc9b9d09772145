// The time view's lanes under the waveforms: how each draws its spans and their labels, and
// which span lies under a point (a click seeks to it, a hover shows its full text) or under the
// playhead (the caption). Spans are ms from the recording's start; an end of null runs to the end.

export const LANE_H = 16;
const TEXT = "#1e293b";
const MUTED = "#64748b";
const MARK_PX = 3; // a point or a thin span is hit this many px either side
const CAPTION_MS = 2000; // a transcript with no known span captions this long after it came

// The transcript has a row a side, so words spoken over each other both stay readable.
const LANES = [
  { name: "vad", label: "VAD speech", colour: "#93c5fd" },
  { name: "responses", label: "responses", colour: "#c4b5fd" },
  { name: "audio", label: "output audio", colour: "#86efac" },
  { name: "tools", label: "tool calls", colour: "#fcd34d", text: true },
  { name: "errors", label: "errors", colour: "#dc2626" },
  { name: "transcript", side: "user", label: "user said", colour: "#dbeafe", text: true },
  { name: "transcript", side: "model", label: "model said", colour: "#dcfce7", text: true },
];
const UNANSWERED = "#fca5a5";

export const LANES_H = LANES.length * LANE_H;

export class Lanes {
  constructor(data) {
    this.data = data;
  }

  spans(lane) {
    const all = this.data[lane.name] ?? [];
    return lane.side ? all.filter((span) => span.side === lane.side) : all;
  }

  // Each lane's spans between the view's edges (`x` maps ms to px), labels at the left.
  draw(ctx, x, top, width, duration) {
    ctx.font = "11px sans-serif";
    LANES.forEach((lane, i) => {
      const y = top + i * LANE_H;
      for (const span of this.spans(lane)) {
        const x0 = x(span.start_ms);
        const x1 = Math.max(x0 + 2, x(span.end_ms ?? duration));
        if (x1 < 0 || x0 > width) continue;
        ctx.fillStyle = span.error ? UNANSWERED : lane.colour;
        ctx.fillRect(x0, y + 2, x1 - x0, LANE_H - 4);
        if (lane.text && span.label) {
          ctx.fillStyle = span.error ? "#991b1b" : TEXT;
          const left = Math.max(x0, 0) + 3;
          ctx.fillText(fit(ctx, label(span), Math.min(x1, width) - left - 3), left, y + LANE_H - 4);
        }
      }
      ctx.fillStyle = MUTED;
      ctx.fillText(lane.label, 4, y + LANE_H - 4);
    });
  }

  // The span at `px` (`x` maps ms to px) in the lane `y` px below the lanes' top, or null.
  at(y, px, x, duration) {
    const lane = LANES[Math.floor(y / LANE_H)];
    if (!lane) return null;
    return this.spans(lane).find((span) => x(span.start_ms) - MARK_PX <= px
      && px <= Math.max(x(span.start_ms) + 2, x(span.end_ms ?? duration)) + MARK_PX) ?? null;
  }

  // The words spoken at ms `at`, each side's, for the caption line.
  spoken(at, duration) {
    return (this.data.transcript ?? []).filter((span) => {
      const end = span.end_ms === span.start_ms ? span.start_ms + CAPTION_MS : span.end_ms;
      return span.start_ms <= at && at <= (end ?? duration);
    });
  }
}

// A span's text: the words, or the tool's name, marked when no answer came.
export function label(span) {
  return span.error ? `${span.label} (no answer)` : span.label;
}

// `text` cut with an ellipsis to fit `width` px ("" when not even one letter does).
function fit(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= width) low = mid;
    else high = mid - 1;
  }
  return low ? `${text.slice(0, low)}…` : "";
}

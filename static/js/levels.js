// Live audio levels of a MediaStream shown in a <meter>, measured with Web Audio.

const INTERVAL_MS = 100;
let context = null;

/** The page's one AudioContext, created (or resumed) on a user gesture such as Start. */
export function audioContext() {
  if (!context) context = new AudioContext();
  if (context.state === "suspended") context.resume().catch(() => {});
  return context;
}

/** Show the RMS level of `stream` in `meter` until stop() is called. */
export class LevelMeter {
  constructor(meter) {
    this.meter = meter;
    this.timer = null;
    this.source = null;
  }

  show(stream) {
    this.stop();
    let analyser;
    try {
      const ctx = audioContext();
      this.source = ctx.createMediaStreamSource(stream);
      analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      this.source.connect(analyser);
    } catch {
      return; // no Web Audio here: the meter just stays at zero
    }
    const samples = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      // RMS of speech sits around 0.05-0.3: a square root spreads it over the meter.
      this.meter.value = Math.min(1, Math.sqrt(Math.sqrt(sum / samples.length)));
    }, INTERVAL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.source?.disconnect();
    this.source = null;
    this.meter.value = 0;
  }
}

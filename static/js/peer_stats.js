// A peer connection's getStats() reports as the mirror's voicelab.stats samples (mirror.js
// takes one a second while the call is connected).

function rounded(value, factor = 1, digits = 3) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  return Number((value * factor).toFixed(digits));
}

/** One voicelab.stats sample from a peer connection's getStats(). */
export async function statsSample(pc) {
  const report = await pc.getStats();
  let transport, pair, inbound, source;
  report.forEach((s) => {
    if (s.type === "transport") transport = s;
    else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair ??= s;
    else if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s;
    else if (s.type === "media-source" && s.kind === "audio") source = s;
  });
  if (transport?.selectedCandidatePairId) pair = report.get(transport.selectedCandidatePairId) || pair;
  return {
    rtt_ms: rounded(pair?.currentRoundTripTime, 1000, 1),
    jitter_ms: rounded(inbound?.jitter, 1000, 1),
    packets_lost: inbound?.packetsLost ?? null,
    audio_level_in: rounded(source?.audioLevel), // the microphone, going in to the service
    audio_level_out: rounded(inbound?.audioLevel), // the service's voice, coming out
    bytes_in: transport?.bytesReceived ?? pair?.bytesReceived ?? null,
    bytes_out: transport?.bytesSent ?? pair?.bytesSent ?? null,
  };
}

/** Record a voicelab.stats sample with `local(type, fields)` every `intervalMs` while `pc` is
 * connected (a failed sample, a voicelab.error); returns the function that stops it. */
export function sampleStats(pc, intervalMs, local) {
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || pc.connectionState !== "connected") return;
    busy = true;
    try {
      local("voicelab.stats", await statsSample(pc));
    } catch (exc) {
      local("voicelab.error", { message: String(exc?.message || exc), source: "stats" });
    } finally {
      busy = false;
    }
  }, intervalMs);
  return () => clearInterval(timer);
}

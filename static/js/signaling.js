// A call's exchanges with the service over HTTP: its errors as the service said them, the SDP
// offer POSTed with the ephemeral key and the answer checked, and the wait for ICE gathering.

const GATHER_WAIT_MS = 2000;

/** A failure to show as the service (or Voice Lab) said it. */
export class CallError extends Error {
  constructor(message, source) {
    super(message);
    this.source = source;
  }
}

/** The message of a JSON error body ({error: {message, source, status, code}}), else the text. */
export function describeError(what, status, text) {
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

/** The SDP POST: only Authorization and Content-Type, the answer checked before it is used. */
export async function postOffer(mirror, url, key, sdp) {
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
export function gatheringDone(pc) {
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

/** The service's id for the call: the last part of the SDP answer's Location, if any. */
export function callId(location) {
  if (!location) return null;
  return location.split("?")[0].split("/").filter(Boolean).pop() || null;
}

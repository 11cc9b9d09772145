// The official Agents SDK's realtime session, unchanged, in a page: a RealtimeAgent with one
// tool, over the SDK's own WebRTC transport. The test calls `voiceLabSdk.start(...)` with a key
// minted by Voice Lab and the emulator's calls URL, then reads `voiceLabSdk.state`.
import { OpenAIRealtimeWebRTC, RealtimeAgent, RealtimeSession, tool } from "@openai/agents-realtime";
import { z } from "zod";

const state = {
  phase: "ready", // ready -> connecting -> connected, or failed
  failure: "",
  events: [], // every server event the transport received, as parsed
  sent: [], // every client event the SDK sent on its data channel, as parsed
  errors: [],
  toolRuns: [], // the arguments each run of get_weather had
};

// The SDK sends on the data channel it creates inside connect() and emits only what it
// receives: watching the browser's send is how the page sees its client events (session.update,
// the function output, response.create) without changing the SDK.
const send = RTCDataChannel.prototype.send;
RTCDataChannel.prototype.send = function (data) {
  if (typeof data === "string") state.sent.push(JSON.parse(data));
  return send.call(this, data);
};

const getWeather = tool({
  name: "get_weather",
  description: "The current weather in a city.",
  parameters: z.object({ city: z.string().describe("The city, e.g. Paris") }),
  async execute({ city }) {
    state.toolRuns.push({ city });
    return JSON.stringify({ city, temperature: 21, conditions: "sunny" });
  },
});

const agent = new RealtimeAgent({
  name: "Weather assistant",
  instructions: "Answer briefly. Use get_weather for questions about the weather.",
  tools: [getWeather],
});

let session = null;

/** Connect: `key` an ephemeral key, `url` the calls URL, `config` the SDK's session config. */
async function start({ key, url, config = {} }) {
  state.phase = "connecting";
  session = new RealtimeSession(agent, {
    transport: new OpenAIRealtimeWebRTC({ baseUrl: url }),
    config,
  });
  session.on("transport_event", (event) => state.events.push(event));
  session.on("error", (event) => state.errors.push(String(event.error?.message ?? event.error)));
  try {
    await session.connect({ apiKey: key });
    state.phase = "connected";
  } catch (error) {
    state.phase = "failed";
    state.failure = String(error?.message ?? error);
  }
  return state.phase;
}

/** Hang up. */
function stop() {
  session?.close();
}

window.voiceLabSdk = { start, stop, state };
document.querySelector("[data-testid=sdk-phase]").textContent = "ready";

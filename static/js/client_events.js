// Client events in the protocol's own shape: the initial session.update (GA nested or beta flat)
// and the templates of the raw event editor. Pure functions, no DOM.

const TRANSCRIPTION_MODEL = "whisper-1";

/** The turn_detection object for the chosen VAD settings, or null when VAD is off. */
export function turnDetection(vad) {
  if (!vad || vad.type === "none") return null;
  if (vad.type === "semantic_vad") {
    return {
      type: "semantic_vad",
      eagerness: vad.eagerness || "auto",
      create_response: true,
      interrupt_response: true,
    };
  }
  return {
    type: "server_vad",
    threshold: vad.threshold,
    prefix_padding_ms: vad.prefix_padding_ms,
    silence_duration_ms: vad.silence_duration_ms,
    create_response: true,
    interrupt_response: true,
  };
}

/** The `session` object of a session.update (and of the mint request) for `protocol`. */
export function sessionConfig(protocol, settings) {
  const transcription = settings.transcription ? { model: TRANSCRIPTION_MODEL } : null;
  const detection = turnDetection(settings.vad);
  if (protocol === "beta") {
    return {
      instructions: settings.instructions,
      voice: settings.voice,
      turn_detection: detection,
      input_audio_transcription: transcription,
    };
  }
  return {
    type: "realtime",
    instructions: settings.instructions,
    audio: {
      input: { turn_detection: detection, transcription },
      output: { voice: settings.voice },
    },
  };
}

/** The session.update a call sends when its data channel opens. */
export function sessionUpdate(protocol, settings) {
  return { type: "session.update", session: sessionConfig(protocol, settings) };
}

/** A user text message followed by a response request: the two events the text box sends. */
export function userMessage(text) {
  return [
    {
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    },
    { type: "response.create" },
  ];
}

/** The raw editor's templates by name, for `protocol` and the call's current settings. */
export function templates(protocol, settings) {
  return {
    "session.update": sessionUpdate(protocol, settings),
    "response.create": { type: "response.create" },
    "conversation.item.create": userMessage("Hello!")[0],
    "response.cancel": { type: "response.cancel" },
    "output_audio_buffer.clear": { type: "output_audio_buffer.clear" },
    "input_audio_buffer.clear": { type: "input_audio_buffer.clear" },
  };
}

/**
 * Parse the editor's text into a client event: {event} or {error} with the parse error.
 * Only a JSON object with a string `type` is an event.
 */
export function parseClientEvent(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (exc) {
    return { error: `Invalid JSON: ${exc.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "A client event must be a JSON object like {\"type\": \"response.create\"}" };
  }
  if (typeof value.type !== "string" || !value.type) {
    return { error: "A client event needs a string \"type\" field" };
  }
  return { event: value };
}

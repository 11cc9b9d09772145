// The call page's settings form: what the next call mints and configures. It freezes while a
// call runs, since its choices went into that call's mint and first session.update.

const form = document.getElementById("settings");

function providerOption() {
  return form.elements.provider.selectedOptions[0];
}

function isEmulator() {
  return form.elements.provider.value === "emulator";
}

/** The protocol flavour ("ga" or "beta") the chosen provider speaks. */
export function chosenProtocol() {
  return isEmulator() ? form.elements.protocol.value : providerOption().dataset.protocol;
}

/** The choices of the settings form. */
export function readSettings() {
  const f = form.elements;
  return {
    provider: f.provider.value,
    protocol: chosenProtocol(),
    model: f.model.value.trim(),
    voice: f.voice.value.trim(),
    instructions: f.instructions.value,
    vad: {
      type: f.vad_type.value,
      threshold: Number(f.threshold.value),
      prefix_padding_ms: Number(f.prefix_padding_ms.value),
      silence_duration_ms: Number(f.silence_duration_ms.value),
      eagerness: f.eagerness.value,
    },
    transcription: f.transcription.checked,
    // Absent when the app records nothing (VOICE_LAB_RECORDING=off).
    record: Boolean(f.record?.checked),
    scenario: f.scenario.value,
    script: f.script.value,
    label: f.label.value.trim(),
  };
}

/** Disable (or enable again) every field of the form. */
export function lockSettings(locked) {
  for (const el of form.elements) el.disabled = locked;
}

function showProviderFields() {
  const option = providerOption();
  form.elements.model.value = option.dataset.model;
  form.elements.voice.value = option.dataset.voice;
  showEmulatorFields();
}

function showEmulatorFields() {
  for (const el of form.querySelectorAll("[data-emulator-only]")) el.hidden = !isEmulator();
}

function showVadFields() {
  const type = form.elements.vad_type.value;
  for (const el of form.querySelectorAll("[data-vad]")) el.hidden = el.dataset.vad !== type;
}

/** Wire the form: fields follow the provider and the VAD type; it never submits itself. */
export function initSettings() {
  form.addEventListener("submit", (e) => e.preventDefault());
  form.elements.provider.addEventListener("change", showProviderFields);
  form.elements.vad_type.addEventListener("change", showVadFields);
  showEmulatorFields();
  showVadFields();
}

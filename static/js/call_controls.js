// The call page's controls: the microphone and mute, a text message, and the raw client event
// editor. They act on the call the page holds, through its methods, and start none themselves.

import { chosenProtocol, readSettings } from "./call_settings.js";
import { setText, showError } from "./call_status.js";
import { parseClientEvent, templates, userMessage } from "./client_events.js";

const $ = (id) => document.getElementById(id);

/** List the microphones to choose from, the one of the `active` track selected; a replay's one
 * choice is its recording. */
export async function listMicrophones(active, replaying = false) {
  if (replaying) { // the recording is what the call sends: no device to switch to
    $("mic").replaceChildren(new Option("the recording's user channel", ""));
    $("mic").disabled = true;
    return;
  }
  $("mic").disabled = false;
  const devices = await navigator.mediaDevices.enumerateDevices();
  const options = devices
    .filter((d) => d.kind === "audioinput")
    .map((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || `microphone ${i + 1}`;
      option.selected = d.label === active.label;
      return option;
    });
  $("mic").replaceChildren(...options);
}

/** Enable the controls of a live call, or disable them. */
export function enableControls(enabled) {
  $("controls").disabled = !enabled;
}

/** Wire the controls to the call `currentCall()` returns (null when there is none). */
export function initControls(currentCall) {
  // Events go out on the call's data channel; false when it has no open one.
  const send = (events) => currentCall()?.send(events) ?? false;

  $("mic").addEventListener("change", () =>
    currentCall()?.switchMicrophone($("mic").value, $("mute").checked),
  );
  $("mute").addEventListener("change", () => currentCall()?.setMuted($("mute").checked));
  $("text-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("text-input");
    const text = input.value.trim();
    if (text && send(userMessage(text))) input.value = "";
  });
  $("editor-send").addEventListener("click", () => {
    setText("editor-sent", "");
    const parsed = parseClientEvent($("editor").value);
    if (parsed.error) {
      showError("editor-error", parsed.error);
      return;
    }
    if (!send([parsed.event])) {
      showError("editor-error", "No open call: start one first (nothing was sent).");
      return;
    }
    showError("editor-error", "");
    setText("editor-sent", `sent ${parsed.event.type}`);
  });
  $("editor-template").addEventListener("change", () => {
    const name = $("editor-template").value;
    if (!name) return;
    const call = currentCall();
    const protocol = call?.session?.protocol || chosenProtocol();
    const settings = call?.settings || readSettings();
    $("editor").value = JSON.stringify(templates(protocol, settings)[name], null, 2);
    showError("editor-error", "");
  });
}

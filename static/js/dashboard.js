// The dashboard's small behaviours: rows stay expanded across live re-renders, copy buttons.

const openRows = new Map(); // swap target -> ids of the rows that were open in it

document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  const ids = [...target.querySelectorAll("details[open][id]")].map((d) => d.id);
  if (target.matches("details[open][id]")) ids.push(target.id);
  openRows.set(target.id || target, ids);
});

document.addEventListener("htmx:afterSwap", (event) => {
  const key = event.detail.target.id || event.detail.target;
  const ids = openRows.get(key) || [];
  openRows.delete(key);
  for (const id of ids) {
    const row = document.getElementById(id);
    if (row && !row.open) row.open = true;
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
});

// Filters leave empty fields out of the request, so the URL a view is shared by stays short.
document.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.verb !== "get" || !event.detail.elt.closest("#filters")) return;
  const params = event.detail.parameters; // htmx 2: an object view of the form's data
  for (const name of Object.keys(params)) {
    if (params[name] === "") delete params[name];
  }
});

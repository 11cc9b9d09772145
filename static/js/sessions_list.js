// The sessions list: select two rows and compare them. The selection is kept here, not in the
// table, because the table is re-rendered every 2 s while a call is live (and on each sort or
// filter): each new table gets its boxes ticked again from it.

const selected = new Set(); // session ids, in the order they were ticked

function compareButton() {
  return document.getElementById("compare");
}

function refresh() {
  const button = compareButton();
  if (!button) return;
  button.disabled = selected.size !== 2;
  button.title = selected.size === 2
    ? "Compare the two selected sessions"
    : `Select two sessions to compare (${selected.size} selected)`;
}

function boxes(root) {
  return [...root.querySelectorAll("input[data-select-session]")];
}

document.addEventListener("change", (event) => {
  const box = event.target.closest("input[data-select-session]");
  if (!box) return;
  if (box.checked) selected.add(box.dataset.selectSession);
  else selected.delete(box.dataset.selectSession);
  refresh();
});

document.addEventListener("htmx:afterSwap", () => {
  const table = document.getElementById("sessions");
  if (!table) return;
  const shown = new Set();
  for (const box of boxes(table)) {
    shown.add(box.dataset.selectSession);
    box.checked = selected.has(box.dataset.selectSession);
  }
  // A session filtered out or deleted is no longer one of the two to compare.
  for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
  refresh();
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("#compare");
  if (!button || selected.size !== 2) return;
  const [a, b] = selected;
  const query = new URLSearchParams({ a, b });
  window.location.assign(`${button.dataset.compareUrl}?${query}`);
});

// The filters leave empty fields out of the request, so the URL the list is shared by stays short.
document.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.verb !== "get" || !event.detail.elt.closest("#session-filters")) return;
  const params = event.detail.parameters;
  for (const name of Object.keys(params)) {
    if (params[name] === "") delete params[name];
  }
});

// A filter the server refuses (a 400 that says what to fix) leaves the table as it was: say why.
document.addEventListener("htmx:responseError", (event) => {
  const said = document.getElementById("list-error");
  if (!said || event.detail.target.id !== "sessions") return;
  const page = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
  said.textContent = `Not updated: ${page.querySelector("p")?.textContent || event.detail.xhr.statusText}`;
  said.hidden = false;
});

document.addEventListener("htmx:afterSwap", (event) => {
  const said = document.getElementById("list-error");
  if (said && event.detail.target.id === "sessions") said.hidden = true;
});

// A page restored by the browser may keep boxes ticked: start from what it shows.
for (const box of boxes(document)) if (box.checked) selected.add(box.dataset.selectSession);
refresh();

// The mirror's states (mirror.js): the name of each, the name pages are shown for it, and
// where each goes when its socket is lost or close() is called.

// A mirror's one state, by name, and the name pages are shown for it (`state`, "state" events).
// The states before the first welcome are apart because that welcome alone says whether the
// session already held events (a reloaded page); the closing ones, because only a welcomed
// socket may carry the last events.
export const SHOWN = {
  connecting: "connecting", // the first socket, not welcomed yet
  retrying: "reconnecting", // not welcomed yet, a socket failed: trying again
  open: "open", // welcomed: events go out as they are recorded
  idle: "idle", // everything acked, the server closed the quiet socket: record() reconnects
  resuming: "connecting", // welcomed before, idle: a socket for the next events
  reconnecting: "reconnecting", // welcomed before, the socket lost: trying again
  leaving: "closing", // close() before any welcome: waiting briefly for one
  closing: "closing", // close() with the socket lost: trying again, briefly
  draining: "closing", // close() on a welcomed socket: sending the last events
  unusable: "closed", // the URL cannot be opened: events are recorded, never sent
  closed: "closed", // done: nothing more is recorded
};
export const UNWELCOMED = new Set(["connecting", "retrying", "leaving"]);
export const SENDING = new Set(["open", "draining"]);
export const CLOSING = new Set(["leaving", "closing", "draining"]);
// Where each state goes when its socket is lost, and when close() is called (once only).
export const ON_SOCKET_LOST = {
  connecting: "retrying",
  retrying: "retrying",
  open: "reconnecting",
  reconnecting: "reconnecting",
  resuming: "reconnecting",
  leaving: "leaving",
  closing: "closing",
  draining: "closing",
};
export const ON_CLOSE = {
  connecting: "leaving",
  retrying: "leaving",
  unusable: "leaving",
  open: "draining",
  reconnecting: "closing",
  idle: "closing",
  resuming: "closing",
};

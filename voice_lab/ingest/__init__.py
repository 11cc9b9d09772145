"""Taking events in: the mirror protocol spoken over the websocket, the broker that tells
waiting pages something new was stored, and the panels' fold as stored (panel_state)."""

"""Taking events in: the mirror protocol spoken over the websocket, and the broker that tells
waiting pages something new was stored."""

"""Serving: the WebSocket server, the client protocol, limits and the per-connection outbox."""

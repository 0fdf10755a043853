"""The agent console: a page for staff users over the hub's REST API and inbox WebSocket."""

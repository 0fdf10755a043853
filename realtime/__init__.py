"""WebSocket subscriptions: consumers, routing and this process's fan-out."""

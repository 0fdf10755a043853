"""An asyncio client of the WhatsApp Hub socket protocol (docs/websocket.md), on `websockets`."""

from whatsapp_hub_client.client import HubClient, HubClosed, HubRequestError
from whatsapp_hub_client.policy import (
    PROTOCOL_VERSION,
    STOP_CODES,
    backoff_delay,
    should_reconnect,
    with_after,
)

__version__ = "0.1.0"

__all__ = [
    "PROTOCOL_VERSION",
    "STOP_CODES",
    "HubClient",
    "HubClosed",
    "HubRequestError",
    "__version__",
    "backoff_delay",
    "should_reconnect",
    "with_after",
]

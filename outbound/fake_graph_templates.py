"""The fake Graph API's message templates: `GET /<version>/<waba_id>/message_templates`, in Meta's format.

Meta's reference: https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates
A page is `{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}`; `next` is absent on
the last page.
"""

from __future__ import annotations

import base64
import copy
import re
from typing import Any
from urllib.parse import parse_qs, urlencode

TEMPLATES_PATH = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<waba>[0-9]{1,32})/message_templates$")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

SAMPLE_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "order_update",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your order {{2}} is on its way. Reply here if anything is wrong.",
                "example": {"body_text": [["Maria", "#48213"]]},
            },
            {"type": "FOOTER", "text": "Acme Kitchen"},
        ],
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "id": "1187634521980243",
    },
    {
        "name": "hello_world",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {
                "type": "BODY",
                "text": "Welcome and congratulations!! This message demonstrates your ability to send a "
                "WhatsApp message notification from the Cloud API, hosted by Meta.",
            },
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
        ],
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "id": "1208493717340321",
    },
    {
        "name": "spring_sale",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "HEADER",
                "format": "IMAGE",
                "example": {"header_handle": ["https://scontent.whatsapp.net/v/t61.29466-34/spring.jpg"]},
            },
            {
                "type": "BODY",
                "text": "Our spring sale starts {{1}}: {{2}} off every blender.",
                "example": {"body_text": [["Monday", "20%"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [{"type": "QUICK_REPLY", "text": "Stop promotions"}],
            },
        ],
        "language": "en_US",
        "status": "APPROVED",
        "category": "MARKETING",
        "id": "1320571188835574",
    },
    {
        "name": "pedido_enviado",
        "parameter_format": "POSITIONAL",
        "components": [{"type": "BODY", "text": "Hola {{1}}, tu pedido {{2}} ya va en camino."}],
        "language": "es",
        "status": "PENDING",
        "category": "UTILITY",
        "id": "1049937620412288",
    },
    {
        "name": "win_back",
        "parameter_format": "POSITIONAL",
        "components": [{"type": "BODY", "text": "We miss you! Come back for a FREE gift 🎁"}],
        "language": "en_US",
        "status": "REJECTED",
        "category": "MARKETING",
        "id": "1122609844103957",
    },
]


def sample_templates() -> list[dict[str, Any]]:
    """A fresh copy of the samples, for a fake to change without touching the module's."""
    return copy.deepcopy(SAMPLE_TEMPLATES)


def _cursor(index: int) -> str:
    return base64.b64encode(f"{index}".encode()).decode()


def _index(cursor: str) -> int | None:
    try:
        return int(base64.b64decode(cursor.encode(), validate=True).decode())
    except ValueError:
        return None


def template_page(
    templates: list[dict[str, Any]], *, host: str, path: str, query: bytes
) -> tuple[int, dict[str, Any]]:
    """One page of `templates` as Meta answers it, or (400, an error body's `error`) for a bad cursor."""
    params = {key: values[-1] for key, values in parse_qs(query.decode()).items()}
    try:
        limit = max(1, min(MAX_LIMIT, int(params.get("limit", DEFAULT_LIMIT))))
    except ValueError:
        return 400, {
            "message": "(#100) Param limit must be an integer.",
            "type": "OAuthException",
            "code": 100,
        }
    start = 0
    if "after" in params:
        found = _index(params["after"])
        if found is None:
            return 400, {"message": "(#100) Invalid cursor.", "type": "OAuthException", "code": 100}
        start = found + 1
    chosen = templates[start : start + limit]
    page: dict[str, Any] = {"data": copy.deepcopy(chosen)}
    if chosen:
        last = start + len(chosen) - 1
        page["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(last)}}
        if last + 1 < len(templates):
            after = urlencode({**params, "limit": limit, "after": _cursor(last)})
            page["paging"]["next"] = f"http://{host}{path}?{after}"
    return 200, page

"""What the fake Graph API (outbound/fake_graph.py) checks in a request: Meta's required fields, multipart."""

from __future__ import annotations

import re

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
_REQUIRED = {
    "text": ("body",),
    "template": ("name", "language"),
    "location": ("latitude", "longitude"),
    "interactive": ("type",),
    "reaction": ("message_id",),
    "contacts": (),
}


def check_message(body: object) -> tuple[int, str] | None:
    """The (code, details) Meta would answer for a malformed `/messages` body, or None."""
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return 100, "The parameter messaging_product is required."
    if body.get("status") == "read":
        if not isinstance(body.get("message_id"), str):
            return 100, "The parameter message_id is required."
        indicator = body.get("typing_indicator")
        if indicator is not None and indicator != {"type": "text"}:
            return 100, "The parameter typing_indicator.type must be text."
        return None
    if not isinstance(body.get("to") or body.get("recipient"), str):
        return 100, "The parameter to is required."
    kind = body.get("type", "text")
    content = body.get(kind)
    if (kind not in _REQUIRED and kind not in MEDIA_TYPES) or not isinstance(content, dict | list):
        return 131009, f"Parameter type or {kind} is not valid."
    if kind in MEDIA_TYPES:
        ok = isinstance(content, dict) and bool(content.get("id") or content.get("link"))
        return None if ok else (131008, f"Parameter {kind}.id or {kind}.link is required.")
    missing = [name for name in _REQUIRED[kind] if isinstance(content, dict) and not content.get(name)]
    if kind == "template" and isinstance(content, dict) and not (content.get("language") or {}).get("code"):
        missing.append("language.code")
    return (131008, f"Parameter {kind}.{missing[0]} is required.") if missing else None


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Fields of a multipart/form-data body: name -> (content type, bytes)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(b"--" + match[1].encode())[1:-1] if match else []:
        # A part is CRLF, headers, a blank line, the bytes, CRLF: strip exactly those CRLFs.
        head, _, data = part.removeprefix(b"\r\n").removesuffix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        kind = re.search(rb"content-type:\s*([^\r\n]+)", head, re.IGNORECASE)
        if name is not None:
            fields[name[1].decode()] = (kind[1].decode() if kind else None, data)
    return fields

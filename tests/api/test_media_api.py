"""GET /api/whatsapp/media/<id>/: the stored file, its content type and the headers that keep it inert."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from pytest_django.fixtures import Settings

from api.media import content_type_of, safe_filename
from store.actions.media import record_media_downloaded
from store.auth import issue_token
from store.models import WhatsAppMessage
from tests.api.clients import make_client
from tests.api.data import ALICE, BOB_ID, SHOP, inbound, record

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def media_root(settings: Settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_media(
    wamid: str, data: bytes, mime: str, *, message_type: str = "image", filename: str = ""
) -> WhatsAppMessage:
    record(inbound(wamid, customer=ALICE, business=SHOP, message_type=message_type, text=""))
    message = WhatsAppMessage.objects.get(message_id=wamid)
    WhatsAppMessage.objects.filter(pk=message.pk).update(
        media_id="m1", media_status="pending", media_filename=filename
    )
    name = default_storage.save(f"whatsapp/{message.pk}.bin", ContentFile(data))
    record_media_downloaded(message.pk, stored_name=name, mime_type=mime, sha256="")
    return WhatsAppMessage.objects.get(pk=message.pk)


def fetch(client: Client, message: WhatsAppMessage) -> tuple[Any, bytes]:
    """The response and its streamed body, with the file closed as the server closes it."""
    response = client.get(url(message))
    content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    response.close()
    return response, content


def url(message: WhatsAppMessage) -> str:
    return f"/api/whatsapp/media/{message.pk}/"


@pytest.mark.django_db
def test_media_image_is_served_inline_with_safe_headers(api: Client) -> None:
    message = stored_media("w1", PNG, "image/png")

    response, content = fetch(api, message)

    assert response.status_code == 200
    assert content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("inline")


@pytest.mark.django_db
def test_media_document_is_an_attachment_with_a_safe_filename(api: Client) -> None:
    message = stored_media(
        "w2", b"%PDF-1.7", "application/pdf", message_type="document", filename='../../etc/"pass"\r\nwd.pdf'
    )

    response, _ = fetch(api, message)

    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert not set("/\\\r\n") & set(disposition)
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.django_db
def test_media_svg_is_never_inline(api: Client) -> None:
    message = stored_media("w3", b"<svg onload='alert(1)'/>", "image/svg+xml")

    response, _ = fetch(api, message)

    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.django_db
def test_media_not_downloaded_is_404(api: Client) -> None:
    record(inbound("w4", message_type="image", text=""))
    message = WhatsAppMessage.objects.get(message_id="w4")

    response = api.get(url(message))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_media_unknown_message_is_404(api: Client) -> None:
    assert api.get("/api/whatsapp/media/999999/").status_code == 404


@pytest.mark.django_db
def test_media_file_missing_from_storage_is_404(api: Client, media_root: Path) -> None:
    message = stored_media("w5", PNG, "image/png")
    (media_root / message.media_path).unlink()

    assert api.get(url(message)).status_code == 404


@pytest.mark.django_db
def test_media_outside_the_token_scope_is_404_as_unknown(
    agent: User, bearer: Callable[[str], Client]
) -> None:
    message = stored_media("w6", PNG, "image/png")
    only_bob = bearer(issue_token(agent, customers=[BOB_ID]))

    response = only_bob.get(url(message))
    unknown = only_bob.get(f"/api/whatsapp/media/{message.pk + 1000}/")

    assert response.status_code == unknown.status_code == 404
    assert response.json() == {**unknown.json(), "detail": f"No message has id {message.pk}."}


@pytest.mark.django_db
def test_media_without_credentials_is_401() -> None:
    assert make_client().get("/api/whatsapp/media/1/").status_code == 401


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ("image/jpeg", "image/jpeg"),
        ("audio/ogg; codecs=opus", "audio/ogg"),
        ("text/html\r\nX-Evil: 1", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_content_type_of_keeps_only_a_plain_mime_type(stored: str, served: str) -> None:
    assert content_type_of(stored) == served


def test_safe_filename_drops_paths_and_odd_characters() -> None:
    assert safe_filename("../../a b;c.pdf", "x.bin") == "a b_c.pdf"
    assert safe_filename("...", "x.bin") == "x.bin"


@pytest.mark.django_db
def test_media_range_request_is_206_with_that_slice_as_a_browser_seeking_asks(api: Client) -> None:
    data = bytes(range(256)) * 40
    message = stored_media("w-range", data, "audio/ogg", message_type="audio")

    whole = api.get(url(message))
    part = api.get(url(message), headers={"Range": "bytes=100-199"})
    tail = api.get(url(message), headers={"Range": "bytes=-16"})
    past = api.get(url(message), headers={"Range": f"bytes={len(data)}-"})

    assert (whole.status_code, whole["Accept-Ranges"]) == (200, "bytes")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert (part["Content-Length"], part["Content-Type"]) == ("100", "audio/ogg")
    assert b"".join(part.streaming_content) == data[100:200]  # type: ignore[attr-defined]
    assert b"".join(tail.streaming_content) == data[-16:]  # type: ignore[attr-defined]
    assert part["X-Content-Type-Options"] == "nosniff"
    assert (past.status_code, past["Content-Range"]) == (416, f"bytes */{len(data)}")
    for response in (whole, part, tail):
        response.close()

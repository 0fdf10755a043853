"""Canned responses: the team's saved replies, found by shortcut or text."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q

from store.errors import Conflict, InvalidRequest, NotFound
from store.models import CannedResponse

MAX_TEXT_LENGTH = 4096  # WhatsApp's limit on a text message body
_SHORTCUT = re.compile(r"^[\w-]{1,64}$")


def _shortcut(value: str) -> str:
    shortcut = value.strip().lstrip("/").lower()
    if not _SHORTCUT.match(shortcut):
        raise InvalidRequest("A shortcut has 1 to 64 letters, digits, '-' or '_'.", code="invalid_shortcut")
    return shortcut


def _text(value: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_TEXT_LENGTH:
        raise InvalidRequest(f"A canned response has 1 to {MAX_TEXT_LENGTH} characters.", code="invalid_text")
    return text


def list_canned(q: str | None = None) -> list[CannedResponse]:
    responses = CannedResponse.objects.all()
    if q:
        term = q.strip().lstrip("/")
        responses = responses.filter(Q(shortcut__icontains=term) | Q(text__icontains=term))
    return list(responses.order_by("shortcut")[:200])


def get_canned(pk: int) -> CannedResponse:
    found = CannedResponse.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No canned response has id {pk}.")
    return found


def _save(response: CannedResponse) -> CannedResponse:
    try:
        with transaction.atomic():
            response.save()
    except IntegrityError as error:
        raise Conflict(f"The shortcut /{response.shortcut} is taken.", code="shortcut_taken") from error
    return response


def create_canned(author: User | None, shortcut: str, text: str) -> CannedResponse:
    return _save(CannedResponse(shortcut=_shortcut(shortcut), text=_text(text), created_by=author))


def update_canned(pk: int, shortcut: str | None, text: str | None) -> CannedResponse:
    response = get_canned(pk)
    if shortcut is not None:
        response.shortcut = _shortcut(shortcut)
    if text is not None:
        response.text = _text(text)
    return _save(response)


def delete_canned(pk: int) -> None:
    get_canned(pk).delete()

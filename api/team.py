"""The team inbox over REST: internal notes of a conversation and the canned responses."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from api.schemas import ERRORS, BusinessQuery
from api.security import principal_of
from api.team_schemas import (
    AgentList,
    CannedIn,
    CannedList,
    CannedOut,
    CannedPatchIn,
    CannedQuery,
    NoteIn,
    NoteList,
    NoteOut,
)
from store.actions import canned
from store.actions.team_notes import add_note, list_notes, require_team
from store.events import NoteJSON, iso, note_json
from store.models import CannedResponse

router = Router(tags=["team inbox"])


@router.get("/conversations/{customer}/notes/", response={200: NoteList, **ERRORS}, operation_id="list_notes")
def list_notes_view(request: HttpRequest, customer: str, lookup: Query[BusinessQuery]) -> dict[str, Any]:
    """The conversation's internal notes, oldest first, with authors; not for customer-scoped tokens."""
    notes = list_notes(principal_of(request).scope, customer, lookup.business)
    return {"results": [note_json(note) for note in notes]}


@router.post(
    "/conversations/{customer}/notes/", response={201: NoteOut, **ERRORS}, operation_id="create_note"
)
def create_note(
    request: HttpRequest, customer: str, body: NoteIn, lookup: Query[BusinessQuery]
) -> Status[NoteJSON]:
    """Add an internal note to the thread; broadcast as `note.created`; `@username` mentions an agent."""
    principal = principal_of(request)
    note = add_note(principal.scope, principal.user, customer, lookup.business, body.text)
    return Status(201, note_json(note))


@router.get("/agents/", response={200: AgentList, **ERRORS}, operation_id="list_agents")
def list_agents(request: HttpRequest) -> dict[str, Any]:
    """The active staff users a conversation can be assigned to."""
    require_team(principal_of(request).scope)
    agents = User.objects.filter(is_active=True, is_staff=True).order_by("username")
    return {"results": [{"username": u.username, "name": u.get_full_name()} for u in agents[:500]]}


def canned_json(response: CannedResponse) -> dict[str, Any]:
    return {
        "id": response.pk,
        "shortcut": response.shortcut,
        "text": response.text,
        "updated_at": iso(response.updated_at) or "",
    }


@router.get("/canned-responses/", response={200: CannedList, **ERRORS}, operation_id="list_canned_responses")
def list_canned(request: HttpRequest, filters: Query[CannedQuery]) -> dict[str, Any]:
    """Canned responses by shortcut; `q` matches shortcuts and text."""
    require_team(principal_of(request).scope)
    return {"results": [canned_json(r) for r in canned.list_canned(filters.q)]}


@router.post("/canned-responses/", response={201: CannedOut, **ERRORS}, operation_id="create_canned_response")
def create_canned(request: HttpRequest, body: CannedIn) -> Status[dict[str, Any]]:
    """Save a reply; 409 `shortcut_taken` when the shortcut exists."""
    principal = principal_of(request)
    require_team(principal.scope)
    return Status(201, canned_json(canned.create_canned(principal.user, body.shortcut, body.text)))


@router.patch(
    "/canned-responses/{pk}/", response={200: CannedOut, **ERRORS}, operation_id="update_canned_response"
)
def update_canned(request: HttpRequest, pk: int, body: CannedPatchIn) -> dict[str, Any]:
    require_team(principal_of(request).scope)
    return canned_json(canned.update_canned(pk, body.shortcut, body.text))


@router.delete(
    "/canned-responses/{pk}/", response={204: None, **ERRORS}, operation_id="delete_canned_response"
)
def delete_canned(request: HttpRequest, pk: int) -> HttpResponse:
    require_team(principal_of(request).scope)
    canned.delete_canned(pk)
    return HttpResponse(status=204)

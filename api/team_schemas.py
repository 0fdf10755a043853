"""Request and response schemas of the team inbox: conversation changes, notes, canned responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from api.schemas import wire_fields
from store.events import NoteJSON


class ConversationPatchIn(Schema):
    """Any subset of the editable fields; an explicit `assignee: null` unassigns."""

    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(None, max_length=20_000)
    assignee: str | None = Field(None, description="An active staff user's username, or null.")
    status: Literal["open", "pending", "resolved", "snoozed"] | None = None
    snoozed_until: datetime | None = Field(None, description="ISO 8601; required with status snoozed.")
    labels: list[str] | None = Field(None, description="The whole new list of labels.", max_length=20)

    @field_validator("snoozed_until")
    @classmethod
    def _utc_if_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class NoteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


class NoteOut(Schema):
    """`store.events.NoteJSON`; `mentions` are the usernames named with @username."""

    __annotations__ = wire_fields(NoteJSON)


class NoteList(Schema):
    results: list[NoteOut]


class CannedIn(Schema):
    model_config = ConfigDict(extra="forbid")

    shortcut: str = Field(min_length=1, max_length=65, description="Typed as /shortcut in the console.")
    text: str = Field(min_length=1, max_length=4096)


class CannedPatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    shortcut: str | None = Field(None, min_length=1, max_length=65)
    text: str | None = Field(None, min_length=1, max_length=4096)


class CannedOut(Schema):
    id: int
    shortcut: str
    text: str
    updated_at: str


class CannedList(Schema):
    results: list[CannedOut]


class CannedQuery(Schema):
    q: str | None = Field(None, description="Text to find in the shortcut or the text.", max_length=200)


class AgentOut(Schema):
    username: str
    name: str = Field(description="The full name, or empty.")


class AgentList(Schema):
    results: list[AgentOut]

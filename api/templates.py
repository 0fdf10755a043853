"""Message templates over REST: the table `sync_templates` and Meta's status webhook keep (read-only)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from api.schemas import ERRORS
from api.security import principal_of
from store import queries
from store.actions.team_notes import require_team
from store.events import iso
from store.models import MessageTemplate
from store.template_rules import expected_parameters

router = Router(tags=["templates"])


class TemplateQuery(Schema):
    status: str | None = Field(
        None, description="Meta's status (APPROVED, PENDING, REJECTED, ...); several separated by commas."
    )
    business: str | None = Field(None, description="A business phone_number_id: its account's templates.")
    language: str | None = Field(None, description="A locale code, `en_US` (or `en-US`).", max_length=16)
    q: str | None = Field(None, description="Text to find in the template's name.", max_length=200)


class TemplateParameters(Schema):
    header: int = Field(description="Parameters a send gives the header (1 for an image, video or document).")
    body: int = Field(description="Parameters a send gives the body: its distinct `{{n}}` placeholders.")


class TemplateOut(Schema):
    id: int
    waba_id: str
    template_id: str = Field(description="Meta's id of the template; empty until Meta named it.")
    name: str
    language: str
    category: str
    status: str
    reason: str = Field(description="Why Meta rejected or paused it, when it said.")
    components: list[dict[str, Any]] = Field(description="Meta's components (HEADER, BODY, FOOTER, BUTTONS).")
    parameters: TemplateParameters
    updated_at: str


class TemplateList(Schema):
    results: list[TemplateOut]


def template_json(template: MessageTemplate) -> dict[str, Any]:
    return {
        "id": template.pk,
        "waba_id": template.waba_id,
        "template_id": template.template_id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "status": template.status,
        "reason": template.reason,
        "components": template.components,
        "parameters": expected_parameters(template.components),
        "updated_at": iso(template.updated_at) or "",
    }


@router.get("/templates/", response={200: TemplateList, **ERRORS}, operation_id="list_templates")
def list_templates(request: HttpRequest, filters: Query[TemplateQuery]) -> dict[str, Any]:
    """The message templates by name and language, with how many parameters a send must give each.

    A token scoped to a business number sees its account's templates; one scoped to customers gets 403.
    """
    scope = principal_of(request).scope
    require_team(scope, "Templates")
    statuses = tuple(s for s in (filters.status or "").split(",") if s.strip())
    found = queries.TemplateFilter(
        statuses=statuses, business=filters.business, language=filters.language, q=filters.q
    )
    return {"results": [template_json(t) for t in queries.list_templates(scope, found)]}

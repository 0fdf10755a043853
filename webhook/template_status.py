"""Maps Meta's `message_template_status_update` webhook field onto template status records (pure).

Meta's reference: https://developers.facebook.com/docs/graph-api/webhooks/reference/whatsapp-business-account/#message_template_status_update
The value names the template (`message_template_name`, `message_template_language`, Meta's numeric
`message_template_id`), the `event` (APPROVED, REJECTED, PAUSED, DISABLED, ...) and a `reason`; the
entry's `id` is the WABA.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.records import TemplateStatusRecord
from webhook.payload import WebhookPayload
from webhook.wire_fields import parse_wire, wire

TEMPLATE_STATUS_FIELD = "message_template_status_update"


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateStatusUpdate:
    """One template status change as Meta sends it; a missing part reads as empty."""

    event: str = wire("event")
    template_id: str = wire("message_template_id")
    name: str = wire("message_template_name")
    language: str = wire("message_template_language")
    category: str = wire("message_template_category")
    # INCORRECT_CATEGORY, INVALID_FORMAT, SCAM, ...; "NONE" when Meta gives no reason.
    reason: str = wire("reason")


def template_statuses_from_payload(payload: WebhookPayload) -> list[TemplateStatusRecord]:
    """Every template status update of the body, in Meta's order; one without a name or event is skipped."""
    records = []
    for change in payload.other_changes:
        if change.field != TEMPLATE_STATUS_FIELD:
            continue
        update = parse_wire(TemplateStatusUpdate, change.value)
        if update.name and update.language and update.event:
            records.append(
                TemplateStatusRecord(
                    waba_id=change.waba_id,
                    name=update.name,
                    language=update.language,
                    status=update.event,
                    template_id=update.template_id,
                    category=update.category,
                    reason=update.reason,
                )
            )
    return records

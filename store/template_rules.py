"""Pure rules of message templates: locale codes, placeholders, and whether a send fills them (no ORM)."""

# Meta's template components: https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Statuses under which Meta delivers a template: a FLAGGED one (low quality, at risk of being paused) is
# still sent until Meta pauses or disables it.
SENDABLE_STATUSES = frozenset({"APPROVED", "FLAGGED"})
# Webhook events that are not a status of their own: the template is approved again.
_EVENT_STATUS = {"REINSTATED": "APPROVED", "UNLOCKED": "APPROVED"}
# `{{1}}` (positional) or `{{first_name}}` (named parameters).
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA_HEADERS = frozenset({"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"})
# The components a send fills with parameters, and what their parameters are called in errors.
CHECKED_COMPONENTS = ("header", "body")


def normalise_language(code: str) -> str:
    """Meta's list says `en_US`, some webhooks `en-US`: one spelling, the list's."""
    return code.strip().replace("-", "_")


def status_of_event(event: str) -> str:
    """The status a `message_template_status_update` event leaves the template in."""
    event = event.strip().upper()
    return _EVENT_STATUS.get(event, event)


def placeholders(text: str) -> list[str]:
    """The distinct placeholders of a component's text, in order of first use."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(text)))


def _component(components: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    for component in components:
        if isinstance(component, Mapping) and str(component.get("type", "")).lower() == kind:
            return component
    return None


def expected_parameters(components: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many parameters a send must give the template's header and body."""
    expected = {kind: 0 for kind in CHECKED_COMPONENTS}
    body = _component(components, "body")
    if body is not None:
        expected["body"] = len(placeholders(str(body.get("text", ""))))
    header = _component(components, "header")
    if header is not None:
        header_format = str(header.get("format", "TEXT")).upper()
        if header_format in _MEDIA_HEADERS:
            expected["header"] = 1
        else:
            expected["header"] = len(placeholders(str(header.get("text", ""))))
    return expected


def given_parameters(components: object) -> dict[str, list[Mapping[str, Any]]]:
    """The parameters a send body gives the header and the body (`template.components`)."""
    given: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in CHECKED_COMPONENTS}
    if not isinstance(components, list):
        return given
    for component in components:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).lower()
        parameters = component.get("parameters")
        if kind in given and isinstance(parameters, list):
            given[kind] = [p for p in parameters if isinstance(p, Mapping)]
    return given


def parameter_problem(components: Sequence[Mapping[str, Any]], sent: object) -> str | None:
    """Why a send's parameters do not fit the template, or None when they do."""
    expected = expected_parameters(components)
    given = given_parameters(sent)
    for kind in CHECKED_COMPONENTS:
        if len(given[kind]) != expected[kind]:
            wanted, got = expected[kind], len(given[kind])
            return f"The template's {kind} takes {wanted} parameter(s); the send gives {got}."
    return None


def rendered_body(components: Sequence[Mapping[str, Any]], sent: object) -> str:
    """The body text the customer reads: each placeholder replaced by its parameter's text."""
    body = _component(components, "body")
    if body is None:
        return ""
    text = str(body.get("text", ""))
    parameters = given_parameters(sent)["body"]
    by_name = {str(p.get("parameter_name")): p for p in parameters if p.get("parameter_name")}
    names = placeholders(text)

    def value(match: re.Match[str]) -> str:
        name = match[1]
        parameter = by_name.get(name)
        # Positional `{{n}}` takes the n-th parameter; a named one without a name, its place in order.
        index = int(name) - 1 if name.isdigit() else names.index(name)
        if parameter is None and 0 <= index < len(parameters):
            parameter = parameters[index]
        if parameter is None:
            return match[0]
        return str(parameter.get("text", "") or match[0])

    return _PLACEHOLDER.sub(value, text)

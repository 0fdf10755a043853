"""Meta's WhatsApp error codes mapped to retry guidance and a hint an agent can act on (pure data)."""

# Source: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
# Meta answers most of these with HTTP 400, throttling included (130429 and 131056 are 400, not 429),
# so retry decisions key on `code`, never on the HTTP status alone.

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Retry(StrEnum):
    """What to do with a request that failed with a given code."""

    NEVER = "never"  # retrying the same request cannot succeed: fix the request, account or recipient
    BACKOFF = "backoff"  # transient: retry the same request after an exponential backoff (seconds)
    LATER = "later"  # a limit that lifts in minutes or hours: keep the message queued, do not loop


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorGuidance:
    """How the hub treats one Meta error code."""

    code: int | None
    title: str
    retry: Retry
    hint: str
    # The least wait before retrying, when Meta documents one (pair rate limit: one message per 6 s).
    min_delay: float = 0.0

    @property
    def retryable(self) -> bool:
        return self.retry is not Retry.NEVER


def _g(code: int, title: str, retry: Retry, hint: str, min_delay: float = 0.0) -> ErrorGuidance:
    return ErrorGuidance(code=code, title=title, retry=retry, hint=hint, min_delay=min_delay)


N, B, L = Retry.NEVER, Retry.BACKOFF, Retry.LATER

_CATALOGUE: dict[int | None, ErrorGuidance] = {
    g.code: g
    for g in (
        # Authorization and Graph API basics
        _g(
            0,
            "AuthException",
            N,
            "The hub could not authenticate with Meta; an operator must renew the token.",
        ),
        _g(1, "API Unknown", B, "Meta had a temporary problem; the hub retries."),
        _g(2, "API Service", B, "Meta's service is temporarily down; the hub retries."),
        _g(
            3,
            "API Method",
            N,
            "The app lacks a capability for this call; an operator must check permissions.",
        ),
        _g(4, "API Too Many Calls", B, "The app hit Meta's call rate limit; the hub slows down and retries."),
        _g(10, "Permission Denied", N, "The app lacks permission for this number; an operator must fix it."),
        _g(33, "Parameter value is not valid", N, "The business phone number id is wrong; check settings."),
        _g(100, "Invalid parameter", N, "Meta rejected a parameter of the message; check its content."),
        _g(
            190,
            "Access token has expired",
            N,
            "The WhatsApp access token expired; an operator must renew it.",
        ),
        _g(200, "API Permission", N, "The app lacks permission for this call; an operator must fix it."),
        _g(
            368,
            "Temporarily blocked for policies violations",
            N,
            "This business number is blocked for policy "
            "violations; sending resumes only when Meta lifts the block.",
        ),
        _g(80007, "Rate limit issues", B, "The business account hit Meta's rate limit; the hub slows down."),
        # Throughput and quality limits
        _g(
            130429,
            "Rate limit hit",
            B,
            "Too many messages per second from this number; the hub slows down and retries.",
        ),
        _g(
            130472,
            "User's number is part of an experiment",
            N,
            "Meta withheld this marketing message (experiment); send something else.",
        ),
        _g(
            131048,
            "Spam rate limit hit",
            L,
            "Meta limits this number because messages were reported or "
            "blocked; send less, and only to customers who expect it.",
        ),
        _g(
            131049,
            "Marketing message not delivered",
            L,
            "Meta limits marketing messages to this customer; try again in a day or so.",
        ),
        _g(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            B,
            "Too many messages to this "
            "customer in a short time (about one every 6 seconds); the hub waits and resends, nothing is "
            "dropped.",
            min_delay=6.0,
        ),
        # Messaging
        _g(131000, "Something went wrong", B, "Meta failed for an unknown reason; the hub retries."),
        _g(131005, "Access denied", N, "Permission to send from this number is missing or revoked."),
        _g(131008, "Required parameter is missing", N, "The message is missing a required field."),
        _g(
            131009,
            "Parameter value is not valid",
            N,
            "A value in the message is not valid (recipient, media id or link).",
        ),
        _g(131016, "Service unavailable", B, "WhatsApp is temporarily unavailable; the hub retries."),
        _g(131021, "Recipient cannot be sender", N, "The customer number is the business number itself."),
        _g(
            131026,
            "Message undeliverable",
            N,
            "This number cannot receive the message (not on WhatsApp, "
            "an old app version, or it has not accepted the terms); reach the customer another way.",
        ),
        _g(
            131030,
            "Recipient phone number not in allowed list",
            N,
            "A test number can only message numbers added to its allowed list.",
        ),
        _g(
            131031,
            "Account has been locked",
            N,
            "The business account is locked; an operator must contact Meta.",
        ),
        _g(
            131037,
            "WhatsApp provided number needs display name approval",
            N,
            "The number's display name is not approved yet.",
        ),
        _g(
            131042,
            "Business eligibility payment issue",
            N,
            "Meta refuses to send until the payment method is fixed.",
        ),
        _g(
            131045,
            "Incorrect certificate",
            N,
            "The number is not correctly registered; an operator must register it again.",
        ),
        _g(
            131047,
            "Re-engagement message",
            N,
            "More than 24 hours passed since the customer last wrote: send an approved template instead.",
        ),
        _g(131050, "User stopped marketing messages", N, "The customer opted out of marketing messages."),
        _g(131051, "Unsupported message type", N, "WhatsApp does not support this message type."),
        _g(
            131052,
            "Media download error",
            N,
            "WhatsApp could not download the customer's media; ask them to send it again.",
        ),
        _g(
            131053,
            "Media upload error",
            N,
            "Meta could not fetch or use the media: check the link, its type and size.",
        ),
        _g(131057, "Account in maintenance mode", L, "The business account is in maintenance; try later."),
        _g(
            131062,
            "Business-scoped user id recipients are not supported",
            N,
            "This message cannot go to a customer known only by username; it needs the phone number.",
        ),
        # Templates
        _g(
            132000,
            "Template param count mismatch",
            N,
            "The template's variables do not match its definition.",
        ),
        _g(132001, "Template does not exist", N, "No approved template with this name and language."),
        _g(132005, "Template hydrated text too long", N, "The filled-in template text is too long."),
        _g(
            132007,
            "Template format character policy violated",
            N,
            "The template's content breaks WhatsApp policy.",
        ),
        _g(132012, "Template parameter format mismatch", N, "A template variable has the wrong format."),
        _g(132015, "Template is paused", N, "The template was paused for low quality; use another one."),
        _g(132016, "Template is disabled", N, "The template was disabled for low quality; use another one."),
        _g(132068, "Flow is blocked", N, "The flow in this message is blocked."),
        _g(132069, "Flow is throttled", L, "The flow in this message is throttled; try later."),
        # Registration
        _g(133000, "Incomplete deregistration", N, "The number's deregistration failed; register it again."),
        _g(133004, "Server temporarily unavailable", B, "Meta's server is temporarily unavailable."),
        _g(
            133010,
            "Phone number not registered",
            N,
            "The business number is not registered on the Cloud API.",
        ),
        _g(
            133016,
            "Account register deregister rate limit exceeded",
            L,
            "Too many registration attempts; wait before trying again.",
        ),
        _g(135000, "Generic user error", N, "Meta rejected the message for an unknown reason; check it."),
    )
}


def describe_error(code: int | None) -> ErrorGuidance:
    """The guidance for `code`; a generic, non-retryable entry for codes the hub does not know."""
    if code is not None and code in _CATALOGUE:
        return _CATALOGUE[code]
    if code is not None and 200 <= code <= 299:
        return _CATALOGUE[200]
    return ErrorGuidance(
        code=code,
        title="Unknown error",
        retry=Retry.NEVER,
        hint=f"Meta refused the message (error {code}); see the details.",
    )


def known_codes() -> frozenset[int]:
    """Every code with a dedicated entry."""
    return frozenset(code for code in _CATALOGUE if code is not None)

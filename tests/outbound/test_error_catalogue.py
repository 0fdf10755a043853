"""The error catalogue: retry guidance and agent hints per Meta error code."""

from __future__ import annotations

import pytest

from outbound.error_catalogue import Retry, describe_error, known_codes

PERMANENT = [100, 190, 368, 131005, 131008, 131009, 131021, 131026, 131031, 131051, 131052, 131053, 133010]
PERMANENT += [132000, 132001, 132005, 132007, 132012, 132015, 132016]


def test_describe_error_outside_window_says_send_a_template() -> None:
    guidance = describe_error(131047)
    assert guidance.retry is Retry.NEVER
    assert not guidance.retryable
    assert "template" in guidance.hint


@pytest.mark.parametrize("code", [4, 80007, 130429, 131000, 131016])
def test_describe_error_transient_codes_back_off(code: int) -> None:
    assert describe_error(code).retry is Retry.BACKOFF
    assert describe_error(code).retryable


def test_describe_error_pair_rate_limit_waits_six_seconds_and_keeps_the_message() -> None:
    guidance = describe_error(131056)
    assert guidance.retry is Retry.BACKOFF
    assert guidance.min_delay >= 6.0
    assert "dropped" in guidance.hint


def test_describe_error_spam_limit_is_retried_later_not_in_a_loop() -> None:
    assert describe_error(131048).retry is Retry.LATER
    assert describe_error(131048).retryable


@pytest.mark.parametrize("code", PERMANENT)
def test_describe_error_permanent_codes_are_not_retryable(code: int) -> None:
    guidance = describe_error(code)
    assert guidance.code == code
    assert not guidance.retryable
    assert guidance.title
    assert guidance.hint


@pytest.mark.parametrize("code", [999999, None])
def test_describe_error_unknown_code_gets_generic_entry(code: int | None) -> None:
    guidance = describe_error(code)
    assert guidance.title == "Unknown error"
    assert not guidance.retryable
    assert code not in known_codes()


def test_describe_error_permission_range_maps_to_api_permission() -> None:
    assert describe_error(250).title == "API Permission"

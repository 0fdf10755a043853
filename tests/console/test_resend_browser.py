"""The console's "send again" for a send whose answer from Meta was lost, in headless Chromium, end to end."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Dialog, expect, sync_playwright

from outbound.fake_graph import Failure, FakeGraph
from store.models import WhatsAppMessage
from tests.console.test_console_browser import (
    CHROMIUM_ARGS,
    GRAPH_TOKEN,
    PASSWORD,
    PHONE_NUMBER_ID,
    TIMEOUT_MS,
    USERNAME,
    chromium_path,
    log_in,
    read_conversation,
)
from tests.support import TEST_APP_SECRET, free_port, running_hub

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_console_unknown_send_is_marked_and_sent_again_only_after_confirming() -> None:
    executable = chromium_path()
    User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    # Already read, so that opening it queues no read receipt (a call to Meta the failure below would hit).
    now = datetime.now(UTC)
    read_conversation("Parcel Customer", "wamid.resend-in-1", "Where is my parcel?", now)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # No status webhooks: what became of the first send stays unknown, as when Meta's answer is lost.
    fake = FakeGraph(
        webhook_url=f"{base}/api/whatsapp/webhook/",
        app_secret=TEST_APP_SECRET,
        access_token=GRAPH_TOKEN,
        status_delays=(),
    )
    dialogs: list[str] = []
    with ExitStack() as stack:
        graph_url = stack.enter_context(fake).base_url
        stack.enter_context(
            running_hub(
                port=port,
                WHATSAPP_GRAPH_URL=graph_url,
                WHATSAPP_ACCESS_TOKEN=GRAPH_TOKEN,
                WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
            )
        )
        playwright = stack.enter_context(sync_playwright())
        expect.set_options(timeout=TIMEOUT_MS)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        log_in(page, base)
        page.locator(".conversation", has_text="Parcel Customer").click()
        expect(page.locator(".message.inbound")).to_have_count(1)

        # Meta takes the message and the connection drops before its answer.
        fake.app.fail_next(Failure(drop=True))
        # Set without an input event: typing would make the hub call Meta for a typing indicator first.
        set_value = "(input, text) => { input.value = text; }"
        page.locator("#text-input").evaluate(set_value, "It left this morning")
        page.click("#text-send")
        lost = page.locator(".message.outbound")
        expect(lost.locator(".ticks")).to_have_attribute("data-status", "unknown")
        expect(lost.locator(".unknown-send")).to_contain_text("delivery unknown")
        expect(lost.locator("button.resend")).to_have_text("send again")
        assert len(fake.app.sent) == 1

        def answer(dialog: Dialog, accept: bool) -> None:
            dialogs.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        # Cancelled: nothing is sent.
        page.once("dialog", lambda dialog: answer(dialog, accept=False))
        lost.locator("button.resend").click()
        expect(lost.locator("button.resend")).to_be_enabled()
        time.sleep(0.5)
        assert len(fake.app.sent) == 1

        page.once("dialog", lambda dialog: answer(dialog, accept=True))
        lost.locator("button.resend").click()
        outbound = page.locator(".message.outbound")
        expect(outbound).to_have_count(2)
        expect(outbound.nth(0).locator(".resent")).to_have_text("sent again")
        expect(outbound.nth(0).locator("button.resend")).to_have_count(0)
        expect(outbound.nth(1).locator(".ticks")).to_have_attribute("data-status", "sent")
        expect(outbound.nth(1)).to_contain_text("It left this morning")
        expect(page.locator("#send-error")).to_have_text("")

    assert len(dialogs) == 2
    assert all("It may already have reached the customer" in text for text in dialogs), dialogs
    sent = [item["body"]["text"]["body"] for item in fake.app.sent]
    assert sent == ["It left this morning", "It left this morning"]
    statuses = sorted(WhatsAppMessage.objects.filter(direction="outbound").values_list("status", flat=True))
    assert statuses == ["sent", "unknown"]

"""The console's template picker in headless Chromium: a closed window offers the approved templates,
one field per parameter, and the send reaches the fake Graph API with them."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect, sync_playwright

from outbound.fake_graph import FakeGraph
from outbound.fake_graph_templates import sample_templates
from outbound.templates import template_records
from store.actions.templates import record_templates
from store.models import WhatsAppBusinessNumber
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
from webhook import samples

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WABA = "102290129340398"


def quiet_customer() -> None:
    """A customer who last wrote two days ago, to a number of the synced account."""
    long_ago = datetime.now(UTC) - timedelta(days=2)
    WhatsAppBusinessNumber.objects.create(
        phone_number_id=PHONE_NUMBER_ID, display_phone_number=samples.DEFAULT_DISPLAY_NUMBER, waba_id=WABA
    )
    read_conversation("Quiet Customer", "wamid.quiet-1", "See you", long_ago)


def test_console_template_picker_sends_approved_template_with_parameters() -> None:
    executable = chromium_path()
    User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    quiet_customer()
    record_templates(WABA, template_records(WABA, sample_templates()))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake = FakeGraph(
        webhook_url=f"{base}/api/whatsapp/webhook/", app_secret=TEST_APP_SECRET, access_token=GRAPH_TOKEN
    )
    errors: list[str] = []
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
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, base)
        page.locator(".conversation", has_text="Quiet Customer").click()
        expect(page.locator("#text-input")).to_be_disabled()

        # Only the approved templates are offered, and the typed name gives way to the list.
        picker = page.locator("#template-pick")
        expect(picker.locator("option")).to_have_text(
            ["hello_world (en_US)", "order_update (en_US)", "spring_sale (en_US)"]
        )
        expect(page.locator("#template-name")).to_be_hidden()

        # order_update takes two body parameters: one field each, and the preview fills in as typed.
        picker.select_option("order_update|en_US")
        fields = page.locator("#template-params input")
        expect(fields).to_have_count(2)
        fields.nth(0).fill("Maria")
        fields.nth(1).fill("#48213")
        expected = "Hi Maria, your order #48213 is on its way. Reply here if anything is wrong."
        expect(page.locator("#template-preview")).to_have_text(expected)
        page.click("#template-send")

        expect(page.locator(".message.outbound")).to_contain_text(expected)
        expect(page.locator(".message.outbound .ticks")).to_have_attribute("data-status", "read")
        expect(page.locator("#send-error")).to_have_text("")
        expect(fields.nth(0)).to_have_value("")

        # The image header of spring_sale asks for its URL first.
        picker.select_option("spring_sale|en_US")
        expect(page.locator("#template-params input")).to_have_count(3)
        expect(page.locator("#template-params input").nth(0)).to_have_attribute("type", "url")
    (sent,) = fake.app.sent
    assert sent["body"]["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "#48213"}],
            }
        ],
    }
    assert errors == []

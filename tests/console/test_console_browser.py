"""The console in headless Chromium against a real hub and the fake Graph API, end to end."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
import struct
import time
import zlib
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Dialog, Page, expect, sync_playwright

from outbound.fake_graph import FakeGraph
from store.models import WhatsAppConversation, WhatsAppMessage
from tests.support import REPO_ROOT, TEST_APP_SECRET, fixture_json, free_port, running_hub, signed_headers
from webhook import samples

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REQUIRE_SERVICES = os.environ.get("HUB_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes", "on"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's picture; a run refreshes it only when asked (HUB_REFRESH_SCREENSHOT=1), so that the test
# suite leaves the working tree as it found it.
README_SCREENSHOT = REPO_ROOT / "docs" / "console.png"
PHONE_NUMBER_ID = samples.DEFAULT_PHONE_NUMBER_ID
GRAPH_TOKEN = "console-test-graph-token"
CUSTOMER = "16505551234"
CUSTOMER_NAME = "Ada Lovelace"
USERNAME = "agent"
PASSWORD = "console-test-password"
HOSTILE_TEXT = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 20_000

# Records every status the outbound ticks show, in order, however briefly each lasts.
RECORD_TICKS = """() => {
  window.seenStatuses = [];
  const record = () => {
    const ticks = document.querySelector(".message.outbound .ticks");
    const status = ticks && ticks.dataset.status;
    if (status && window.seenStatuses[window.seenStatuses.length - 1] !== status) {
      window.seenStatuses.push(status);
    }
  };
  new MutationObserver(record).observe(document.getElementById("messages"), {
    childList: true, subtree: true, attributes: true,
  });
}"""


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail("Chromium is required (HUB_REQUIRE_SERVICES): apt-get install -y chromium")
        pytest.skip("no chromium binary (set CHROMIUM_PATH or apt-get install chromium)")
    return path


def tiny_png(width: int = 96, height: int = 64) -> bytes:
    """A real PNG (a green gradient), so that the browser decodes what the hub downloaded."""
    rows = b"".join(
        b"\x00" + bytes(channel for x in range(width) for channel in (0, 96 + x, 80 + y))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def post_value(base: str, value: dict[str, Any]) -> None:
    body = samples.encode(samples.envelope([value], phone_number_id=PHONE_NUMBER_ID))
    response = httpx.post(f"{base}/api/whatsapp/webhook/", content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text


def post_inbound(base: str, wamid: str, text: str) -> None:
    post_value(base, samples.text_message(wamid, CUSTOMER, text, int(time.time()), name=CUSTOMER_NAME))


def post_inbound_of_type(
    base: str, wamid: str, type_name: str, content: dict[str, Any], **extra: Any
) -> None:
    message = samples.inbound_message(wamid, int(time.time()), type_name, content, wa_id=CUSTOMER, **extra)
    contact = samples.contact(name=CUSTOMER_NAME, wa_id=CUSTOMER)
    post_value(base, samples.messages_value([contact], [message]))


def post_fixture_message(base: str, name: str, wamid: str, **changes: Any) -> None:
    """The message of a fixture body, sent again as the test customer's, now, under a new wamid."""
    message = copy.deepcopy(fixture_json(name)["entry"][0]["changes"][0]["value"]["messages"][0])
    message.pop("from_user_id", None)
    message.update(id=wamid, timestamp=str(int(time.time())), **changes)
    contact = samples.contact(name=CUSTOMER_NAME, wa_id=CUSTOMER)
    post_value(base, samples.messages_value([contact], [message]))


def log_in(page: Page, base: str) -> None:
    """Through the admin login form, which sends the agent back to the console."""
    page.goto(f"{base}/console/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/console/")


def starts_with(text: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(text)}\D")


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(status in remaining for status in wanted)


def test_console_live_inbox_thread_reply_and_reconnect(tmp_path: Path) -> None:
    executable = chromium_path()
    User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hub_env = {
        "WHATSAPP_GRAPH_URL": "",
        "WHATSAPP_ACCESS_TOKEN": GRAPH_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    fake = FakeGraph(
        webhook_url=f"{base}/api/whatsapp/webhook/",
        app_secret=TEST_APP_SECRET,
        access_token=GRAPH_TOKEN,
        # Far enough apart that each tick is on screen for a while.
        status_delays=(0.4, 0.8, 0.8),
    )
    dialogs: list[str] = []
    page_errors: list[str] = []
    socket_urls: list[str] = []
    with ExitStack() as stack:
        hub_env["WHATSAPP_GRAPH_URL"] = stack.enter_context(fake).base_url
        first_hub = stack.enter_context(ExitStack())
        first_hub.enter_context(running_hub(port=port, **hub_env))
        playwright = stack.enter_context(sync_playwright())
        expect.set_options(timeout=TIMEOUT_MS)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": 1280, "height": 800})

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.on("websocket", lambda socket: socket_urls.append(socket.url))

        log_in(page, base)
        expect(page.locator("#connection")).to_have_attribute("data-state", "up")
        expect(page.locator("#conversations-status")).to_have_text("No conversations yet.")

        # Live: the webhook's messages reach the list with an unread badge, without a reload.
        post_inbound(base, "wamid.console-1", "Hello, is my order on its way?")
        post_inbound(base, "wamid.console-2", HOSTILE_TEXT)
        conversation = page.locator(".conversation", has_text=CUSTOMER_NAME)
        expect(conversation.locator(".badge")).to_have_text("2")
        expect(conversation.locator(".preview")).to_have_text(HOSTILE_TEXT)

        # Opening the thread shows both messages and marks them read: the badge goes.
        conversation.click()
        expect(page.locator(".message.inbound")).to_have_count(2)
        expect(conversation.locator(".badge")).to_have_count(0)
        hostile = page.locator('.message[data-wamid="wamid.console-2"] .text')
        expect(hostile).to_have_text(HOSTILE_TEXT)
        assert page.locator('.message[data-wamid="wamid.console-2"] img, .conversation img').count() == 0

        # A reply: its ticks advance as the fake's status webhooks arrive.
        page.evaluate(RECORD_TICKS)
        expect(page.locator("#text-input")).to_be_enabled()
        page.fill("#text-input", "It ships today.")
        page.click("#text-send")
        reply = page.locator(".message.outbound", has_text="It ships today.")
        expect(reply.locator('.ticks[data-status="read"]')).to_have_text("✓✓")
        expect(reply.locator(".ticks")).to_have_class("ticks read")
        seen = page.evaluate("window.seenStatuses")
        assert is_subsequence(["sent", "delivered", "read"], seen), seen

        # A message arriving while the thread is open shows at once and is marked read at once.
        post_inbound(base, "wamid.console-3", "Great, thanks!")
        expect(page.locator('.message[data-wamid="wamid.console-3"]')).to_be_visible()
        expect(conversation.locator(".badge")).to_have_count(0)

        # Media, a location, a quoted reply and a reaction to the agent's reply.
        png = tiny_png()
        media_id = fake.app.add_media(png, "image/png")
        image = samples.media_content(
            media_id, "image/png", hashlib.sha256(png).hexdigest(), caption="The box"
        )
        post_inbound_of_type(base, "wamid.console-5", "image", image)
        place = {"latitude": 51.5246, "longitude": -0.1340, "name": "Euston", "address": "London NW1 2RT"}
        post_inbound_of_type(base, "wamid.console-6", "location", place)
        post_inbound(base, "wamid.console-7", "Is this the right address?")
        reply_wamid = reply.get_attribute("data-wamid")
        assert reply_wamid
        post_inbound_of_type(
            base,
            "wamid.console-8",
            "text",
            {"body": "Perfect"},
            context={"id": reply_wamid, "from": CUSTOMER},
        )
        post_inbound_of_type(base, "wamid.console-9", "reaction", {"message_id": reply_wamid, "emoji": "👍"})
        picture = page.locator('.message[data-wamid="wamid.console-5"] img')
        expect(picture).to_have_attribute("src", re.compile(r"/api/whatsapp/media/\d+/$"))
        page.wait_for_function("img => img.complete && img.naturalWidth === 96", arg=picture.element_handle())
        location = page.locator('.message[data-wamid="wamid.console-6"] .location')
        expect(location).to_contain_text("Euston")
        expect(location.locator("a.coordinates")).to_have_text("📍 51.52460, -0.13400")
        quote = page.locator('.message[data-wamid="wamid.console-8"] .quote')
        expect(quote.locator(".quote-text")).to_have_text("It ships today.")
        expect(quote.locator(".quote-author")).to_have_text("You")
        expect(reply.locator(".reactions")).to_have_text("👍")

        # What the hub keeps beyond text, rendered from stored fields.
        ogg = b"OggS\x00\x02" + bytes(64)
        voice_id = fake.app.add_media(ogg, "audio/ogg; codecs=opus")
        voice_sha = hashlib.sha256(ogg).hexdigest()
        voice = samples.media_content(voice_id, "audio/ogg; codecs=opus", voice_sha, voice=True)
        post_inbound_of_type(base, "wamid.console-10", "audio", voice)
        for number, name in enumerate(
            ["contacts", "order", "referral", "forwarded", "interactive_list_reply", "interactive_nfm_reply"],
            start=11,
        ):
            post_fixture_message(base, f"{name}.json", f"wamid.console-{number}")
        post_fixture_message(base, "unsupported.json", "wamid.console-17")
        post_fixture_message(
            base, "revoke.json", "wamid.console-18", revoke={"original_message_id": "wamid.console-7"}
        )

        def bubble(number: int) -> Any:
            return page.locator(f'.message[data-wamid="wamid.console-{number}"]')

        expect(bubble(10).locator("audio.media.voice")).to_have_attribute(
            "src", re.compile(r"/api/whatsapp/media/\d+/$")
        )
        card = bubble(11).locator(".contact-card").first
        expect(card.locator(".contact-name")).to_have_text("👤 Maria Lopez")
        expect(card).to_contain_text("+1 650-555-9876")
        expect(card).to_contain_text("maria@example.com")
        item = bubble(12).locator(".order .order-item").first
        expect(item.locator(".sku")).to_have_text("MUG-BLUE-350")
        expect(item.locator(".quantity")).to_have_text("\N{MULTIPLICATION SIGN} 2")
        expect(item.locator(".price")).to_contain_text("12.50")
        referral = bubble(13).locator(".referral")
        expect(referral.locator(".referral-headline")).to_have_text("Winter sale: 30% off mugs")
        expect(referral.locator("a.referral-source")).to_have_attribute("href", "https://fb.me/3cr4Wqqkv")
        expect(bubble(14).locator(".forwarded")).to_have_text("↪ Forwarded")
        expect(bubble(15).locator(".description")).to_have_text("9:00 to 12:00")
        expect(bubble(16).locator(".flow")).to_contain_text("Fast delivery")
        expect(bubble(16).locator(".flow dt", has_text="delivery rating")).to_have_count(1)
        expect(bubble(17).locator(".unsupported")).to_contain_text("poll creation")
        expect(bubble(7).locator(".body")).to_have_text("This message was deleted")
        expect(bubble(18)).to_have_count(0)

        # The hub restarts: the console reconnects with ?after= and catches up on what it missed.
        first_hub.close()
        expect(page.locator("#connection")).to_have_attribute("data-state", "down")
        stack.enter_context(running_hub(port=port, **hub_env))
        post_inbound(base, "wamid.console-4", "Are you still there?")
        # Within the console's longest backoff (8 s) after the hub is back, with room for a loaded machine.
        expect(page.locator('.message[data-wamid="wamid.console-4"] .text')).to_have_text(
            "Are you still there?", timeout=TIMEOUT_MS + 8000
        )
        expect(page.locator("#connection")).to_have_attribute("data-state", "up")
        assert "after" in parse_qs(urlparse(socket_urls[-1]).query), socket_urls

        refresh = os.environ.get("HUB_REFRESH_SCREENSHOT") == "1"
        screenshot = README_SCREENSHOT if refresh else tmp_path / "console.png"
        page.screenshot(path=str(screenshot))
        assert screenshot.stat().st_size > 0
        assert dialogs == []
        assert page_errors == []

    stored = WhatsAppConversation.objects.get(phone_number=CUSTOMER)
    assert stored.unread_count == 0


def seed_long_thread(count: int) -> WhatsAppConversation:
    """One conversation with `count` messages, alternating directions, a second apart (bulk, for speed)."""
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    conversation = WhatsAppConversation.objects.create(
        business_phone_number_id=PHONE_NUMBER_ID,
        phone_number=CUSTOMER,
        contact_name="Long Thread",
        message_count=count,
        last_message_at=start + timedelta(seconds=count - 1),
        last_inbound_at=start + timedelta(seconds=count - 1),
        last_message_preview=f"message {count - 1}",
    )
    WhatsAppMessage.objects.bulk_create(
        [
            WhatsAppMessage(
                message_id=f"wamid.long-{index}",
                conversation=conversation,
                direction="inbound" if index % 2 else "outbound",
                from_number=CUSTOMER if index % 2 else samples.DEFAULT_DISPLAY_NUMBER,
                to_number=samples.DEFAULT_DISPLAY_NUMBER if index % 2 else CUSTOMER,
                message_type="text",
                text_body=f"message {index}",
                timestamp=start + timedelta(seconds=index),
                status="received" if index % 2 else "read",
                read_at=start if index % 2 else None,
            )
            for index in range(count)
        ],
        batch_size=1000,
    )
    return conversation


def test_console_long_thread_renders_pages_not_everything() -> None:
    executable = chromium_path()
    User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    seed_long_thread(10_000)
    with running_hub() as base, sync_playwright() as playwright:
        expect.set_options(timeout=TIMEOUT_MS)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            log_in(page, base)
            page.locator(".conversation", has_text="Long Thread").click()
            bubbles = page.locator(".message")
            expect(bubbles.last).to_have_text(starts_with("message 9999"))
            expect(bubbles).to_have_count(50)
            expect(bubbles.first).to_have_text(starts_with("message 9950"))
            # Each scroll to the top brings one older page, until the DOM holds its maximum.
            for pages in range(1, 14):
                page.locator("#thread-scroll").evaluate("node => { node.scrollTop = 0; }")
                expect(bubbles.first).to_have_text(starts_with(f"message {9950 - 50 * pages}"))
                expect(bubbles).to_have_count(min(50 * (pages + 1), 600))
            expect(bubbles.last).to_have_text(starts_with("message 9899"))
            # The newest ones were let go; the agent gets back to them in one click.
            page.locator("#jump-latest").click()
            expect(bubbles).to_have_count(50)
            expect(bubbles.last).to_have_text(starts_with("message 9999"))
            expect(page.locator("#jump-latest")).to_be_hidden()
        finally:
            browser.close()


def read_conversation(name: str, wamid: str, text: str, at: datetime) -> WhatsAppConversation:
    """A conversation whose one inbound message, written at `at`, is already read (opening it queues no
    read receipt, a call to Meta)."""
    conversation = WhatsAppConversation.objects.create(
        business_phone_number_id=PHONE_NUMBER_ID,
        phone_number=CUSTOMER,
        contact_name=name,
        message_count=1,
        last_message_at=at,
        last_inbound_at=at,
        last_message_preview=text,
    )
    WhatsAppMessage.objects.create(
        message_id=wamid,
        conversation=conversation,
        direction="inbound",
        from_number=CUSTOMER,
        to_number=samples.DEFAULT_DISPLAY_NUMBER,
        message_type="text",
        text_body=text,
        timestamp=at,
        status="received",
        read_at=at,
    )
    return conversation


def test_console_closed_window_disables_text_and_sends_template() -> None:
    executable = chromium_path()
    User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    long_ago = datetime.now(UTC) - timedelta(days=2)
    read_conversation("Quiet Customer", "wamid.quiet-1", "See you", long_ago)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake = FakeGraph(
        webhook_url=f"{base}/api/whatsapp/webhook/", app_secret=TEST_APP_SECRET, access_token=GRAPH_TOKEN
    )
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
        page.locator(".conversation", has_text="Quiet Customer").click()
        expect(page.locator(".message.inbound")).to_have_text(starts_with("See you"))
        expect(page.locator("#text-input")).to_be_disabled()
        expect(page.locator("#text-send")).to_be_disabled()
        expect(page.locator("#window-note")).to_have_text("Outside the 24-hour window: send a template.")
        page.fill("#template-name", "order_update")
        page.fill("#template-language", "en_US")
        page.click("#template-send")
        expect(page.locator(".message.outbound .ticks")).to_have_attribute("data-status", "read")
        expect(page.locator("#send-error")).to_have_text("")
        sent = fake.app.sent
        assert [item["body"]["template"] for item in sent] == [
            {"name": "order_update", "language": {"code": "en_US"}}
        ]

"""A first visit in headless Chromium, as a new user makes it: `/`, the admin login, the console with
the demo's media, the API docs and the admin's lists, all from the hub itself (no other host)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect, sync_playwright

from outbound.fake_graph import FakeGraph
from store.models import MediaStatus, WhatsAppMessage
from tests.console.test_console_browser import CHROMIUM_ARGS, TIMEOUT_MS, chromium_path
from tests.support import REPO_ROOT, running_hub, signed_headers
from webhook import media_samples, samples
from webhook.media_samples import MediaSample
from webhook.simulation import TrafficSimulator

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GRAPH_TOKEN = "first-run-graph-token"
USERNAME = "newcomer"
PASSWORD = "first-run-password"
# A name carrying a right-to-left override, as a spoofer would send it.
SPOOFED_NAME = "\u202eexe.txt"
SPOOFED_TEXT = "\u202eyalp ot kcilc"
SPOOFER = "15550009999"
# Django's admin header colour (`--header-bg` in admin/css/base.css): only there once base.css applies.
ADMIN_HEADER_BG = "rgb(65, 118, 144)"
MEDIA_KINDS = ("image", "voice", "sticker", "video")
TOUR_CUSTOMER = "34600123456"
TOUR_NAME = "Maria López"

TEST_PAGE = "/first-run-test-page"
# Loads each demo file from the media REST URL into the element that shows it, and reports what the
# browser decoded. Chromium learns an Ogg file's length by reading its end with a range request, which
# the media URL answers (206), so a voice note gets its duration straight from it.
DECODE_MEDIA = """async (urls) => {
  const picture = async (url) => { const img = new Image(); img.src = url; await img.decode(); return img; };
  const loaded = async (tag, src) => { return new Promise((resolve, reject) => {
    const element = document.createElement(tag);
    element.preload = "metadata";
    element.onloadedmetadata = () => resolve(element);
    element.onerror = () => reject(new Error(`${tag} ${url}: error ${element.error && element.error.code}`));
    element.src = src;
    document.body.append(element);
  }); };
  const [image, sticker, voice, video] = await Promise.all([
    picture(urls.image), picture(urls.sticker), loaded("audio", urls.voice), loaded("video", urls.video),
  ]);
  return { image: image.naturalWidth, sticker: sticker.naturalWidth, voice: voice.duration,
           video: video.videoWidth, videoSeconds: video.duration };
}"""
BIDI = "selector => [...document.querySelectorAll(selector)].map(e => getComputedStyle(e).unicodeBidi)"


def post_body(base: str, body: bytes) -> None:
    response = httpx.post(f"{base}/api/whatsapp/webhook/", content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text


def post_demo_media(base: str, fake: FakeGraph) -> dict[str, str]:
    """Posts what the demo's simulator sends until each media kind came once; returns their wamids."""
    wamids: dict[str, str] = {}
    for simulated in TrafficSimulator(3, register_media=fake.app.add_media):
        post_body(base, simulated.body)
        if simulated.kind in MEDIA_KINDS and simulated.kind not in wamids:
            wamids[simulated.kind] = first_wamid(simulated.body)
        if len(wamids) == len(MEDIA_KINDS):
            return wamids
    raise AssertionError("unreachable: the simulator is endless")


def first_wamid(body: bytes) -> str:
    payload: dict[str, Any] = json.loads(body)
    wamid: str = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    return wamid


def post_tour_thread(base: str, fake: FakeGraph) -> None:
    """The README's thread: a photo, a voice note, a contact card and a location from one customer."""
    now = int(time.time()) - 60

    def media(sample: MediaSample, **options: Any) -> dict[str, Any]:
        media_id = fake.app.add_media(sample.data, sample.mime_type)
        digest = base64.b64encode(hashlib.sha256(sample.data).digest()).decode()
        return samples.media_content(media_id, sample.mime_type, digest, **options)

    card = samples.shared_contact("Tom Okafor", "+44 7700 900456", "447700900456")
    place = {"latitude": 51.5007292, "longitude": -0.1246254, "name": "Big Ben", "address": "London SW1A 0AA"}
    messages = [
        samples.inbound_message(
            "wamid.tour-1", now, "text", {"body": "Hi! My parcel came like this 😞"}, wa_id=TOUR_CUSTOMER
        ),
        samples.inbound_message(
            "wamid.tour-2",
            now + 5,
            "image",
            media(media_samples.PHOTO, caption="The box"),
            wa_id=TOUR_CUSTOMER,
        ),
        samples.inbound_message(
            "wamid.tour-3", now + 9, "audio", media(media_samples.VOICE_NOTE, voice=True), wa_id=TOUR_CUSTOMER
        ),
        samples.inbound_message(
            "wamid.tour-4", now + 20, "contacts", None, wa_id=TOUR_CUSTOMER, contacts=[card]
        ),
        samples.inbound_message("wamid.tour-5", now + 30, "location", place, wa_id=TOUR_CUSTOMER),
    ]
    contact = samples.contact(name=TOUR_NAME, wa_id=TOUR_CUSTOMER)
    for message in messages:
        post_body(base, samples.encode(samples.envelope([samples.messages_value([contact], [message])])))


def downloaded_media_urls(wamids: dict[str, str]) -> dict[str, str]:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        rows = WhatsAppMessage.objects.filter(message_id__in=wamids.values())
        urls = {m.message_id: m.media_url for m in rows if m.media_status == MediaStatus.DOWNLOADED}
        if len(urls) == len(wamids):
            return {kind: str(urls[wamid]) for kind, wamid in wamids.items()}
        time.sleep(0.2)
    raise AssertionError(f"the hub did not download the demo media: {list(rows.values('media_status'))}")


def test_first_visit_styles_media_docs_and_isolated_names_all_from_the_hub(tmp_path: Path) -> None:
    executable = chromium_path()
    User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True, is_superuser=True)
    fake = FakeGraph(access_token=GRAPH_TOKEN)
    requested: list[str] = []
    page_errors: list[str] = []
    with ExitStack() as stack:
        graph_url = stack.enter_context(fake).base_url
        base = stack.enter_context(
            running_hub(
                WHATSAPP_GRAPH_URL=graph_url,
                WHATSAPP_ACCESS_TOKEN=GRAPH_TOKEN,
                WHATSAPP_PHONE_NUMBER_ID=samples.DEFAULT_PHONE_NUMBER_ID,
                MEDIA_ROOT=str(tmp_path / "media"),
            )
        )
        wamids = post_demo_media(base, fake)
        post_tour_thread(base, fake)
        media_urls = downloaded_media_urls(wamids)

        playwright = stack.enter_context(sync_playwright())
        expect.set_options(timeout=TIMEOUT_MS)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("request", lambda request: requested.append(request.url))
        page.on("pageerror", lambda error: page_errors.append(str(error)))

        # `/` leads to the console, by way of a styled login page.
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/admin/login/?next=/console/"), page.url
        header_bg = page.evaluate("getComputedStyle(document.getElementById('header')).backgroundColor")
        assert header_bg == ADMIN_HEADER_BG
        page.fill("#id_username", USERNAME)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/console/")

        # The demo's media are real files: the browser decodes the pictures and reads the clips' length
        # (on a blank page of the hub's origin: the console's policy allows no blob media).
        page.route(f"{base}{TEST_PAGE}", lambda route: route.fulfill(body="<!doctype html><title>t</title>"))
        page.goto(f"{base}{TEST_PAGE}")
        decoded = page.evaluate(DECODE_MEDIA, media_urls)
        assert decoded["image"] > 0
        assert decoded["sticker"] == 512
        assert 2.0 < decoded["voice"] < 3.0, decoded
        assert decoded["video"] == 160, decoded
        assert 1.5 < decoded["videoSeconds"] < 2.5, decoded

        page.goto(f"{base}/console/")
        # The README's tour: the list, and a thread with a photo, a voice note, a card and a place.
        page.locator(".conversation", has_text=TOUR_NAME).first.click()
        expect(page.locator('.message[data-wamid="wamid.tour-5"]')).to_be_visible()
        expect(page.locator('.message[data-wamid="wamid.tour-2"] img')).to_be_visible()
        page.wait_for_function("() => [...document.querySelectorAll('.messages img')].every(i => i.complete)")
        tour = REPO_ROOT / "docs" if os.environ.get("HUB_REFRESH_SCREENSHOT") == "1" else tmp_path
        page.screenshot(path=str(tour / "tour-thread.png"))

        # Names and previews are isolated from the text around them (the spoofer's arrives live).
        spoof = samples.text_message(
            "wamid.spoof-1", SPOOFER, SPOOFED_TEXT, int(time.time()), name=SPOOFED_NAME
        )
        post_body(base, samples.encode(samples.envelope([spoof])))
        spoofed = page.locator(".conversation", has_text="exe.txt")
        expect(spoofed).to_be_visible()
        assert set(page.evaluate(BIDI, ".conversation .name, .conversation .preview")) == {"isolate"}
        spoofed.click()
        expect(page.locator("#thread-header h2")).to_have_text(SPOOFED_NAME)
        expect(page.locator(".message .text")).to_have_text(SPOOFED_TEXT)
        assert page.evaluate(BIDI, "#thread-header h2, .message .text") == ["isolate", "isolate"]

        # ... and in the admin's lists.
        page.goto(f"{base}/admin/whatsapp/whatsappconversation/")
        expect(page.locator("#result_list .field-name bdi", has_text="exe.txt")).to_have_count(1)
        page.goto(f"{base}/admin/whatsapp/whatsappmessage/")
        expect(page.locator("#result_list .field-sender_name bdi", has_text="exe.txt")).to_have_count(1)
        expect(page.locator("#result_list .field-short_text bdi", has_text="kcilc")).to_have_count(1)

        # The API docs come from the hub's own copy of Swagger UI and list the operations.
        page.goto(f"{base}/api/docs/")
        operations = page.locator(".opblock")
        expect(operations.first).to_be_visible()
        assert operations.count() >= 5
        expect(
            page.locator(".opblock-summary-path", has_text="/api/whatsapp/messages/").first
        ).to_be_visible()
        assert page_errors == []

    elsewhere = [url for url in requested if not url.startswith((base, "data:", "blob:"))]
    assert elsewhere == [], elsewhere

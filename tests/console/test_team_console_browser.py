"""The team console in headless Chromium: two agents in two browser contexts see each other live."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console.test_console_browser import (
    CHROMIUM_ARGS,
    CUSTOMER_NAME,
    TIMEOUT_MS,
    chromium_path,
    post_inbound,
)
from tests.support import REPO_ROOT, free_port, running_hub

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "team-console-password"
# Refreshed only when asked (HUB_REFRESH_SCREENSHOT=1), so that the suite leaves the tree as it found it.
TEAM_SCREENSHOT = REPO_ROOT / "docs" / "team-inbox.png"


def agent_page(browser: Browser, base: str, username: str, errors: list[str]) -> Page:
    """A browser context of its own (its own cookies), signed in as `username`."""
    page = browser.new_context(viewport={"width": 1400, "height": 800}).new_page()
    page.on("pageerror", lambda error: errors.append(f"{username}: {error}"))
    page.goto(f"{base}/console/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/console/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "up")
    return page


def test_two_agents_presence_assignment_notes_and_resolve_live(tmp_path: Path) -> None:
    executable = chromium_path()
    for username in ("alice", "bob"):
        User.objects.create_user(username, password=PASSWORD, is_staff=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    errors: list[str] = []
    with ExitStack() as stack:
        stack.enter_context(running_hub(port=port, MEDIA_ROOT=str(tmp_path / "media")))
        post_inbound(base, "wamid.team-1", "My blender arrived broken")
        playwright = stack.enter_context(sync_playwright())
        expect.set_options(timeout=TIMEOUT_MS)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        alice = agent_page(browser, base, "alice", errors)
        bob = agent_page(browser, base, "bob", errors)

        # Bob looks at the conversation; alice opens it and starts typing: bob sees both.
        bob.locator(".conversation", has_text=CUSTOMER_NAME).click()
        alice.locator(".conversation", has_text=CUSTOMER_NAME).click()
        expect(bob.locator("#team-bar .viewing")).to_have_text("alice is viewing")
        alice.locator("#text-input").press_sequentially("Sorry to hear")
        expect(bob.locator("#team-bar .typing")).to_have_text("alice is typing…")

        # Alice assigns it to bob: it appears in bob's Mine tab without a reload.
        bob.click('#team-tabs button[data-tab="mine"]')
        expect(bob.locator(".conversation", has_text=CUSTOMER_NAME)).to_have_count(0)
        alice.select_option("#team-bar select.assignee", "bob")
        expect(bob.locator(".conversation", has_text=CUSTOMER_NAME)).to_have_count(1)

        # A note written by alice shows in both threads, yellow, and never as a message.
        alice.locator("#text-input").fill("")
        alice.click("#note-toggle")
        alice.fill("#text-input", "Refund approved, @bob please ship a new one")
        alice.locator("#text-input").press("Enter")
        for page in (alice, bob):
            note = page.locator(".message.note", has_text="Refund approved")
            expect(note).to_be_visible()
            assert note.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(255, 246, 194)"
        expect(bob.locator("#mentions")).to_have_text(f"alice mentioned you in {CUSTOMER_NAME}")
        assert alice.locator(".message.outbound").count() == 0
        # The README's picture of the team inbox: bob's screen, with alice's note and its mention.
        shot = TEAM_SCREENSHOT if os.environ.get("HUB_REFRESH_SCREENSHOT") == "1" else tmp_path / "team.png"
        bob.screenshot(path=str(shot))
        assert shot.stat().st_size > 0

        # Alice resolves it: it leaves the Open filter for both of them.
        bob.click('#team-tabs button[data-tab="all"]')
        expect(bob.locator(".conversation", has_text=CUSTOMER_NAME)).to_have_count(1)
        alice.click('#team-tabs button[data-tab="all"]')
        alice.click("#team-bar .resolve")
        for page in (alice, bob):
            expect(page.locator(".conversation", has_text=CUSTOMER_NAME)).to_have_count(0)
        bob.select_option("#status-filter", "resolved")
        expect(bob.locator(".conversation", has_text=CUSTOMER_NAME)).to_have_count(1)

        # Search finds the message by another form of its word and jumps into the thread.
        alice.fill("#search-input", "blenders")
        alice.locator("#search-input").press("Enter")
        alice.locator(".search-hit", has_text="blender arrived").click()
        expect(alice.locator('.message[data-wamid="wamid.team-1"]')).to_be_visible()
    assert errors == []

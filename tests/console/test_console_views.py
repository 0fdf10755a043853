"""The console page: who may open it, and that it loads nothing but its own script and style sheet."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

from console.views import asset_version
from tests.api.clients import BEHIND_TLS_PROXY
from tests.support import REPO_ROOT

pytestmark = pytest.mark.django_db

CONSOLE = "/console/"
PASSWORD = "console-test-password"


def client_for(user: User | None) -> Client:
    client = Client(headers=BEHIND_TLS_PROXY)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("agent", password=PASSWORD, is_staff=True)


def test_console_anonymous_redirects_to_login() -> None:
    response = client_for(None).get(CONSOLE)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/console/"


def test_console_not_staff_is_forbidden() -> None:
    user = User.objects.create_user("customer-care", password=PASSWORD, is_staff=False)
    assert client_for(user).get(CONSOLE).status_code == 403


def test_console_staff_gets_page_with_script_and_style(staff: User) -> None:
    response = client_for(staff).get(CONSOLE)
    assert response.status_code == 200
    page = response.content.decode()
    script = f'src="/console/assets/console.js?v={asset_version("console.js")}"'
    style = f'href="/console/assets/console.css?v={asset_version("console.css")}"'
    assert script in page
    assert style in page
    assert f'src="/console/assets/templates.js?v={asset_version("templates.js")}"' in page
    assert 'id="console-config"' in page
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_console_page_has_no_external_urls(staff: User) -> None:
    page = client_for(staff).get(CONSOLE).content.decode()
    # Every src and href is a path on this site: nothing from a CDN, the page works offline.
    references = re.findall(r'(?:src|href|action)="([^"]*)"', page)
    assert references
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in references), references
    assert "http://" not in page
    assert "https://" not in page


@pytest.mark.parametrize(
    ("name", "content_type", "marker"),
    [
        ("console.js", "text/javascript", b"/ws/whatsapp/"),
        ("console.css", "text/css", b".message"),
        ("templates.js", "text/javascript", b"templates/?"),
    ],
)
def test_console_asset_served_from_static_finders(name: str, content_type: str, marker: bytes) -> None:
    found = finders.find(f"console/{name}")
    assert isinstance(found, str)
    response = client_for(None).get(f"/console/assets/{name}?v={asset_version(name)}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert "immutable" in response["Cache-Control"]
    with open(found, "rb") as source:
        assert response.content == source.read()
    assert marker in response.content


def test_console_socket_client_is_the_apps_client_byte_for_byte(staff: User) -> None:
    # The console imports the one client apps use (clients/js/), not a copy that could drift from it.
    config = client_for(staff).get(CONSOLE).context["config"]
    assert config["client"] == f"/console/assets/hub-client.js?v={asset_version('hub-client.js')}"
    response = client_for(None).get(config["client"])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "immutable" in response["Cache-Control"]
    assert response.content == (REPO_ROOT / "clients" / "js" / "hub-client.js").read_bytes()
    assert b"export function connect(" in response.content


def test_console_asset_stale_version_is_not_cached_for_long() -> None:
    response = client_for(None).get("/console/assets/console.js?v=old")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache"


def test_console_asset_unknown_name_is_404() -> None:
    assert client_for(None).get("/console/assets/settings.py").status_code == 404


def test_console_script_inserts_message_text_without_html_parsing() -> None:
    found = finders.find("console/console.js")
    assert isinstance(found, str)
    with open(found, encoding="utf-8") as source:
        script = source.read()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink

"""The original analytics query (docs/design.md, section 3) runs unchanged on the hub's tables."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection

from store.models import WhatsAppConversation, WhatsAppMessage
from tests.support import REPO_ROOT, TEST_APP_SECRET, TEST_VERIFY_TOKEN

# Exactly as operators run it; do not reformat.
ANALYTICS_QUERY = (
    "SELECT from_number, COUNT(*) as msg_count, MAX(timestamp) as last_message "
    "FROM whatsapp_whatsappmessage GROUP BY from_number ORDER BY last_message DESC;"
)
HUB_VARIABLE_PREFIXES = ("DATABASE_URL", "REDIS_URL", "DJANGO_", "WHATSAPP_", "HUB_", "PYTEST")
BUSINESS = "106540352242922"
BUSINESS_DISPLAY = "15550001111"

# (from_number, direction, timestamp): two customers and the business's own outbound messages.
ROWS = [
    ("919876543210", "inbound", datetime(2024, 1, 15, 10, 30, tzinfo=UTC)),
    ("919876543210", "inbound", datetime(2024, 1, 15, 10, 31, tzinfo=UTC)),
    ("919876543210", "inbound", datetime(2024, 1, 17, 8, 0, tzinfo=UTC)),
    ("447700900123", "inbound", datetime(2024, 1, 16, 12, 0, tzinfo=UTC)),
    (BUSINESS_DISPLAY, "outbound", datetime(2024, 1, 15, 10, 35, tzinfo=UTC)),
    (BUSINESS_DISPLAY, "outbound", datetime(2024, 1, 16, 12, 5, 30, 250000, tzinfo=UTC)),
]
EXPECTED = [
    ("919876543210", 3, datetime(2024, 1, 17, 8, 0, tzinfo=UTC)),
    (BUSINESS_DISPLAY, 2, datetime(2024, 1, 16, 12, 5, 30, 250000, tzinfo=UTC)),
    ("447700900123", 1, datetime(2024, 1, 16, 12, 0, tzinfo=UTC)),
]

# Inserted through the ORM in a subprocess so the rows look exactly as the hub writes them.
INSERT_SCRIPT = f"""
from datetime import datetime
from store.models import WhatsAppConversation, WhatsAppMessage
rows = {[(number, direction, moment.isoformat()) for number, direction, moment in ROWS]!r}
for index, (number, direction, moment) in enumerate(rows):
    customer = number if direction == "inbound" else "919876543210"
    conversation, _ = WhatsAppConversation.objects.get_or_create(
        business_phone_number_id={BUSINESS!r}, phone_number=customer
    )
    WhatsAppMessage.objects.create(
        message_id=f"wamid.ANALYTICS{{index}}", conversation=conversation, direction=direction,
        from_number=number, message_type="text", timestamp=datetime.fromisoformat(moment),
        status="received" if direction == "inbound" else "sent",
    )
"""


def insert_rows() -> None:
    conversations: dict[str, WhatsAppConversation] = {}
    for index, (number, direction, moment) in enumerate(ROWS):
        customer = number if direction == "inbound" else "919876543210"
        if customer not in conversations:
            conversations[customer] = WhatsAppConversation.objects.create(
                business_phone_number_id=BUSINESS, phone_number=customer
            )
        WhatsAppMessage.objects.create(
            message_id=f"wamid.ANALYTICS{index}",
            conversation=conversations[customer],
            direction=direction,
            from_number=number,
            to_number=BUSINESS_DISPLAY if direction == "inbound" else customer,
            message_type="text",
            timestamp=moment,
            status="received" if direction == "inbound" else "sent",
        )


def as_datetime(value: object) -> datetime:
    """MAX(timestamp) is a datetime on PostgreSQL and ISO text on SQLite (no declared type)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normalized(rows: list[tuple[object, ...]]) -> list[tuple[str, int, datetime]]:
    return [(str(number), int(str(count)), as_datetime(last)) for number, count, last in rows]


@pytest.mark.django_db
def test_analytics_query_on_test_database_returns_counts_newest_first() -> None:
    insert_rows()

    with connection.cursor() as cursor:
        cursor.execute(ANALYTICS_QUERY)
        rows = cursor.fetchall()

    assert normalized(rows) == EXPECTED


@pytest.mark.django_db
def test_analytics_query_on_empty_table_returns_no_rows() -> None:
    with connection.cursor() as cursor:
        cursor.execute(ANALYTICS_QUERY)
        assert cursor.fetchall() == []


def test_analytics_query_on_fresh_migrated_sqlite_returns_counts_newest_first(tmp_path: Path) -> None:
    database = tmp_path / "analytics.sqlite3"
    env = {key: value for key, value in os.environ.items() if not key.startswith(HUB_VARIABLE_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE="hub.settings",
        DATABASE_URL=f"sqlite:///{database}",  # an absolute path: sqlite:////tmp/...
        HUB_DATA_DIR=str(tmp_path),
        DJANGO_DEBUG="1",
        WHATSAPP_APP_SECRET=TEST_APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=TEST_VERIFY_TOKEN,
    )
    for command in (["migrate", "--no-input"], ["shell", "--no-imports", "-c", INSERT_SCRIPT]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    with closing(sqlite3.connect(database)) as db:
        rows = db.execute(ANALYTICS_QUERY).fetchall()

    assert normalized(rows) == EXPECTED

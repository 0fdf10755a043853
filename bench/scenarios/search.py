"""Full-text search over many messages: `GET /api/whatsapp/messages/?q=` against the same SQL run bare.

The messages live in a database of their own (`<bench database>_search`), kept between runs and filled
once with `INSERT ... SELECT generate_series` (the GIN index of migration 0007 dropped for the fill and
built again after, with its own definition). Each message holds 4 to 11 words of a 2,000-word
vocabulary drawn with a skew (word k about as often as 1/sqrt(k)), so queries range from words in a
tenth of the messages to words in a few hundred. 50 queries of one to three words (fixed seed) run
once to warm the caches, then once measured: the hub answers them through its REST API under the
production server (a page of 50, newest first); the baseline is psycopg running the SQL the
page needs (the same tsquery on the same index, the same order and limit). The target bounds the
hub's p95 itself.
"""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg

from bench.plan import Context, Plan
from bench.results import RowSpec, latency_ms, percentile
from bench.servers import database_url, hub_argv, issue_token, prepare_database, running

ROW = "search.p95"
VOCABULARY = 2000
CONVERSATIONS = 1000
QUERIES = 50
SEED = 18
FILL_BATCH = 100_000
MESSAGES_PATH = "/api/whatsapp/messages/"
CONVERSATIONS_SQL = """
INSERT INTO whatsapp_whatsappconversation (business_phone_number_id, phone_number, username, contact_name,
    message_count, unread_count, last_message_preview, notes, created_at, updated_at, labels, status)
SELECT 'bench-search', '1555' || lpad(g::text, 7, '0'), '', 'Customer ' || g, 0, 0, '', '', now(), now(),
    '[]', 'open'
FROM generate_series(1, %(n)s::int) AS g
"""
# Words are drawn per row: the correlated generate_series makes PostgreSQL evaluate random() per row.
MESSAGES_SQL = """
INSERT INTO whatsapp_whatsappmessage (message_id, direction, from_number, to_number, from_name, message_type,
    text_body, caption, media_id, media_mime_type, media_filename, media_sha256, location_name,
    location_address, interactive_id, reply_to, timestamp, received_at, status, error_title, raw, notes,
    conversation_id, media_error, media_path, content, idempotency_body_hash)
SELECT 'bench-search-' || g, 'inbound', '1555', '1000', '', 'text',
    (SELECT string_agg((%(words)s::text[])[1 + floor(power(random(), 2) * %(vocabulary)s)::int], ' ')
     FROM generate_series(1, 4 + (g %% 8))),
    '', '', '', '', '', '', '', '', '', now() - make_interval(secs => g), now(), 'received', '', '{}', '',
    %(first_conversation)s + (g %% %(conversations)s), '', '', '{}', ''
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g
"""
COUNT_SQL = "SELECT count(*) FROM whatsapp_whatsappmessage WHERE message_id LIKE 'bench-search-%%'"
INDEX_SQL = "SELECT indexdef FROM pg_indexes WHERE indexname = 'message_search_idx'"
# The page list_messages (store/queries.py) asks for, as bare SQL on the same expression and index, in
# the same order (store/search.py, `search_order`: matches collected from the index, then sorted).
BARE_SQL = """
SELECT id, message_id, text_body, timestamp FROM whatsapp_whatsappmessage
WHERE to_tsvector('english'::regconfig, COALESCE(text_body, '') || ' ' || COALESCE(caption, '') || ' ' ||
    translate(COALESCE(media_filename, ''), '._-', '   ')) @@ plainto_tsquery('english'::regconfig, %s)
ORDER BY (timestamp + interval '0 seconds') DESC, id DESC LIMIT 51
"""


COUNT_MATCHES_SQL = "SELECT count(*) FROM (" + BARE_SQL.replace("LIMIT 51", "") + ") AS m"  # noqa: S608


def specs(plan: Plan) -> dict[str, RowSpec]:
    title = (
        f"p95 of {QUERIES} full-text searches of one to three words over {plan.search_messages:,} messages "
        f"(REST API, {plan.production_server}); baseline the same SQL through psycopg"
    )
    return {ROW: RowSpec("ms", "lower", plan.search_p95_ms, "value", title=title)}


def words() -> list[str]:
    """Pronounceable made-up words, so that stemming leaves each one itself."""
    rng = random.Random(SEED)  # noqa: S311 - a fixed corpus, not a secret
    syllables = ["ka", "lo", "mi", "ru", "te", "zo", "pa", "ne", "vi", "do", "su", "ba", "fe", "gi", "ho"]
    found: list[str] = []
    while len(found) < VOCABULARY:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) + "x"
        if word not in found:
            found.append(word)
    return found


def queries(vocabulary: list[str]) -> list[str]:
    """One to three words each, drawn with the messages' own skew."""
    rng = random.Random(SEED + 1)  # noqa: S311 - fixed queries
    return [
        " ".join(vocabulary[int(rng.random() ** 2 * VOCABULARY)] for _ in range(rng.randint(1, 3)))
        for _ in range(QUERIES)
    ]


def fill(ctx: Context, url: str, count: int, vocabulary: list[str]) -> dict[str, Any]:
    """Top the kept database up to `count` messages: one transaction, so a failed fill leaves no trace."""
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        have = int(conn.execute(COUNT_SQL).fetchone()[0])  # type: ignore[index]
        if have >= count:
            return {"filled": 0, "messages": have, "fill_s": 0.0}
        index = conn.execute(INDEX_SQL).fetchone()
        if index is None:
            raise RuntimeError("migration 0007's search index is missing")
        first = conn.execute("SELECT min(id) FROM whatsapp_whatsappconversation").fetchone()
        if first is None or first[0] is None:
            conn.execute(CONVERSATIONS_SQL, {"n": CONVERSATIONS})
            first = conn.execute("SELECT min(id) FROM whatsapp_whatsappconversation").fetchone()
        assert first is not None
        ctx.log(f"search: filling {count - have:,} messages (kept for later runs)")
        # Building the index once afterwards is several times quicker than keeping it up row by row.
        # Django's foreign keys are deferred; an index cannot be built over pending checks.
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        conn.execute("DROP INDEX message_search_idx")
        for start in range(have + 1, count + 1, FILL_BATCH):
            params = {
                "words": vocabulary, "vocabulary": VOCABULARY - 1, "first_conversation": first[0],
                "conversations": CONVERSATIONS, "start": start, "stop": min(count, start + FILL_BATCH - 1),
            }  # fmt: skip
            conn.execute(MESSAGES_SQL, params)
        conn.execute(index[0])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE whatsapp_whatsappmessage")
    return {"filled": count - have, "messages": count, "fill_s": round(time.monotonic() - started, 1)}


def timed(call: Any, items: list[str]) -> list[float]:
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - started) * 1000)
    return times


def run(ctx: Context) -> None:
    plan = ctx.plan
    name = ctx.database_url.rsplit("/", 1)[1] + "_search"
    env = dict(ctx.env)
    env["DATABASE_URL"] = url = prepare_database(
        database_url(ctx.database_url, "postgres"), name, env, recreate=False
    )
    vocabulary = words()
    filled = fill(ctx, url, plan.search_messages, vocabulary)
    asked = queries(vocabulary)
    token = issue_token(env)
    found: dict[str, int] = {}
    with (
        running("search-hub", hub_argv(plan.production_server), env) as server,
        httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client,
    ):

        def ask(q: str) -> None:
            response = client.get(server.url(MESSAGES_PATH) + "?" + urlencode({"q": q, "limit": 50}))
            response.raise_for_status()
            found[q] = len(response.json()["results"])

        timed(ask, asked)
        hub = timed(ask, asked)
    with psycopg.connect(url) as conn:

        def bare_ask(q: str) -> None:
            conn.execute(BARE_SQL, (q,)).fetchall()

        timed(bare_ask, asked)
        bare = timed(bare_ask, asked)
        matches = {q: int(conn.execute(COUNT_MATCHES_SQL, (q,)).fetchone()[0]) for q in asked[:10]}  # type: ignore[index]
    hub_p95, bare_p95 = percentile(hub, 95), percentile(bare, 95)
    slowest = sorted(zip(hub, asked, strict=True), reverse=True)[:5]
    ctx.log(f"  search: hub p95 {hub_p95:.0f} ms, bare SQL p95 {bare_p95:.0f} ms")
    ctx.rows[ROW] = specs(plan)[ROW].measured(
        hub_p95,
        bare_p95,
        hub=latency_ms(hub),
        bare=latency_ms(bare),
        slowest=[{"q": q, "ms": round(ms, 1), "results": found.get(q)} for ms, q in slowest],
        matches_of_first_ten=matches,
        server=plan.production_server,
        **filled,
    )

/* The JavaScript client against real hub processes (daphne and uvicorn), with `ws` as the WebSocket.
 *
 * Run by tests/clients/test_js_client.py, which starts the hubs and serves the verbs that restart,
 * freeze and kill them and record events (tests/clients/control.py) at HUB_CONTROL. */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WebSocket from "ws";

import { HubError, backoffDelay, connect, withAfter } from "../hub-client.js";

const CONTROL = process.env.HUB_CONTROL;
// Fast enough for tests; production defaults are 10 s + 10 s (a dead socket is noticed within 20 s).
const PING_INTERVAL = 500;
const PONG_TIMEOUT = 500;
// Uvicorn's --ws-ping-interval plus --ws-ping-timeout (20 s each, its defaults).
const UVICORN_KEEPALIVE_SECONDS = 40;
// How the hub ends a socket that stopped reading: its keepalive (1011), the close frame lost behind the
// unread bytes (1006), or 4008 when the socket's queue overflowed first.
const HUB_CLOSES = [1011, 1006, 4008];

async function control(verb, body = {}) {
  const response = await fetch(`${CONTROL}/${verb}`, { method: "POST", body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${verb}: ${answer.error} ${answer.detail}`);
  return answer;
}

async function until(predicate, within = 30000) {
  const deadline = Date.now() + within;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`not within ${within} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const range = (first, last) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function recorder(url, options = {}) {
  const seen = { seqs: [], states: [], resyncs: 0 };
  const client = connect({
    url,
    WebSocket,
    pingInterval: PING_INTERVAL,
    pongTimeout: PONG_TIMEOUT,
    connectTimeout: 2000,
    backoff: { initial: 50, max: 500 },
    onEvent: (event) => seen.seqs.push(event.seq),
    onResync: () => {
      seen.resyncs += 1;
    },
    onState: (state, detail) => seen.states.push([state, detail]),
    ...options,
  });
  const count = (state, code) => seen.states.filter(([s, d]) => s === state && (code === undefined || d.code === code)).length;
  return { client, seen, count };
}

test("the pure parts: the after query and the backoff", () => {
  assert.equal(withAfter("ws://h/ws/whatsapp/inbox/", 5), "ws://h/ws/whatsapp/inbox/?after=5");
  assert.equal(withAfter("ws://h/c/?business=1&after=3", 9), "ws://h/c/?business=1&after=9");
  assert.equal(withAfter("ws://h/c/?after=3", null), "ws://h/c/");
  assert.equal(withAfter("ws://h/ws/whatsapp/inbox/?presence=1", 7), "ws://h/ws/whatsapp/inbox/?presence=1&after=7");
  assert.equal(backoffDelay(0, {}, () => 0), 250);
  assert.equal(backoffDelay(3, {}, () => 1), 4000);
  assert.equal(backoffDelay(20, {}, () => 1), 30000);
});

test("a client needs a token, or session: true for the browser's cookie", () => {
  assert.throws(() => connect({ url: "ws://127.0.0.1:9/", WebSocket }), TypeError);
});

const setup = CONTROL ? await control("setup") : null;

for (const server of setup ? setup.servers : []) {
  describe(`under ${server}`, () => {
    const url = setup.urls[server];
    const token = setup.token;

    test("a restart mid-stream (SIGTERM, then 4012) loses and duplicates nothing", async () => {
      const { client, seen, count } = recorder(url, { token });
      try {
        await until(() => client.state === "open");
        const { seq: start } = await control("last-seq");
        const { seq: end } = await control("restart", { server, during: 15 });
        await until(() => client.seq >= end);
        assert.deepEqual(seen.seqs.filter((s) => s > start), range(start + 1, end));
        assert.ok(count("reconnecting", 4012) >= 1, JSON.stringify(seen.states));
        const resumed = seen.states.filter(([s]) => s === "connecting").slice(1);
        assert.ok(resumed.length && resumed.every(([, d]) => d.after >= start), JSON.stringify(seen.states));
      } finally {
        client.close();
      }
    });

    test("a SIGKILL without close frame is noticed by the keepalive; it resumes with after", async () => {
      const { client, seen, count } = recorder(url, { token });
      try {
        await until(() => client.state === "open");
        const { seq: before } = await control("record", { count: 3 });
        await until(() => client.seq >= before);
        await control("freeze", { server });
        const frozenAt = Date.now();
        await until(() => count("reconnecting", 4000) >= 1, 10000);
        const noticed = Date.now() - frozenAt;
        const { seq: missed } = await control("record", { count: 5 });
        await control("kill-frozen", { server });
        await until(() => client.seq >= missed);
        // Within one ping period and one pong timeout, with room for a loaded machine.
        assert.ok(noticed <= PING_INTERVAL + PONG_TIMEOUT + 3000, `noticed after ${noticed} ms`);
        assert.deepEqual(seen.seqs.filter((s) => s > before), range(before + 1, missed));
        assert.ok(seen.states.some(([s, d]) => s === "connecting" && d.after === before), JSON.stringify(seen.states));
      } finally {
        client.close();
      }
    });

    test("an after older than the retained log calls onResync, then streams", async () => {
      const { seq: recorded } = await control("record", { count: 3 });
      await control("prune");
      const { client, seen } = recorder(url, { token, after: recorded - 3 });
      try {
        await until(() => seen.resyncs === 1, 20000);
        const { seq: live } = await control("record", { count: 1 });
        await until(() => client.seq >= live);
        assert.deepEqual(seen.seqs, [live]);
      } finally {
        client.close();
      }
    });

    test("a bad token (4401) stops without retry", async () => {
      const { client, count } = recorder(url, { token: "hub_not-a-token" });
      await until(() => client.state === "stopped", 10000);
      assert.equal(client.closeCode, 4401);
      await sleep(300); // many backoff periods
      assert.equal(count("connecting"), 1);
      await assert.rejects(client.send({ type: "ping" }), (error) => error instanceof HubError && error.code === "closed");
    });

    // Under uvicorn, whose keepalive closes a socket that stopped reading; daphne never closes one (see
    // tests/clients/test_python_client.py for why uvicorn's 1011 comes before the 4008 of an overflow).
    if (server === "uvicorn") {
      test("a reader that stops reading is closed by the hub, comes back with after and catches up", async () => {
        const { link, url: linkUrl } = await control("slow-link", { server });
        // The client's own keepalive would take the silent link for a dead server and reconnect first.
        const { client, seen } = recorder(linkUrl, { token, pingInterval: 120000, pongTimeout: 10000 });
        try {
          await until(() => client.state === "open");
          const { seq: start } = await control("record", { count: 1 });
          await until(() => client.seq >= start);
          await control("pause-link", { link });
          const { seq: end } = await control("record-for", { seconds: UVICORN_KEEPALIVE_SECONDS + 5 });
          await control("resume-link", { link });
          await until(() => client.seq >= end, 60000);
          const closes = seen.states.filter(([s]) => s === "reconnecting").map(([, d]) => d.code);
          assert.equal(closes.length, 1, JSON.stringify(seen.states));
          assert.ok(HUB_CLOSES.includes(closes[0]), JSON.stringify(seen.states));
          assert.deepEqual(seen.seqs.filter((s) => s > start), range(start + 1, end));
        } finally {
          client.close();
        }
      });
    }

    test("two sends in flight each settle with their own answer", async () => {
      await control("record", { count: 1 }); // an open 24-hour window
      const { client } = recorder(url, { token });
      try {
        await until(() => client.state === "open");
        const { customer: to, business } = setup;
        const [one, two, bad, marked] = await Promise.allSettled([
          client.sendMessage({ to, business, text: "first of two" }),
          client.sendMessage({ to, business, text: "second of two" }),
          client.send({ type: "send", to, business }),
          client.markRead({ phoneNumber: to, business }),
        ]);
        assert.equal(one.status, "fulfilled", String(one.reason));
        assert.equal(one.value.text_body, "first of two");
        assert.equal(two.value.text_body, "second of two");
        assert.equal(bad.status, "rejected");
        assert.ok(bad.reason instanceof HubError && bad.reason.code === "invalid_body", String(bad.reason));
        assert.equal(marked.value.type, "mark_read.ok");
      } finally {
        client.close();
      }
    });
  });
}

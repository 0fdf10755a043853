/* A client of the WhatsApp Hub socket protocol (docs/websocket.md), with no dependencies.
 *
 * It remembers the last `seq`, reconnects with jittered exponential backoff and `?after=`, stops on the
 * close codes that a retry cannot fix, detects a dead socket with ping/pong, and settles each request
 * with the answer that carries its `request_id`. It runs on the `WebSocket` of a browser or React Native,
 * and in Node with any implementation passed as the `WebSocket` option (for example the `ws` package). */

export const VERSION = "0.1.0";
export const PROTOCOL_VERSION = 1;

/* 4400 a bad `after`, 4401 credentials, 4403 scope, 4404 unknown conversation: retrying cannot help. */
export const STOP_CODES = Object.freeze([4400, 4401, 4403, 4404]);
/* The code this client closes a socket with when it stopped answering pings. */
export const KEEPALIVE_CLOSE = 4000;
const OPEN = 1;

export class HubError extends Error {
  /* `code` is the server's error code, or "timeout", "closed" when the client gave up on an answer. */
  constructor(code, detail, frame = null) {
    super(detail || code);
    this.name = "HubError";
    this.code = code;
    this.detail = detail;
    this.frame = frame;
  }
}

/* `url` with `after=<seq>` in its query in place of any earlier one (string work: React Native's URL
 * has no working searchParams). */
export function withAfter(url, after) {
  const at = url.indexOf("?");
  const base = at < 0 ? url : url.slice(0, at);
  const params = (at < 0 ? "" : url.slice(at + 1)).split("&").filter((p) => p && !p.startsWith("after="));
  if (after !== null && after !== undefined) params.push(`after=${after}`);
  return params.length ? `${base}?${params.join("&")}` : base;
}

/* Milliseconds before reconnect attempt `attempt` (0 first): `initial` doubling up to `max`, times a
 * random factor between 0.5 and 1 so that many clients do not come back at once. */
export function backoffDelay(attempt, { initial = 500, max = 30000 } = {}, random = Math.random) {
  const ceiling = Math.min(max, initial * 2 ** attempt);
  return ceiling * (0.5 + random() / 2);
}

export function shouldReconnect(code) {
  return !STOP_CODES.includes(code);
}

function randomId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

function isSeq(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

export function connect(options) {
  return new HubClient(options);
}

export class HubClient {
  constructor({
    url,
    token = null,
    session = false,
    after = null,
    onEvent = () => {},
    onResync = null,
    onFrame = () => {},
    onState = () => {},
    onError = () => {},
    WebSocket: Socket = globalThis.WebSocket,
    pingInterval = 10000,
    pongTimeout = 10000,
    requestTimeout = 15000,
    connectTimeout = 10000,
    backoff = {},
    stableAfter = 10000,
  } = {}) {
    if (!url) throw new TypeError("connect() needs the socket's url");
    if (!token && !session) throw new TypeError("connect() needs a token, or session: true (the browser's cookie)");
    if (typeof Socket !== "function") throw new TypeError("no WebSocket: pass an implementation as `WebSocket`");
    if (after !== null && !isSeq(after)) throw new TypeError("after must be a seq (a non-negative integer)");
    Object.assign(this, { url, token, onEvent, onResync, onFrame, onState, onError, Socket });
    this.options = { pingInterval, pongTimeout, requestTimeout, connectTimeout, backoff, stableAfter };
    /* The last seq received: persist it, and pass it as `after` to resume after a cold start. */
    this.seq = after;
    this.state = "idle";
    this.closeCode = null;
    this._pending = new Map(); // request_id -> { frame, resolve, reject, timer }
    this._socket = null;
    this._attempt = 0;
    this._timers = new Set();
    this._stopped = false;
    this._open();
  }

  /* A frame with a `request_id` (one is added when absent); resolves with the answer that names it,
   * rejects with a HubError on an `error` answer or when none came within `timeout` ms. A request still
   * unanswered when the socket drops is sent again on the next one: sends carry an `idempotency_key`. */
  send(frame, { timeout = this.options.requestTimeout } = {}) {
    const request = { ...frame };
    if (request.request_id === undefined || request.request_id === null) request.request_id = randomId();
    if (request.type === "send" && !request.idempotency_key) request.idempotency_key = randomId();
    const id = request.request_id;
    if (this._pending.has(id)) return Promise.reject(new HubError("duplicate_request_id", `${id} is in flight`));
    if (this._stopped) return Promise.reject(new HubError("closed", "the client is stopped", request));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new HubError("timeout", `no answer to ${request.type} within ${timeout} ms`, request));
      }, timeout);
      this._pending.set(id, { frame: request, resolve, reject, timer });
      this._transmit(request);
    });
  }

  /* Send a frame now, if the socket is open, with no request_id and no answer awaited (nor any retry);
   * returns whether it went out. For frames whose answer does not matter, such as a refreshed presence. */
  post(frame) {
    const live = this._socket;
    if (!live || !live.openedAt || live.socket.readyState !== OPEN) return false;
    live.socket.send(JSON.stringify(frame));
    return true;
  }

  /* This user's presence in one conversation (`state` "viewing", "typing" or "idle"), for the team
   * (a staff user's socket opened with `?presence=1`; docs/team-inbox.md). Resolves with `presence.ok`. */
  presence({ conversation, business, state }, options) {
    const frame = { type: "presence", state };
    if (conversation !== undefined) frame.conversation = conversation;
    if (business !== undefined) frame.business = business;
    return this.send(frame, options);
  }

  /* Mark one conversation read (`phoneNumber`, or nothing on a conversation socket) or `messageIds`. */
  markRead({ phoneNumber, messageIds, business } = {}, options) {
    const frame = { type: "mark_read" };
    if (phoneNumber !== undefined) frame.phone_number = phoneNumber;
    if (messageIds !== undefined) frame.message_ids = messageIds;
    if (business !== undefined) frame.business = business;
    return this.send(frame, options);
  }

  /* Send a message (any body of POST /api/whatsapp/messages/); resolves with the stored message. A
   * retry with the same `idempotencyKey` never reaches the customer twice. */
  async sendMessage(body, { idempotencyKey = randomId(), timeout } = {}) {
    const answer = await this.send({ ...body, type: "send", idempotency_key: idempotencyKey }, { timeout });
    return answer.message;
  }

  /* Close for good; pending requests reject with "closed". */
  close() {
    this._stop(1000, "closed by the client");
  }

  /* Internals. */

  _setState(state, detail = {}) {
    this.state = state;
    try {
      this.onState(state, detail);
    } catch (error) {
      this.onError(error);
    }
  }

  _later(fn, ms) {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      fn();
    }, ms);
    this._timers.add(timer);
    return timer;
  }

  _clear(timer) {
    if (timer) {
      clearTimeout(timer);
      this._timers.delete(timer);
    }
  }

  _open() {
    if (this._stopped) return;
    const url = withAfter(this.url, this.seq);
    const socket = this.token ? new this.Socket(url, ["bearer", this.token]) : new this.Socket(url);
    const live = { socket, openedAt: 0, lastFrameAt: 0, pinger: null, deadline: null, deadlineSetAt: 0 };
    this._socket = live;
    this._setState("connecting", { url, after: this.seq });
    const opening = this._later(() => this._drop(live, "connect timeout"), this.options.connectTimeout);
    socket.onopen = () => {
      this._clear(opening);
      if (this._socket !== live) return;
      live.openedAt = live.lastFrameAt = Date.now();
      live.pinger = setInterval(() => this._ping(live), this.options.pingInterval);
      this._setState("open", { after: this.seq });
      for (const { frame } of this._pending.values()) this._transmit(frame);
    };
    socket.onmessage = (event) => this._receive(live, event.data);
    socket.onerror = () => {}; // a close event follows
    socket.onclose = (event) => {
      this._clear(opening);
      this._closed(live, event.code, event.reason);
    };
  }

  _transmit(frame) {
    const live = this._socket;
    if (live && live.openedAt && live.socket.readyState === OPEN) live.socket.send(JSON.stringify(frame));
  }

  _ping(live) {
    if (live.socket.readyState !== OPEN) return;
    live.socket.send('{"type":"ping"}');
    if (live.deadline === null) this._arm(live);
  }

  _arm(live) {
    live.deadlineSetAt = Date.now();
    live.deadline = setTimeout(() => {
      live.deadline = null;
      // Fired far too late: this program was stalled, not the server; give the frames a chance first.
      if (Date.now() - live.deadlineSetAt > this.options.pongTimeout + 1000) this._arm(live);
      else this._drop(live, "no answer to ping");
    }, this.options.pongTimeout);
  }

  _receive(live, data) {
    if (this._socket !== live) return;
    live.lastFrameAt = Date.now();
    if (live.deadline !== null) {
      clearTimeout(live.deadline);
      live.deadline = null;
    }
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (error) {
      this.onError(error);
      return;
    }
    try {
      this._dispatch(frame);
    } catch (error) {
      this.onError(error);
    }
  }

  _dispatch(frame) {
    const pending = frame.request_id !== undefined ? this._pending.get(frame.request_id) : undefined;
    if (pending) {
      clearTimeout(pending.timer);
      this._pending.delete(frame.request_id);
      if (frame.type === "error") pending.reject(new HubError(frame.error, frame.detail, frame));
      else pending.resolve(frame);
    } else if (isSeq(frame.seq)) {
      if (this.seq !== null && frame.seq <= this.seq) return; // already seen
      this.seq = frame.seq;
      this.onEvent(frame);
    } else if (frame.type === "resync_required") {
      if (this.onResync) this.onResync(frame);
      else this.onEvent(frame);
    } else if (frame.type === "error") {
      this.onError(new HubError(frame.error, frame.detail, frame));
    } else if (frame.type !== "pong") {
      this.onFrame(frame); // presence, agents, and answers to posted frames
    }
  }

  /* Give up on a socket that does not answer: close it and go on as if the server had closed it. */
  _drop(live, why) {
    if (this._socket !== live) return;
    try {
      // `ws` in Node waits up to 30 s for the close handshake of a dead peer; its terminate() does not.
      if (typeof live.socket.terminate === "function") live.socket.terminate();
      else live.socket.close(KEEPALIVE_CLOSE, why);
    } catch {
      // already closing
    }
    this._closed(live, KEEPALIVE_CLOSE, why);
  }

  _closed(live, code, reason) {
    if (this._socket !== live) return;
    this._socket = null;
    clearInterval(live.pinger);
    clearTimeout(live.deadline);
    live.socket.onopen = live.socket.onmessage = live.socket.onclose = null;
    this.closeCode = code;
    if (this._stopped) return;
    if (!shouldReconnect(code)) {
      this._stop(code, reason);
      return;
    }
    // A connection that lived a while starts the backoff over; one refused at once keeps growing it.
    if (live.openedAt && Date.now() - live.openedAt >= this.options.stableAfter) this._attempt = 0;
    const delay = backoffDelay(this._attempt, this.options.backoff);
    this._attempt += 1;
    this._setState("reconnecting", { code, reason, delay, after: this.seq });
    this._later(() => this._open(), delay);
  }

  _stop(code, reason) {
    if (this._stopped) return;
    this._stopped = true;
    this.closeCode = code;
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    const live = this._socket;
    if (live) {
      this._socket = null;
      clearInterval(live.pinger);
      clearTimeout(live.deadline);
      live.socket.onopen = live.socket.onmessage = live.socket.onclose = null;
      try {
        live.socket.close(1000);
      } catch {
        // already closed
      }
    }
    for (const [id, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new HubError("closed", `the client stopped (${code})`, pending.frame));
      this._pending.delete(id);
    }
    this._setState("stopped", { code, reason });
  }
}

/* Agent console: conversations and threads from the hub's REST API, kept live over /ws/whatsapp/inbox/.
 * Every text that comes from a message is set with textContent: bodies are shown, never interpreted. */
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("console-config").textContent);
  const PAGE_SIZE = 50;
  const MAX_RENDERED = 600; // bubbles kept in the DOM; scrolling further back drops the newest ones
  const WINDOW_MS = 24 * 60 * 60 * 1000;
  // `unknown`: Meta's answer to the send was lost; Meta's first status for it still moves it on.
  const RANK = { pending: 0, unknown: 0, sent: 1, delivered: 2, read: 3, played: 4, failed: 5 };
  const TICKS = { pending: "🕓", unknown: "?", sent: "✓", delivered: "✓✓", read: "✓✓", played: "✓✓", failed: "✗" };
  const RESEND_CONFIRM = "Send this message again? It may already have reached the customer.";
  const MEDIA_TYPES = new Set(["image", "video", "audio", "document", "sticker"]);
  // Types the console renders; any other (`unsupported`, one Meta adds later) gets a note naming it.
  const KNOWN_TYPES = new Set(["text", "location", "contacts", "interactive", "button", "order", "system",
    "reaction", "request_welcome", ...MEDIA_TYPES]);
  // Edits and revokes are shown on the message they change, never as bubbles of their own.
  const CHANGE_TYPES = new Set(["edit", "revoke"]);

  const ui = {};
  for (const id of ["connection", "conversations", "conversations-status", "thread-empty", "thread-header",
    "thread-scroll", "older-status", "messages", "jump-latest", "composer", "window-note", "text-form",
    "text-input", "text-send", "template-toggle", "template-form", "template-name", "template-language",
    "send-error"]) {
    ui[id.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = document.getElementById(id);
  }

  const state = {
    conversations: new Map(), // id -> conversation JSON
    conversationsNext: null,
    loadingConversations: false,
    current: null, // id of the open conversation
    thread: null, // see newThread()
    templateMode: false,
    marking: new Set(), // conversation ids with a mark-read request in flight
    markAgain: new Set(), // ... and those that got news of unread messages meanwhile
    resent: new Set(), // ids of unknown messages sent again from this page
    loaded: false, // lists fetched; events received before that wait in `held`
    held: [],
    loading: Promise.resolve(), // the chain of list fetches, one at a time
    client: null, // the socket client, once its module has loaded
    // What the list shows (team.js sets them: tabs and the status filter), and who listens to what.
    listFilter: () => true,
    listQuery: "",
    noteMode: false,
    listeners: { frame: [], open: [], conversation: [], thread: [] },
  };

  function emit(event, value) {
    for (const listener of state.listeners[event]) {
      try {
        listener(value);
      } catch (error) {
        console.error(`a ${event} listener failed:`, error);
      }
    }
  }

  /* Helpers. */

  function el(tag, className, text, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    node.append(...children.filter(Boolean));
    return node;
  }

  function link(text, href, className, ...children) {
    const node = el("a", className, text, ...children);
    Object.assign(node, { href, target: "_blank", rel: "noopener noreferrer" });
    return node;
  }

  function safeUrl(value) {
    try {
      const url = new URL(value, window.location.href);
      return value && (url.protocol === "http:" || url.protocol === "https:") ? url.href : null;
    } catch {
      return null;
    }
  }

  function relative(url) {
    const parsed = url ? new URL(url, window.location.href) : null;
    return parsed ? parsed.pathname + parsed.search : null; // `next` is absolute; stay on this origin
  }

  const time = (iso) => (iso ? Date.parse(iso) : 0);
  const customerKey = (c) => c.phone_number || c.user_id;
  const displayName = (c) => c.contact_name || c.phone_number || c.username || c.user_id || `#${c.id}`;
  const windowOpen = (c) => Boolean(c.window_open) && Date.now() - time(c.last_inbound_at) < WINDOW_MS;

  function formatWhen(iso, withTime) {
    if (!iso) return "";
    const date = new Date(iso);
    const clock = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (new Date().toDateString() === date.toDateString()) return clock;
    const day = date.toLocaleDateString([], { month: "short", day: "numeric" });
    return withTime ? `${day} ${clock}` : day;
  }

  function randomKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : config.csrf_token;
  }

  function showConnection(text, kind) {
    ui.connection.textContent = text;
    ui.connection.dataset.state = kind;
  }

  async function api(path, { method = "GET", body, headers = {} } = {}) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
    if (body !== undefined) {
      Object.assign(options.headers, { "Content-Type": "application/json", "X-CSRFToken": csrfToken() });
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) showConnection("signed out: reload the page to sign in", "down");
    if (!response.ok) {
      throw Object.assign(new Error(data.detail || `The hub answered ${response.status}.`), { code: data.error });
    }
    return data;
  }

  /* The conversation list. */

  function renderConversation(c) {
    const button = el("button", c.id === state.current ? "conversation active" : "conversation", null,
      el("span", "row", null, el("span", "name", displayName(c)), el("time", "when", formatWhen(c.last_message_at))),
      el("span", "row", null, el("span", "preview", c.last_message_preview),
        c.unread_count > 0 && el("span", "badge", c.unread_count)));
    button.type = "button";
    button.dataset.conversationId = c.id;
    return el("li", "", null, button);
  }

  function renderConversations() {
    const byRecency = (a, b) => time(b.last_message_at) - time(a.last_message_at) || b.id - a.id;
    const sorted = [...state.conversations.values()].filter((c) => state.listFilter(c)).sort(byRecency);
    ui.conversations.replaceChildren(...sorted.map(renderConversation));
    ui.conversationsStatus.textContent = state.loadingConversations ? "Loading conversations…"
      : !sorted.length ? "No conversations yet." : state.conversationsNext ? "Scroll for more." : "";
  }

  async function loadConversations(url, replace) {
    state.loadingConversations = true;
    try {
      const data = await api(url);
      if (replace) state.conversations.clear();
      for (const c of data.results) {
        // A conversation already known from a live event is at least as fresh as this page.
        if (!state.conversations.has(c.id)) state.conversations.set(c.id, c);
      }
      state.conversationsNext = relative(data.next);
    } finally {
      state.loadingConversations = false;
      renderConversations();
    }
  }

  function applyConversation(c) {
    state.conversations.set(c.id, c);
    renderConversations();
    emit("conversation", c);
    if (c.id !== state.current) return;
    renderThreadChrome();
    if (c.unread_count > 0 && !document.hidden) markRead(c);
  }

  function markRead(c) {
    if (!c || c.unread_count === 0) return;
    // A message that arrives while a request is in flight may be newer than what it marks: ask again.
    if (state.marking.has(c.id)) state.markAgain.add(c.id);
    else postMarkRead(c);
  }

  async function postMarkRead(c) {
    state.marking.add(c.id);
    try {
      const body = { phone_number: customerKey(c), business: c.business_phone_number_id };
      const data = await api(`${config.api}mark-read/`, { method: "POST", body });
      if (data.conversation) applyConversation(data.conversation);
    } catch (error) {
      console.warn("mark-read failed:", error.message);
    } finally {
      state.marking.delete(c.id);
      if (state.markAgain.delete(c.id) && c.id === state.current) postMarkRead(c);
    }
  }

  /* The open thread: header, composer and messages. */

  function renderThreadChrome() {
    const c = state.conversations.get(state.current);
    ui.composer.hidden = !c;
    if (!c) return;
    const open = windowOpen(c);
    const details = [c.phone_number, c.username && `@${c.username}`, `business ${c.business_phone_number_id}`];
    ui.threadHeader.replaceChildren(el("h2", "", displayName(c)),
      el("span", "details", details.filter(Boolean).join(" · ")),
      el("span", open ? "window open" : "window closed", open ? "24-hour window open" : "window closed"));
    // An internal note needs no window: it never reaches the customer.
    ui.textInput.disabled = ui.textSend.disabled = !open && !state.noteMode;
    ui.windowNote.hidden = open;
    ui.templateForm.hidden = open && !state.templateMode;
  }

  function newThread(id) {
    return { id, items: [], byId: new Map(), byWamid: new Map(), nodes: new Map(), reactions: new Map(),
      next: null, loading: false, detached: false };
  }

  const order = (a, b) => time(a.timestamp) - time(b.timestamp) || a.id - b.id;

  const content = (m) => m.content || {};
  const SUMMARIES = {
    contacts: (m) => `👤 ${(content(m).contacts || []).map((c) => c.name).filter(Boolean).join(", ") || "Contact"}`,
    order: (m) => `🛒 Order: ${(content(m).order?.items || []).length} item(s)`,
    image: () => "📷 Photo", video: () => "🎥 Video", sticker: () => "Sticker",
    audio: (m) => (content(m).voice ? "🎤 Voice note" : "🎵 Audio"), document: () => "📄 Document",
  };

  function summary(m) {
    if (m.revoked_at) return "This message was deleted";
    const fallback = SUMMARIES[m.message_type];
    return m.text_body || m.caption || m.location_name || m.media_filename
      || (fallback ? fallback(m) : `[${m.message_type}]`);
  }

  /* Who wrote a message a reply quotes: the agent's side, or the customer. */
  function authorOf(thread, quoted, fromNumber) {
    const c = state.conversations.get(thread.id);
    if (quoted && quoted.direction === "outbound") return "You";
    if (quoted) return quoted.from_name || (c && displayName(c)) || quoted.from_number;
    if (!fromNumber) return "";
    const customer = c && (fromNumber === c.phone_number || fromNumber === c.user_id);
    return customer ? displayName(c) : "You";
  }

  function renderQuote(thread, m) {
    const quoted = thread.byWamid.get(m.reply_to);
    const author = authorOf(thread, quoted, content(m).quoted_from);
    return el("blockquote", quoted ? "quote" : "quote unknown", null,
      author && el("span", "quote-author", author),
      el("span", "quote-text", quoted ? summary(quoted) : "Reply to an earlier message"));
  }

  function renderMedia(m) {
    const kind = m.message_type === "audio" && content(m).voice ? "voice" : m.message_type;
    if (m.media_status === "pending") return el("div", "media pending", `${kind}: downloading…`);
    const url = safeUrl(m.media_url);
    const why = m.media_status === "failed" ? "download failed" : "not available";
    if (!url) return el("div", "media missing", `${kind}: ${why}`);
    if (m.message_type === "image" || m.message_type === "sticker") {
      const image = el("img", `media ${m.message_type}`);
      Object.assign(image, { src: url, alt: m.caption || m.message_type, loading: "lazy" });
      return link("", url, "media-image", image);
    }
    if (m.message_type === "audio" || m.message_type === "video") {
      const player = el(m.message_type, `media ${kind}`);
      Object.assign(player, { src: url, controls: true, preload: "metadata" });
      return el("div", "player", null, kind === "voice" && el("span", "kind", "Voice note"), player);
    }
    return link(`📎 ${m.media_filename || `${m.message_type} (${m.media_mime_type || "file"})`}`, url, "media file");
  }

  function renderLocation(m) {
    let coordinates = null;
    if (m.latitude !== null && m.longitude !== null) {
      const [lat, lon] = [Number(m.latitude), Number(m.longitude)];
      const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
      coordinates = link(`📍 ${lat.toFixed(5)}, ${lon.toFixed(5)}`, href, "coordinates");
    }
    return el("div", "location", null, m.location_name && el("strong", "", m.location_name),
      m.location_address && el("div", "", m.location_address), coordinates);
  }

  function renderContacts(cards) {
    return el("div", "contacts", null, ...cards.map((card) => el("div", "contact-card", null,
      el("strong", "contact-name", `👤 ${card.name || "Contact"}`),
      card.organization && el("div", "contact-org", card.organization),
      ...(card.phones || []).map((p) => el("div", "contact-phone",
        [p.phone || p.wa_id, p.type && `(${p.type.toLowerCase()})`].filter(Boolean).join(" "))),
      ...(card.emails || []).map((e) => el("div", "contact-email", e.email)))));
  }

  function price(value, currency) {
    if (value === null || value === undefined) return "";
    try {
      return new Intl.NumberFormat([], { style: "currency", currency }).format(value);
    } catch {
      return `${value} ${currency || ""}`.trim();
    }
  }

  function renderOrder(order) {
    const items = order.items || [];
    const currency = items.find((i) => i.currency)?.currency || "";
    const total = items.reduce((sum, i) => sum + (i.item_price ?? 0) * (i.quantity ?? 1), 0);
    const rows = items.map((i) => el("tr", "order-item", null, el("td", "sku", i.product_retailer_id),
      el("td", "quantity", `× ${i.quantity ?? "?"}`), el("td", "price", price(i.item_price, i.currency))));
    const count = `${items.length} item${items.length === 1 ? "" : "s"}`;
    return el("div", "order", null, el("strong", "", `🛒 Order · ${count}`),
      el("table", "order-items", null, el("tbody", "", null, ...rows)),
      items.length > 0 && el("div", "order-total", `Total ${price(total, currency)}`),
      order.catalog_id && el("div", "order-catalog", `Catalog ${order.catalog_id}`));
  }

  function renderReferral(referral) {
    const url = safeUrl(referral.source_url);
    const source = referral.source_type === "post" ? "From a post" : "From an ad";
    return el("div", "referral", null, el("span", "kind", source),
      referral.headline && el("strong", "referral-headline", referral.headline),
      referral.body && el("div", "referral-body", referral.body),
      url && link(url, url, "referral-source"));
  }

  function renderFlow(flow) {
    const answers = Object.entries(flow.response || {}).filter(([key]) => key !== "flow_token");
    return el("dl", "flow", null, ...answers.flatMap(([key, value]) => [
      el("dt", "", key.replace(/_/g, " ")),
      el("dd", "", typeof value === "object" && value !== null ? JSON.stringify(value) : value)]));
  }

  function renderUnsupported(m) {
    const inner = content(m).unsupported_type;
    const text = m.message_type === "unsupported"
      ? `Unsupported message${inner ? `: ${inner.replace(/_/g, " ")}` : ""}. WhatsApp did not deliver its content.`
      : `A "${m.message_type}" message, which the console cannot show.`;
    return el("div", "unsupported", text);
  }

  function renderBody(m) {
    if (m.revoked_at) return el("div", "body", null, el("em", "revoked", "This message was deleted"));
    const c = content(m);
    const forwarded = c.frequently_forwarded ? "Forwarded many times" : c.forwarded ? "Forwarded" : "";
    return el("div", "body", null,
      forwarded && el("div", "forwarded", `↪ ${forwarded}`),
      c.referral && renderReferral(c.referral),
      MEDIA_TYPES.has(m.message_type) && renderMedia(m),
      m.message_type === "location" && renderLocation(m),
      c.contacts && renderContacts(c.contacts),
      c.order && renderOrder(c.order),
      !KNOWN_TYPES.has(m.message_type) && renderUnsupported(m),
      m.text_body && el("div", "text", m.text_body),
      c.description && el("div", "description", c.description),
      c.flow && renderFlow(c.flow),
      m.caption && m.caption !== m.text_body && el("div", "text caption", m.caption));
  }

  function renderTicks(m) {
    const ticks = el("span", `ticks ${m.status}`, TICKS[m.status] || m.status);
    ticks.dataset.status = ticks.title = m.status;
    if (m.status === "unknown") return renderUnknown(m, ticks);
    if (m.status !== "failed") return ticks;
    return el("span", "failure", null, ticks, el("span", "error", m.error_title || "not delivered"));
  }

  /* A send whose answer from Meta was lost: the agent decides whether to send it again. */
  function renderUnknown(m, ticks) {
    ticks.title = m.error_title || "Meta's answer was lost: the message may or may not have reached the customer.";
    let action = el("span", "resent", "sent again");
    if (!state.resent.has(m.id)) {
      action = el("button", "resend", "send again");
      action.type = "button";
      action.dataset.resend = m.id;
    }
    return el("span", "unknown-send", null, ticks, el("span", "error", "delivery unknown"), action);
  }

  async function resend(button) {
    const id = Number(button.dataset.resend);
    if (!window.confirm(RESEND_CONFIRM)) return;
    button.disabled = true;
    ui.sendError.textContent = "";
    try {
      const data = await api(`${config.api}messages/${id}/resend/`, { method: "POST", body: {} });
      state.resent.add(id);
      const original = state.thread && state.thread.byId.get(id);
      if (original) redraw(state.thread, original);
      applyMessage(data.message, true);
      scrollToBottom();
    } catch (error) {
      ui.sendError.textContent = error.message;
      button.disabled = false;
    }
  }

  function renderMessage(thread, m) {
    const reactions = [...(thread.reactions.get(m.message_id) || new Map()).values()].map((r) => r.emoji);
    const node = el("article", `message ${m.direction}`, null,
      m.reply_to && renderQuote(thread, m),
      renderBody(m),
      reactions.some(Boolean) && el("div", "reactions", reactions.filter(Boolean).join(" ")),
      el("div", "meta", null, el("time", "", formatWhen(m.timestamp, true)),
        m.edited_at && !m.revoked_at && el("span", "edited", "edited"),
        m.direction === "outbound" && renderTicks(m)));
    node.dataset.id = m.id;
    node.dataset.wamid = m.message_id;
    node.dataset.ts = String(time(m.timestamp));
    return node;
  }

  function redraw(thread, m) {
    const node = renderMessage(thread, m);
    const old = thread.nodes.get(m.id);
    thread.nodes.set(m.id, node);
    if (old) old.replaceWith(node);
    return node;
  }

  function keepStatus(old, m) {
    // Status only moves forward; an event applied after a newer REST answer must not move it back.
    if (!old || m.direction !== "outbound" || (RANK[m.status] ?? 0) >= (RANK[old.status] ?? 0)) return m;
    return { ...m, status: old.status, error_code: old.error_code, error_title: old.error_title };
  }

  function applyReaction(thread, m) {
    const byFrom = thread.reactions.get(m.reply_to) || new Map();
    const known = byFrom.get(m.from_number);
    if (known && order(known, m) > 0) return; // an older reaction of the same person
    byFrom.set(m.from_number, { emoji: m.text_body, timestamp: m.timestamp, id: m.id });
    thread.reactions.set(m.reply_to, byFrom);
    const reacted = thread.byWamid.get(m.reply_to);
    if (reacted) redraw(thread, reacted);
  }

  function insertionIndex(items, m) {
    let [low, high] = [0, items.length];
    while (low < high) {
      const middle = (low + high) >> 1;
      if (order(items[middle], m) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /* Add or update one message of the open thread; `live` ones outside the loaded range are left out. */
  function applyMessage(m, live) {
    const thread = state.thread;
    if (!thread || thread.id !== m.conversation_id) return;
    if (m.message_type === "reaction") return applyReaction(thread, m);
    if (CHANGE_TYPES.has(m.message_type)) return;
    const old = thread.byId.get(m.id);
    const merged = keepStatus(old, m);
    if (old) {
      thread.items[thread.items.indexOf(old)] = merged;
    } else {
      const index = insertionIndex(thread.items, merged);
      const beyondNewest = index === thread.items.length && thread.detached;
      const beforeOldest = index === 0 && thread.next !== null && thread.items.length > 0;
      if (live && (beyondNewest || beforeOldest)) return;
      const following = thread.items[index];
      thread.items.splice(index, 0, merged);
      ui.messages.insertBefore(redraw(thread, merged), following ? thread.nodes.get(following.id) : null);
    }
    thread.byId.set(merged.id, merged);
    thread.byWamid.set(merged.message_id, merged);
    if (old) redraw(thread, merged);
  }

  function trimNewest(thread) {
    while (thread.items.length > MAX_RENDERED) {
      const m = thread.items.pop();
      thread.nodes.get(m.id).remove();
      thread.nodes.delete(m.id);
      thread.byId.delete(m.id);
      thread.byWamid.delete(m.message_id);
      thread.detached = true;
    }
  }

  const scroller = ui.threadScroll;
  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  const scrollToBottom = () => { scroller.scrollTop = scroller.scrollHeight; };

  function renderOlderStatus(thread, problem) {
    ui.olderStatus.textContent = problem ? `Could not load messages: ${problem}`
      : thread.loading ? "Loading messages…"
        : thread.next ? "Scroll up for older messages." : "Beginning of the conversation.";
    ui.jumpLatest.hidden = !thread.detached;
  }

  /* One page of the open thread: the newest (a fresh thread) or the next older one. */
  async function loadPage(older) {
    const thread = older ? state.thread : newThread(state.current);
    if (!thread || thread.loading || (older && !thread.next)) return;
    if (!older) {
      state.thread = thread;
      ui.messages.replaceChildren();
    }
    thread.loading = true;
    renderOlderStatus(thread);
    let problem = null;
    try {
      const newest = `${config.api}messages/?conversation=${thread.id}&limit=${PAGE_SIZE}`;
      const data = await api(older ? thread.next : newest);
      if (state.thread !== thread) return;
      // Keep the view still while a page goes in above it: follow what was the oldest bubble.
      const anchor = thread.items.length ? thread.nodes.get(thread.items[0].id) : null;
      const anchorTop = anchor ? anchor.offsetTop : 0;
      thread.next = relative(data.next);
      data.results.slice().reverse().forEach((m) => applyMessage(m, false));
      if (older) trimNewest(thread);
      emit("thread", thread.id);
      if (older && anchor) scroller.scrollTop += anchor.offsetTop - anchorTop;
      else if (!older) scrollToBottom();
    } catch (error) {
      problem = error.message;
    } finally {
      thread.loading = false;
      if (state.thread === thread) renderOlderStatus(thread, problem);
    }
    // A first page shorter than the view cannot be scrolled: fetch older ones until it fills.
    const short = scroller.scrollHeight <= scroller.clientHeight + 200;
    if (!problem && state.thread === thread && thread.next && short) loadPage(true);
  }

  async function openConversation(id) {
    if (!state.conversations.has(id)) return;
    Object.assign(state, { current: id, templateMode: false });
    ui.sendError.textContent = "";
    ui.threadEmpty.hidden = true;
    ui.threadHeader.hidden = ui.threadScroll.hidden = false;
    renderConversations();
    renderThreadChrome();
    emit("open", state.conversations.get(id));
    await loadPage(false);
    markRead(state.conversations.get(id));
  }

  /* Sending. */

  async function send(content) {
    const c = state.conversations.get(state.current);
    if (!c) return false;
    ui.sendError.textContent = "";
    try {
      const data = await api(`${config.api}messages/`, {
        method: "POST",
        body: { to: customerKey(c), business: c.business_phone_number_id, ...content },
        headers: { "Idempotency-Key": randomKey() },
      });
      if (state.thread && state.thread.detached) await loadPage(false);
      applyMessage(data.message, true);
      scrollToBottom();
      return true;
    } catch (error) {
      if (error.code === "outside_customer_service_window") {
        state.conversations.set(c.id, { ...c, window_open: false });
        renderThreadChrome();
      }
      ui.sendError.textContent = error.message;
      return false;
    }
  }

  async function submitText(event) {
    event.preventDefault();
    const text = ui.textInput.value.trim();
    if (!text || ui.textSend.disabled) return;
    ui.textSend.disabled = true;
    if (await send({ text })) ui.textInput.value = "";
    renderThreadChrome();
    ui.textInput.focus();
  }

  async function submitTemplate(event) {
    event.preventDefault();
    const [name, code] = [ui.templateName.value.trim(), ui.templateLanguage.value.trim()];
    if (name && code && (await send({ template: { name, language: { code } } }))) ui.templateName.value = "";
  }

  /* Live updates. */

  function applyEvent(frame) {
    if (frame.conversation) applyConversation(frame.conversation);
    if (!frame.message) return;
    const stick = nearBottom();
    applyMessage(frame.message, true);
    if (stick && frame.type === "message.created") scrollToBottom();
  }

  /* A frame with a seq, once and in order (the client drops what it saw already). */
  function handleEvent(frame) {
    emit("frame", frame);
    if (state.loaded) applyEvent(frame);
    else state.held.push(frame);
  }

  /* Fetch the lists over REST (start, resync); events meanwhile wait and are applied afterwards. */
  function resync() {
    state.loaded = false;
    state.loading = state.loading.then(loadLists);
  }

  async function loadLists() {
    try {
      const query = state.listQuery ? `&${state.listQuery}` : "";
      await loadConversations(`${config.api}conversations/?limit=${PAGE_SIZE}${query}`, true);
      if (state.current !== null) {
        renderThreadChrome();
        await loadPage(false);
      }
      state.loaded = true;
    } catch (error) {
      ui.conversationsStatus.textContent = `Could not load conversations: ${error.message}`;
      setTimeout(resync, 5000);
      return;
    }
    state.held.splice(0).forEach(applyEvent);
  }

  function showSocketState(name, detail) {
    if (name === "open") {
      showConnection("live", "up");
      // Without a seq there is nothing to replay from: what the socket now streams follows a fresh read.
      if (detail.after === null) resync();
    } else if (name === "reconnecting") {
      showConnection(`connection lost; retrying in ${Math.ceil(detail.delay / 1000)} s`, "down");
    } else if (name === "stopped") {
      // The client stops only on a close a retry cannot fix, such as an ended session (4401).
      showConnection(detail.code === 4401 ? "signed out: reload the page to sign in"
        : `disconnected (${detail.code}): reload the page`, "down");
    }
  }

  /* The socket, through the hub's own client (clients/js/hub-client.js): it remembers the seq,
   * reconnects with backoff and `after`, and notices a dead connection with pings. */
  async function connect() {
    try {
      const hub = await import(config.client);
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      state.client = hub.connect({
        url: `${scheme}//${window.location.host}${config.inbox}?presence=1`,
        session: true, // the session cookie of this page's login
        // A person is watching: after a restart, retry within seconds (apps default to 30 s at most).
        backoff: { max: 8000 },
        onEvent: handleEvent,
        onResync: (frame) => {
          emit("frame", frame);
          resync();
        },
        onFrame: (frame) => emit("frame", frame),
        onState: showSocketState,
        onError: (error) => console.warn("socket:", error.message || error),
      });
    } catch (error) {
      console.error("the socket client did not load:", error);
      showConnection("live updates unavailable: reload the page", "down");
    }
  }

  /* Wiring. */

  const sidebar = ui.conversations.parentElement;
  ui.conversations.addEventListener("click", (event) => {
    const button = event.target.closest("[data-conversation-id]");
    if (button) openConversation(Number(button.dataset.conversationId));
  });
  sidebar.addEventListener("scroll", () => {
    const atEnd = sidebar.scrollHeight - sidebar.scrollTop - sidebar.clientHeight < 200;
    if (atEnd && state.conversationsNext && !state.loadingConversations) {
      loadConversations(state.conversationsNext, false).catch((error) => console.warn(error.message));
    }
  });
  scroller.addEventListener("scroll", () => scroller.scrollTop < 200 && loadPage(true));
  ui.messages.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-resend]");
    if (button && !button.disabled) resend(button);
  });
  ui.jumpLatest.addEventListener("click", () => loadPage(false));
  ui.textForm.addEventListener("submit", submitText);
  ui.textInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.textForm.requestSubmit(); // through the form, where a note may take it (team.js)
    }
  });
  ui.templateForm.addEventListener("submit", submitTemplate);
  ui.templateToggle.addEventListener("click", () => {
    state.templateMode = !state.templateMode;
    renderThreadChrome();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) markRead(state.conversations.get(state.current));
  });
  // The 24-hour window closes with time alone, without any event.
  setInterval(() => state.current !== null && renderThreadChrome(), 60000);

  // What team.js builds on: read the list and the thread, hear frames, speak on the socket.
  window.hubConsole = {
    config,
    api,
    el,
    replyPlaceholder: ui.textInput.placeholder,
    send, // the one send path: templates.js sends a picked template through it
    currentConversation: () => state.conversations.get(state.current) || null,
    applyConversation,
    openById: async (id) => {
      if (!state.conversations.has(id)) {
        const found = await api(`${config.api}conversations/?limit=${PAGE_SIZE}`).catch(() => null);
        (found ? found.results : []).forEach((c) => state.conversations.has(c.id) || state.conversations.set(c.id, c));
      }
      return openConversation(id);
    },
    setListFilter(filter, query) {
      Object.assign(state, { listFilter: filter, listQuery: query });
      resync();
    },
    setComposerOverride(on) {
      state.noteMode = on;
      renderThreadChrome();
    },
    // Sent now if the socket is open, else dropped: presence is refreshed anyway.
    sendFrame: (frame) => Boolean(state.client && state.client.post(frame)),
    on: (event, listener) => state.listeners[event].push(listener),
  };

  connect();
  // Should the socket not open (a proxy without WebSockets), the lists still load.
  setTimeout(() => (!state.client || state.client.seq === null) && !state.loaded && resync(), 3000);
})();

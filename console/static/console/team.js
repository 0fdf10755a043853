/* The team side of the console: tabs and filters, assignment, status, labels, internal notes, canned
 * replies, search, presence ("bob is typing…") and the contact panel. It works through the small API
 * that console.js exposes as `window.hubConsole`; every text from the hub is set with textContent. */
"use strict";

(() => {
  const hub = window.hubConsole;
  if (!hub) return;
  const { api, el, config } = hub;
  const me = config.username;
  const TYPING_IDLE_MS = 4000;
  const PRESENCE_REFRESH_MS = 10000;
  const $ = (id) => document.getElementById(id);

  const team = {
    tab: "all", // mine | unassigned | all
    status: "open", // a status, or "" for any
    agents: [],
    online: [],
    presence: new Map(), // "business|customer" -> {viewing, typing}
    notes: [], // notes of the open conversation
    noteMode: false,
    typingSince: 0,
    typingTimer: null,
    refreshTimer: null,
    mentions: [],
  };

  /* The conversation list: tabs and the status filter decide what it shows, live events included. */

  function listed(c) {
    if (team.status && (c.status || "open") !== team.status) return false;
    if (team.tab === "mine") return c.assignee === me;
    if (team.tab === "unassigned") return !c.assignee;
    return true;
  }

  function listQuery() {
    const params = new URLSearchParams();
    if (team.tab === "mine") params.set("assignee", "me");
    if (team.tab === "unassigned") params.set("assignee", "none");
    if (team.status) params.set("status", team.status);
    return params.toString();
  }

  function renderTabs() {
    for (const button of $("team-tabs").querySelectorAll("button[data-tab]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tab === team.tab));
    }
    $("status-filter").value = team.status;
  }

  function chooseList(tab, status) {
    Object.assign(team, { tab, status });
    renderTabs();
    hub.setListFilter(listed, listQuery());
  }

  /* Assignment, status and labels of the open conversation. */

  const customerOf = (c) => c.phone_number || c.user_id;
  const keyOf = (c) => `${c.business_phone_number_id}|${customerOf(c)}`;
  // A conversation's REST address (and, with `tail`, one beneath it), for its business number.
  const conversationUrl = (c, tail = "") => `${config.api}conversations/${encodeURIComponent(customerOf(c))}/`
    + `${tail}?business=${encodeURIComponent(c.business_phone_number_id)}`;

  async function patchConversation(changes) {
    const c = hub.currentConversation();
    if (!c) return;
    try {
      hub.applyConversation(await api(conversationUrl(c), { method: "PATCH", body: changes }));
      $("team-error").textContent = "";
    } catch (error) {
      $("team-error").textContent = error.message;
    }
  }

  function renderTeamBar() {
    const c = hub.currentConversation();
    const bar = $("team-bar");
    bar.hidden = !c;
    if (!c) return renderPanel(null);
    const picker = el("select", "assignee", null,
      el("option", "", "Unassigned"), ...team.agents.map((a) => el("option", "", a.username)));
    picker.options[0].value = "";
    picker.value = c.assignee || "";
    picker.setAttribute("aria-label", "Assignee");
    picker.addEventListener("change", () => patchConversation({ assignee: picker.value || null }));
    const resolved = c.status === "resolved";
    const resolve = el("button", resolved ? "secondary" : "resolve", resolved ? "Reopen" : "Resolve");
    resolve.type = "button";
    resolve.addEventListener("click", () => patchConversation({ status: resolved ? "open" : "resolved" }));
    const labels = el("span", "labels", null, ...(c.labels || []).map((name) => labelChip(c, name)));
    const add = el("input", "label-add");
    Object.assign(add, { placeholder: "+ label", size: 8 });
    add.setAttribute("aria-label", "Add a label");
    add.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || !add.value.trim()) return;
      event.preventDefault();
      patchConversation({ labels: [...(c.labels || []), add.value.trim()] });
    });
    bar.replaceChildren(el("label", "", "Assignee ", picker), el("span", `status-pill ${c.status}`, c.status),
      resolve, labels, add, renderPresence(c));
    renderPanel(c);
  }

  function labelChip(c, name) {
    const remove = el("button", "chip-remove", "×");
    Object.assign(remove, { type: "button", title: `Remove ${name}` });
    remove.addEventListener("click", () => patchConversation({ labels: c.labels.filter((l) => l !== name) }));
    return el("span", "chip", null, el("bdi", "", name), remove);
  }

  function renderPresence(c) {
    const now = team.presence.get(keyOf(c)) || { viewing: [], typing: [] };
    const others = now.viewing.filter((user) => user !== me);
    const typing = now.typing.filter((user) => user !== me);
    const avatars = others.map((user) => {
      const avatar = el("span", "avatar", user.slice(0, 1).toUpperCase());
      avatar.title = `${user} is viewing`;
      return avatar;
    });
    return el("span", "presence", null, ...avatars,
      others.length && el("span", "viewing", `${others.join(", ")} ${others.length > 1 ? "are" : "is"} viewing`),
      typing.length && el("span", "typing", `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing…`));
  }

  function renderPanel(c) {
    const panel = $("side-panel");
    panel.hidden = !c;
    if (!c) return;
    const rows = [["Name", c.contact_name || "—"], ["Number", c.phone_number || "—"],
      ["BSUID", c.user_id || "—"], ["Username", c.username ? `@${c.username}` : "—"],
      ["Messages", c.message_count], ["Labels", (c.labels || []).join(", ") || "—"]];
    const list = el("dl", "", null);
    for (const [term, value] of rows) list.append(el("dt", "", term), el("dd", "", null, el("bdi", "", value)));
    const notes = el("ul", "panel-notes", null,
      ...team.notes.map((n) => el("li", "", null, el("strong", "", n.author || "someone"), el("span", "", `: ${n.text}`))));
    panel.replaceChildren(el("h3", "", "Contact"), list, el("h3", "", "Internal notes"),
      team.notes.length ? notes : el("p", "muted", "No notes yet."));
  }

  /* Internal notes: yellow bubbles in the thread, written with the composer in note mode. */

  function noteNode(n) {
    const node = el("article", "message note", null, el("div", "note-head", `Note by ${n.author || "someone"}`),
      el("div", "text", n.text), el("div", "meta", null, el("time", "", new Date(n.created_at).toLocaleString())));
    node.dataset.noteId = n.id;
    node.dataset.ts = String(Date.parse(n.created_at));
    return node;
  }

  function placeNote(n) {
    const messages = $("messages");
    if (messages.querySelector(`[data-note-id="${n.id}"]`)) return;
    const at = Date.parse(n.created_at);
    const later = [...messages.children].find((node) => Number(node.dataset.ts || 0) > at);
    messages.insertBefore(noteNode(n), later || null);
  }

  async function loadNotes(c) {
    team.notes = [];
    try {
      team.notes = (await api(conversationUrl(c, "notes/"))).results;
    } catch (error) {
      console.warn("notes failed:", error.message);
    }
    if ((hub.currentConversation() || {}).id === c.id) {
      team.notes.forEach(placeNote);
      renderPanel(c);
    }
  }

  function setNoteMode(on) {
    team.noteMode = on;
    $("composer").classList.toggle("note-mode", on);
    $("note-toggle").setAttribute("aria-pressed", String(on));
    $("note-toggle").textContent = on ? "Note (team only)" : "Reply";
    $("text-input").placeholder = on ? "Write an internal note; @name mentions a teammate" : hub.replyPlaceholder;
    hub.setComposerOverride(on);
  }

  async function submitNote(event) {
    if (!team.noteMode) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const c = hub.currentConversation();
    const text = $("text-input").value.trim();
    if (!c || !text) return;
    try {
      const note = await api(conversationUrl(c, "notes/"), { method: "POST", body: { text } });
      $("text-input").value = "";
      addNote(note);
    } catch (error) {
      $("send-error").textContent = error.message;
    }
  }

  function addNote(note) {
    const c = hub.currentConversation();
    if (!c || note.conversation_id !== c.id || team.notes.some((n) => n.id === note.id)) return;
    team.notes.push(note);
    placeNote(note);
    renderPanel(c);
  }

  /* Canned responses: `/` at the start of the reply box offers them. */

  async function offerCanned() {
    const input = $("text-input");
    const menu = $("canned-menu");
    const match = /^\/([\w-]*)$/.exec(input.value);
    if (!match) { menu.hidden = true; return; }
    let found = [];
    try {
      found = (await api(`${config.api}canned-responses/?q=${encodeURIComponent(match[1])}`)).results;
    } catch (error) {
      console.warn("canned responses failed:", error.message);
    }
    if (!/^\/[\w-]*$/.test(input.value)) return; // typed on meanwhile
    menu.replaceChildren(...found.slice(0, 8).map((r) => {
      const item = el("button", "canned", null, el("strong", "", `/${r.shortcut}`), el("span", "", r.text));
      item.type = "button";
      item.addEventListener("click", () => {
        input.value = r.text;
        menu.hidden = true;
        input.focus();
      });
      return item;
    }));
    menu.hidden = !found.length;
  }

  /* Search: results jump into their thread. */

  async function search(event) {
    event.preventDefault();
    const q = $("search-input").value.trim();
    const results = $("search-results");
    if (!q) { results.hidden = true; return; }
    try {
      const data = await api(`${config.api}messages/?q=${encodeURIComponent(q)}&limit=20`);
      results.replaceChildren(...data.results.map((m) => {
        const item = el("button", "search-hit", null, el("bdi", "name", m.from_name || m.from_number),
          el("span", "text", m.text_body || m.caption || m.media_filename || `[${m.message_type}]`));
        item.type = "button";
        item.addEventListener("click", () => {
          results.hidden = true;
          hub.openById(m.conversation_id);
        });
        return item;
      }));
      if (!data.results.length) results.replaceChildren(el("p", "muted", `Nothing found for “${q}”.`));
    } catch (error) {
      results.replaceChildren(el("p", "muted", error.message));
    }
    results.hidden = false;
  }

  /* Presence: this agent's state goes out; everyone's comes in. */

  function sendPresence(state) {
    const c = hub.currentConversation();
    if (!c) return;
    hub.sendFrame({ type: "presence", conversation: customerOf(c),
      business: c.business_phone_number_id, state });
  }

  function typed() {
    const now = Date.now();
    if (team.noteMode) return;
    if (now - team.typingSince > PRESENCE_REFRESH_MS / 2) {
      team.typingSince = now;
      sendPresence("typing");
    }
    clearTimeout(team.typingTimer);
    team.typingTimer = setTimeout(() => { team.typingSince = 0; sendPresence("viewing"); }, TYPING_IDLE_MS);
  }

  function onFrame(frame) {
    if (frame.type === "presence") {
      team.presence.set(`${frame.business}|${frame.conversation}`, frame);
      const c = hub.currentConversation();
      if (c && keyOf(c) === `${frame.business}|${frame.conversation}`) renderTeamBar();
    } else if (frame.type === "agents") {
      team.online = frame.online;
      $("agents-online").textContent = frame.online.length ? `online: ${frame.online.join(", ")}` : "";
    } else if (frame.type === "note.created" && frame.note) {
      addNote(frame.note);
      if ((frame.note.mentions || []).includes(me) && frame.note.author !== me) {
        const who = frame.conversation.contact_name || frame.conversation.phone_number || "a conversation";
        $("mentions").textContent = `${frame.note.author} mentioned you in ${who}`;
        $("mentions").hidden = false;
      }
    }
  }

  function onOpen(c) {
    setNoteMode(false);
    renderTeamBar();
    loadNotes(c);
    sendPresence("viewing");
    clearInterval(team.refreshTimer);
    team.refreshTimer = setInterval(() => sendPresence(team.typingSince ? "typing" : "viewing"), PRESENCE_REFRESH_MS);
  }

  async function start() {
    try {
      team.agents = (await api(`${config.api}agents/`)).results;
    } catch (error) {
      console.warn("agents failed:", error.message);
    }
    for (const button of $("team-tabs").querySelectorAll("button[data-tab]")) {
      button.addEventListener("click", () => chooseList(button.dataset.tab, team.status));
    }
    $("status-filter").addEventListener("change", (event) => chooseList(team.tab, event.target.value));
    $("note-toggle").addEventListener("click", () => setNoteMode(!team.noteMode));
    $("text-form").addEventListener("submit", submitNote, true);
    $("text-input").addEventListener("input", () => { typed(); offerCanned(); });
    $("search-form").addEventListener("submit", search);
    $("mentions").addEventListener("click", () => { $("mentions").hidden = true; });
    hub.on("frame", onFrame);
    hub.on("open", onOpen);
    hub.on("conversation", (c) => { if ((hub.currentConversation() || {}).id === c.id) renderTeamBar(); });
    hub.on("thread", () => team.notes.forEach(placeNote));
    chooseList(team.tab, team.status);
  }

  start();
})();

/* The console's template picker: when the 24-hour window is closed, the template form offers the
 * conversation's approved templates (GET /api/whatsapp/templates/), one field per parameter, a preview
 * of the text the customer will read, and sends through the console's one send path. Without any
 * template in the table (never synced) the form stays as it was: a name and a language code.
 * Built on `window.hubConsole`; every text from the hub is set with textContent. */
"use strict";

(() => {
  const hub = window.hubConsole;
  if (!hub || !hub.send) return;
  const { api, el, config } = hub;
  const $ = (id) => document.getElementById(id);
  const form = $("template-form");
  const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
  const MEDIA = { IMAGE: "image", VIDEO: "video", DOCUMENT: "document" };

  const picker = { templates: [], chosen: null, business: null, request: 0 };
  const select = el("select", "template-pick");
  select.id = "template-pick";
  select.setAttribute("aria-label", "Template");
  const fields = el("div", "template-params");
  fields.id = "template-params";
  const preview = el("p", "template-preview");
  preview.id = "template-preview";
  const pickLabel = el("label", "template-pick-label", "Template", select);
  const typedLabels = [...form.querySelectorAll("label")]; // the name and language fields
  form.prepend(pickLabel);
  form.insertBefore(fields, $("template-send"));
  form.after(preview);
  pickLabel.hidden = fields.hidden = preview.hidden = true;

  const component = (t, type) => (t.components || []).find((c) => String(c.type).toUpperCase() === type);

  /* `{{1}}`, `{{2}}` in number order; named ones in order of first use. */
  function placeholders(text) {
    const names = [...new Set([...String(text || "").matchAll(PLACEHOLDER)].map((m) => m[1]))];
    return names.every((n) => /^\d+$/.test(n)) ? names.sort((a, b) => a - b) : names;
  }

  function examples(part) {
    const example = (part && part.example) || {};
    return (example.body_text || example.header_text || [[]]).flat();
  }

  /* What the chosen template needs: [{part, name, label, media?}], header first. */
  function parameters(t) {
    const wanted = [];
    const header = component(t, "HEADER");
    if (header && MEDIA[String(header.format).toUpperCase()]) {
      const kind = MEDIA[String(header.format).toUpperCase()];
      wanted.push({ part: "header", name: "", label: `Header ${kind} URL`, media: kind, hint: "https://…" });
    } else if (header) {
      placeholders(header.text).forEach((name, i) =>
        wanted.push({ part: "header", name, label: `Header {{${name}}}`, hint: examples(header)[i] || "" }));
    }
    const body = component(t, "BODY");
    placeholders(body && body.text).forEach((name, i) =>
      wanted.push({ part: "body", name, label: `{{${name}}}`, hint: examples(body)[i] || "" }));
    return wanted;
  }

  function renderPreview() {
    const t = picker.chosen;
    const body = t && component(t, "BODY");
    preview.hidden = !body;
    if (!body) return;
    const values = new Map([...fields.querySelectorAll("input[data-part=body]")].map((i) => [i.dataset.name, i.value]));
    preview.textContent = String(body.text).replace(PLACEHOLDER, (all, name) => values.get(name) || all);
  }

  function choose(key) {
    picker.chosen = picker.templates.find((t) => `${t.name}|${t.language}` === key) || null;
    const t = picker.chosen;
    fields.replaceChildren(...(t ? parameters(t) : []).map((p) => {
      const input = el("input", "template-param");
      Object.assign(input, { required: true, autocomplete: "off", placeholder: p.hint, type: p.media ? "url" : "text" });
      Object.assign(input.dataset, { part: p.part, name: p.name, media: p.media || "" });
      input.setAttribute("aria-label", p.label);
      input.addEventListener("input", renderPreview);
      return el("label", "", p.label, input);
    }));
    fields.hidden = !t;
    renderPreview();
  }

  function render() {
    const offered = picker.templates.length > 0;
    pickLabel.hidden = !offered;
    typedLabels.forEach((label) => { label.hidden = offered; });
    // Only the fields on show are required: the typed name is not while the list stands in for it.
    typedLabels.forEach((label) => label.querySelectorAll("input").forEach((i) => { i.required = !offered; }));
    select.replaceChildren(...picker.templates.map((t) => {
      const option = el("option", "", `${t.name} (${t.language})`);
      option.value = `${t.name}|${t.language}`;
      return option;
    }));
    if (!offered) {
      picker.chosen = null;
      fields.hidden = preview.hidden = true;
      return;
    }
    choose(picker.chosen ? `${picker.chosen.name}|${picker.chosen.language}` : select.value);
    select.value = picker.chosen ? `${picker.chosen.name}|${picker.chosen.language}` : "";
  }

  async function load(c) {
    if (!c) return;
    const request = ++picker.request;
    const query = new URLSearchParams({ status: "APPROVED,FLAGGED", business: c.business_phone_number_id });
    try {
      const found = (await api(`${config.api}templates/?${query}`)).results;
      if (request !== picker.request) return; // another conversation was opened meanwhile
      if (picker.business !== c.business_phone_number_id) picker.chosen = null;
      Object.assign(picker, { templates: found, business: c.business_phone_number_id });
    } catch (error) {
      // A token or proxy that refuses the list leaves the typed form, which still works.
      console.warn("templates failed:", error.message);
      picker.templates = [];
    }
    render();
  }

  function components(t) {
    const parts = { header: [], body: [] };
    for (const input of fields.querySelectorAll("input")) {
      const { part, name, media } = input.dataset;
      const value = input.value.trim();
      if (media) parts[part].push({ type: media, [media]: { link: value } });
      else if (/^\d+$/.test(name)) parts[part].push({ type: "text", text: value });
      else parts[part].push({ type: "text", text: value, parameter_name: name });
    }
    return Object.entries(parts).filter(([, p]) => p.length).map(([type, p]) => ({ type, parameters: p }));
  }

  async function submit(event) {
    const t = picker.chosen;
    if (!t) return; // nothing offered: the typed form (console.js) sends it
    event.preventDefault();
    event.stopImmediatePropagation();
    const sent = await hub.send({ template: { name: t.name, language: { code: t.language }, components: components(t) } });
    if (sent) {
      fields.querySelectorAll("input").forEach((i) => { i.value = ""; });
      renderPreview();
    }
  }

  select.addEventListener("change", () => choose(select.value));
  form.addEventListener("submit", submit, true); // before console.js's, as team.js does for notes
  hub.on("open", load);
  $("template-toggle").addEventListener("click", () => load(hub.currentConversation()));
})();

// igent operator page: a thin client over the service's /v1 JSON API.
// The API key lives in sessionStorage only (this tab); every request sends it as a Bearer token.
"use strict";

const KEY_SLOT = "igent.apiKey";
const FEED_MAX = 40;
const state = {
  role: null,
  campaignId: null,
  campaign: null,
  stream: null,
  table: { q: "", status: "", supplier_id: "", reason: "", sort: "submitted", order: "asc", page: 1 },
  pages: 1,
};

// ---------- small DOM helpers ----------
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
const enc = encodeURIComponent;
const fmtNumber = (n, digits = 0) =>
  n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", {
    minimumFractionDigits: digits, maximumFractionDigits: digits });
const fmtMs = (s) => (s === null || s === undefined ? "–" : `${fmtNumber(s * 1000, 1)} ms`);
const statusLabel = (s) => (s === "no_match" ? "NO MATCH" : s);
// Anything that looks like a secret is masked before it is shown (model prompts, replies).
const SECRET = /\b(sk-[A-Za-z0-9_-]{6,}|igk_[A-Za-z0-9_-]{6,}|Bearer\s+[A-Za-z0-9._~+\/-]{8,})/g;
const redact = (text) => String(text ?? "").replace(SECRET, "[redacted]");

// ---------- messages ----------
function showError(message) {
  $("error-text").textContent = message;
  $("error").hidden = false;
}
function clearError() { $("error").hidden = true; }
function notify(message) {
  const box = $("notice");
  box.textContent = message;
  box.hidden = false;
}
window.addEventListener("error", (e) => showError(`The page hit a problem: ${e.message}. Reload to continue.`));
window.addEventListener("unhandledrejection", (e) => showError(describe(e.reason)));

class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body || {};
  }
}
function describe(error) {
  if (error instanceof ApiError) {
    const hints = {
      401: "The API key was not accepted. Sign in again with a key from 'igent keys create'.",
      403: "Your key may not do this (a viewer key can only look).",
      413: "The file is too large for the service's request limit.",
      429: "Too many requests; wait a moment and try again.",
    };
    const hint = hints[error.status] ? ` ${hints[error.status]}` : "";
    return `${error.message} (HTTP ${error.status}).${hint}`;
  }
  if (error instanceof TypeError) return `The igent server cannot be reached (${error.message}). Is 'igent serve' running?`;
  return String(error && error.message ? error.message : error);
}

// ---------- the API ----------
const apiKey = () => sessionStorage.getItem(KEY_SLOT) || "";
async function api(path, { method = "GET", body, type, raw = false, signal } = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}` };
  let payload = body;
  if (body !== undefined && type === undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (type) headers["Content-Type"] = type;
  let response = await fetch(path, { method, headers, body: payload, signal });
  // A read over the key's rate limit waits as told (twice at most) instead of failing.
  for (let retry = 0; response.status === 429 && method === "GET" && retry < 2; retry += 1) {
    const wait_s = Math.min(10, Number(response.headers.get("Retry-After")) || 1);
    await new Promise((resolve) => setTimeout(resolve, wait_s * 1000));
    response = await fetch(path, { method, headers, signal });
  }
  if (!response.ok) {
    let data = {};
    try { data = await response.json(); } catch { data = {}; }
    const detail = data.detail || response.statusText || "request failed";
    throw new ApiError(response.status, `${method} ${path}: ${detail}`, data);
  }
  return raw ? response : response.json();
}
const campaignPath = (suffix = "") => `/v1/campaigns/${enc(state.campaignId)}${suffix}`;

// ---------- sign in ----------
async function signIn(key) {
  sessionStorage.setItem(KEY_SLOT, key);
  try {
    const me = await api("/v1/keys/me");
    state.role = me.role;
    document.body.dataset.role = me.role;
    if (me.role !== "operator") {
      // A viewer sees everything but is offered nothing it may not do.
      document.querySelectorAll("[data-needs=operator]").forEach((node) => node.remove());
    }
    $("who-text").textContent = `${me.name || me.key_id} · ${me.role}`;
    $("who").hidden = false;
    return true;
  } catch (error) {
    sessionStorage.removeItem(KEY_SLOT);
    showError(describe(error));
    return false;
  }
}
function signOut() {
  sessionStorage.removeItem(KEY_SLOT);
  location.hash = "#/";
  location.reload();
}

// ---------- routing ----------
function show(view) {
  for (const id of ["signin-view", "campaigns-view", "campaign-view"]) $(id).hidden = id !== view;
}
// Navigation never leaves a rejected promise behind: what fails is shown in words.
const go = () => route().catch((error) => showError(describe(error)));
async function route() {
  clearError();
  if (!state.role) {
    show("signin-view");
    $("signin-key").focus();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "c" && parts[1]) {
    await openCampaign(parts[1]);
    if (parts[2] === "r" && parts[3]) await openRegistration(parts[3]);
    else closeRegistration();
    return;
  }
  stopStream();
  state.campaignId = null;
  show("campaigns-view");
  await loadCampaigns();
}

// ---------- campaigns list ----------
async function loadCampaigns() {
  const data = await api("/v1/campaigns");
  const body = $("campaigns-body");
  body.replaceChildren(...data.campaigns.map((c) => {
    const used = c.suppliers.reduce((n, s) => n + s.used, 0);
    const capacity = c.suppliers.reduce((n, s) => n + s.capacity, 0);
    return el("tr", {},
      el("td", {}, el("a", { href: `#/c/${enc(c.campaign_id)}` }, c.name),
        c.name !== c.campaign_id ? el("span", { class: "muted" }, ` (${c.campaign_id})`) : null),
      el("td", { text: c.constellation }), el("td", { text: c.offer_version }),
      el("td", { text: c.campaign_date }), el("td", { text: `${used} / ${capacity}` }));
  }));
  $("campaigns-empty").hidden = data.campaigns.length > 0;
}

// ---------- one campaign ----------
async function openCampaign(campaignId) {
  if (state.campaignId === campaignId) return;
  stopStream();
  state.campaignId = campaignId;
  state.table = { ...state.table, q: "", status: "", supplier_id: "", reason: "", page: 1 };
  $("feed").replaceChildren();
  $("upload-summary")?.replaceChildren();
  $("offers-preview")?.replaceChildren();
  show("campaign-view");
  const results = await Promise.allSettled([loadCampaign(), loadSummary(), loadTable()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    state.campaignId = null; // opening it again retries
    show("campaigns-view"); // the error banner above the list of what does exist
    loadCampaigns().catch(() => undefined);
    throw failed.reason;
  }
  startStream();
}

async function loadCampaign() {
  const c = await api(campaignPath());
  state.campaign = c;
  $("campaign-title").textContent = c.name;
  $("crumb-campaign").textContent = c.name;
  $("campaign-meta").textContent =
    `${c.campaign_id} · constellation ${c.constellation}${c.model ? ` (${c.model})` : ""} · ` +
    `campaign date ${c.campaign_date} · offer version ${c.offer_version}`;
  renderCapacity(c.suppliers);
  return c;
}

function renderCapacity(suppliers) {
  $("capacity").replaceChildren(...suppliers.map((s) => {
    const pct = s.capacity ? Math.round((100 * s.used) / s.capacity) : 100;
    const level = pct >= 100 ? "full" : pct >= 80 ? "high" : "";
    return el("li", { "data-supplier": s.supplier_id },
      el("div", { class: "bar-label" },
        el("span", { class: "supplier", text: s.supplier_id }),
        el("span", { class: "numbers" },
          el("span", { class: "used", text: s.used }), " / ",
          el("span", { class: "cap", text: s.capacity }), ` · ${pct}%`)),
      el("div", { class: `bar ${level}`, role: "meter", "aria-label": `${s.supplier_id} capacity used`,
        "aria-valuemin": 0, "aria-valuemax": s.capacity, "aria-valuenow": s.used,
        "aria-valuetext": `${s.used} of ${s.capacity} used (${pct}%)` },
        el("span", { style: null })));
  }));
  // Widths are set through the CSSOM: the page's CSP forbids inline style attributes.
  suppliers.forEach((s, i) => {
    const pct = s.capacity ? Math.min(100, (100 * s.used) / s.capacity) : 100;
    $("capacity").children[i].querySelector(".bar > span").style.width = `${pct}%`;
  });
}

async function loadSummary() {
  const s = await api(campaignPath("/summary"));
  const item = (label, value, key) =>
    el("div", { "data-count": key }, el("dt", { text: label }), el("dd", { text: value }));
  $("counts").replaceChildren(
    item("Matched", fmtNumber(s.matched), "matched"),
    item("NO MATCH", fmtNumber(s.no_match), "no_match"),
    item("Cancelled", fmtNumber(s.cancelled), "cancelled"),
    item("Pending", fmtNumber(s.pending), "pending"),
    item("Latency p50", fmtMs(s.latency_p50_s), "p50"),
    item("Latency p95", fmtMs(s.latency_p95_s), "p95"),
    item("LLM calls", fmtNumber(s.llm_calls), "llm_calls"),
    item("LLM cost", `$${fmtNumber(s.cost_usd, 4)}`, "cost"),
    item("Other", fmtNumber(Object.values(s.other).reduce((a, b) => a + b, 0)), "other"));
  $("reasons").replaceChildren(...Object.entries(s.no_match_by_reason).map(([reason, n]) =>
    el("li", { "data-reason": reason }, `NO MATCH ${reason}: `, el("strong", { text: n }))));
}

// ---------- live events (fetch-based SSE: EventSource cannot send the Authorization header) ----------
function throttle(fn, waitMs) {
  let timer = null;
  let again = false;
  return () => {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(function tick() {
      timer = null;
      if (again) { again = false; fn(); timer = setTimeout(tick, waitMs); }
    }, waitMs);
  };
}
const refreshLive = throttle(() => {
  const quiet = (p) => p.catch(() => undefined);
  quiet(loadCampaign());
  quiet(loadSummary());
}, 1000);
const refreshTable = throttle(() => loadTable().catch(() => undefined), 3000);

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  setLive(false);
}
function setLive(on) {
  $("live").textContent = on ? "live" : "offline";
  $("live").classList.toggle("on", on);
}
function startStream() {
  const controller = new AbortController();
  state.stream = controller;
  const campaignId = state.campaignId;
  let last = 0;
  (async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await api(`/v1/campaigns/${enc(campaignId)}/events?after=${last}`,
          { raw: true, signal: controller.signal });
        setLive(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = parseEvent(block);
            if (event) { last = event.id; onEvent(event); }
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      setLive(false);
      await new Promise((resolve) => setTimeout(resolve, 2000)); // then resume after `last`
    }
  })();
}
function parseEvent(block) {
  let id = null, kind = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("id:")) id = Number(line.slice(3).trim());
    else if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (id === null || !data) return null;
  try { return { id, kind, data: JSON.parse(data) }; } catch { return null; }
}
function onEvent({ kind, data }) {
  const d = data;
  let text = null;
  if (kind === "decision") {
    text = d.status === "matched" ? `${d.registration_id} → ${d.supplier_id}`
      : `${d.registration_id}: ${statusLabel(d.status)}${d.reason ? ` (${d.reason})` : ""}`;
  } else if (kind === "cancelled") {
    text = `${d.registration_id} cancelled${d.capacity_freed ? `, ${d.supplier_id} freed one unit` : ""}`;
  } else if (kind === "capacity_changed") {
    text = `offers replaced: version ${d.offer_version}`;
  } else if (kind === "job_progress" && (d.status === "done" || d.status === "failed")) {
    text = `upload ${d.job_id.slice(0, 8)} ${d.status}: ${d.done} of ${d.total} records, ${d.errors} with errors`;
  }
  if (text) {
    const time = (d.created_at || "").slice(11, 19);
    $("feed").prepend(el("li", { "data-kind": kind }, el("time", { text: time }), text));
    while ($("feed").children.length > FEED_MAX) $("feed").lastChild.remove();
  }
  if (kind !== "campaign_created") {
    refreshLive();
    refreshTable();
  }
}

// ---------- registrations table ----------
async function loadTable() {
  const t = state.table;
  const query = new URLSearchParams({ sort: t.sort, order: t.order, page: t.page, page_size: 25 });
  for (const name of ["q", "status", "supplier_id", "reason"]) if (t[name]) query.set(name, t[name]);
  const data = await api(campaignPath(`/registrations:table?${query}`));
  fillSelect($("f-supplier"), data.suppliers, t.supplier_id);
  fillSelect($("f-reason"), data.reasons, t.reason);
  $("reg-body").replaceChildren(...data.rows.map((r) => el("tr", {},
    el("td", {}, el("a", { href: `#/c/${enc(state.campaignId)}/r/${enc(r.registration_id)}` }, r.registration_id)),
    el("td", { text: r.zip_code || "–" }),
    el("td", {}, el("span", { class: `badge ${r.status}`, text: statusLabel(r.status) })),
    el("td", { text: r.supplier_id || "–" }),
    el("td", { text: r.reason || "–" }),
    el("td", { class: "num", text: r.net_price_eur === null ? "–" : fmtNumber(r.net_price_eur, 2) }))));
  if (!data.rows.length) {
    $("reg-body").append(el("tr", {}, el("td", { colspan: 6, text: "No registrations match." })));
  }
  state.pages = data.pages;
  t.page = data.page;
  $("page-info").textContent = `Page ${data.page} of ${data.pages} · ${data.total} registrations`;
  $("page-prev").disabled = data.page <= 1;
  $("page-next").disabled = data.page >= data.pages;
  document.querySelectorAll("#reg-table th[data-sort]").forEach((th) => {
    if (th.dataset.sort === t.sort) th.setAttribute("aria-sort", t.order === "asc" ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  });
}
function fillSelect(select, values, current) {
  const wanted = ["", ...values];
  const have = [...select.options].map((o) => o.value);
  if (wanted.join("\n") !== have.join("\n")) {
    select.replaceChildren(...wanted.map((v) => el("option", { value: v, text: v || "any" })));
  }
  select.value = current || "";
}

// ---------- one registration ----------
function closeRegistration() {
  $("registration-detail").hidden = true;
  $("registration-detail").replaceChildren();
  $("campaign-sections").hidden = false;
}
async function openRegistration(registrationId) {
  const [decision, record] = await Promise.all([
    api(campaignPath(`/registrations/${enc(registrationId)}`)),
    api(campaignPath(`/registrations/${enc(registrationId)}/record`)).catch(() => null),
  ]);
  renderRegistration(decision, record);
  $("campaign-sections").hidden = true;
  $("registration-detail").hidden = false;
  $("registration-title").focus();
}

function table(caption, headers, rows, numeric = []) {
  return el("table", { class: "grid" }, el("caption", { class: "sr-only", text: caption }),
    el("thead", {}, el("tr", {}, headers.map((h, i) =>
      el("th", { scope: "col", class: numeric.includes(i) ? "num" : null, text: h })))),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell, i) =>
      el("td", { class: numeric.includes(i) ? "num" : null }, cell ?? "–"))))));
}
function fieldList(entries) {
  return el("dl", { class: "fields" }, entries.flatMap(([k, v]) =>
    [el("dt", { text: k }), el("dd", { text: v === null || v === undefined || v === "" ? "–" : typeof v === "object" ? JSON.stringify(v) : v })]));
}

function renderRegistration(d, record) {
  const box = $("registration-detail");
  const cancellable = state.role === "operator" && d.status !== "cancelled";
  const decision = el("section", { class: "card", "aria-labelledby": "decision-title" },
    el("h3", { id: "decision-title", text: "Decision" }),
    fieldList([
      ["Status", statusLabel(d.status)], ["Supplier", d.supplier_id],
      ["NO MATCH reason", d.reason], ["Message", d.message], ["Answered by", d.source],
      ["Deadline fallback", d.deadline_fallback ? "yes: the rules answered" : "no"],
      ["Offer version", d.offer_version],
      ["Decision time", d.timings && d.timings.total_s !== undefined ? fmtMs(d.timings.total_s) : null],
    ]),
    el("h4", { text: "Candidates (suppliers serving the ZIP)" }),
    d.candidates.length
      ? table("Per-candidate explanation", ["Supplier", "Used / capacity", "Used %", "Outcome", "Why"],
        d.candidates.map((c) => [c.supplier_id, `${c.used} / ${c.capacity}`,
          `${fmtNumber(100 * c.used_pct, 1)}%`, c.outcome, c.reason]), [1, 2])
      : el("p", { class: "muted", text: "No supplier serves this registration's ZIP, or the registration was invalid." }));
  const order = d.purchase_order;
  const po = el("section", { class: "card", "aria-labelledby": "po-title" },
    el("h3", { id: "po-title", text: "Purchase order" }),
    order ? [
      fieldList([["Supplier", order.supplier_id], ["Panels", order.num_panels], ["Batteries", order.num_batteries],
        ["Payment", order.payment_type], ["Total price", fmtNumber(order.total_price, 2)],
        ["Net price", fmtNumber(order.net_price, 2)]]),
      table("Purchase order lines", ["Product", "Name", "Quantity", "Tier", "Price", "Price column"],
        (order.lines || []).map((l) => [l.product_type, l.product_name, l.quantity_requested,
          l.tier_quantity, fmtNumber(l.price, 2), l.price_column]), [2, 3, 4]),
      el("h4", { text: "Incentives" }),
      (order.incentives || []).length
        ? table("Incentives", ["Incentive", "Amount"], order.incentives.map((i) =>
          [i.name || i.incentive_id || i.IncentiveName || JSON.stringify(i),
            fmtNumber(i.amount ?? i.value ?? i.Amount, 2)]), [1])
        : el("p", { class: "muted", text: "No incentives apply." }),
    ] : el("p", { class: "muted", text: "No purchase order (not matched)." }));
  const calls = el("section", { class: "card", "aria-labelledby": "calls-title" },
    el("h3", { id: "calls-title", text: `Model calls (${d.model_calls.length})` }),
    d.model_calls.length ? d.model_calls.map((c, i) => el("details", {},
      el("summary", {}, `${i + 1}. ${c.role || "call"} · ${c.model || "?"} · ${fmtMs(c.duration_s)} · ` +
        `${c.prompt_tokens ?? "?"} + ${c.completion_tokens ?? "?"} tokens` +
        (c.cost_usd ? ` · $${fmtNumber(c.cost_usd, 5)}` : "")),
      (c.messages || []).map((m) => [el("h4", { text: `Prompt (${m.role})` }), el("pre", { text: redact(m.content) })]),
      el("h4", { text: "Reply" }), el("pre", { text: redact(c.reply) })))
      : el("p", { class: "muted", text: "No model calls: the rules decided this registration." }));
  const audit = el("section", { class: "card", "aria-labelledby": "audit-title" },
    el("h3", { id: "audit-title", text: "Audit verdict" }),
    d.audit ? [
      el("p", { id: "audit-verdict" }, "Verdict: ", el("strong", {
        text: "approved" in d.audit ? (d.audit.approved ? "approved" : "not approved") : "recorded" })),
      el("pre", { text: redact(JSON.stringify(d.audit, null, 2)) })]
      : el("p", { class: "muted", text: "No audit: this campaign's constellation has no critic." }),
    d.cancellations.length ? [el("h4", { text: "Cancellations" }), table("Cancellations",
      ["When", "By key", "Reason"], d.cancellations.map((c) => [c.cancelled_at, c.cancelled_by, c.reason]))] : null);
  const fields = el("section", { class: "card", "aria-labelledby": "fields-title" },
    el("h3", { id: "fields-title", text: "Registration fields" }),
    record ? fieldList(Object.entries(record.fields)) : el("p", { class: "muted", text: "The submitted fields are not stored." }));
  box.replaceChildren(
    el("p", {}, el("a", { href: `#/c/${enc(state.campaignId)}` }, "‹ Back to the campaign")),
    el("div", { class: "card" },
      el("h2", { id: "registration-title", tabindex: "-1" }, `Registration ${d.registration_id} `,
        el("span", { class: `badge ${d.status}`, id: "registration-status", text: statusLabel(d.status) })),
      cancellable ? el("button", { type: "button", class: "danger", id: "cancel-open",
        onclick: () => askCancel(d) }, "Cancel registration") : null),
    el("div", { class: "detail-grid" }, el("div", {}, fields), el("div", {}, decision, po, calls, audit)));
}

function askCancel(d) {
  const dialog = $("cancel-dialog");
  $("cancel-id").textContent = d.registration_id;
  $("cancel-reason").value = "";
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "confirm") return;
    const before = (state.campaign?.suppliers || []).find((s) => s.supplier_id === d.supplier_id);
    try {
      const body = { reason: $("cancel-reason").value };
      const result = await api(campaignPath(`/registrations/${enc(d.registration_id)}:cancel`), { method: "POST", body });
      const campaign = await loadCampaign();
      const after = campaign.suppliers.find((s) => s.supplier_id === d.supplier_id);
      renderRegistration(result, await api(campaignPath(`/registrations/${enc(d.registration_id)}/record`)).catch(() => null));
      notify(before && after
        ? `Registration ${d.registration_id} cancelled. ${after.supplier_id} now has ${after.used} of ${after.capacity} booked (was ${before.used}).`
        : `Registration ${d.registration_id} cancelled.`);
      loadSummary().catch(() => undefined);
    } catch (error) {
      showError(describe(error));
    }
  };
  dialog.showModal();
}

// ---------- upload registrations ----------
function parseRegistrations(text) {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) return { items: JSON.parse(trimmed), type: "application/json" };
  try {
    const data = JSON.parse(trimmed);
    if (data && Array.isArray(data.registrations)) return { items: data.registrations, type: "application/json" };
  } catch { /* not one JSON document: NDJSON */ }
  const items = [];
  trimmed.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    try { items.push(JSON.parse(line)); } catch (error) {
      throw new Error(`line ${i + 1} is not valid JSON (${error.message}); use a JSON list or one registration per line`);
    }
  });
  return { items, type: "application/x-ndjson" };
}

async function upload(event) {
  event.preventDefault();
  clearError();
  const file = $("upload-file").files[0];
  if (!file) return;
  const text = await file.text();
  let parsed;
  try { parsed = parseRegistrations(text); } catch (error) {
    showError(`Registrations file '${file.name}': ${error.message}`);
    return;
  }
  const summary = $("upload-summary");
  summary.replaceChildren();
  const button = event.submitter || $("upload-form").querySelector("button");
  button.disabled = true;
  try {
    const job = await api(campaignPath("/registrations:batch"), { method: "POST", body: text, type: parsed.type });
    $("upload-status").hidden = false;
    let current = job;
    for (;;) {
      $("upload-progress").max = Math.max(1, current.total);
      $("upload-progress").value = current.done;
      $("upload-count").textContent = `${current.done} of ${current.total} processed (${current.status})`;
      if (current.status === "done" || current.status === "failed") break;
      await new Promise((resolve) => setTimeout(resolve, 400));
      current = await api(current.url);
    }
    const ids = parsed.items.map((r) => (r && r.RegistrationNumber !== undefined ? String(r.RegistrationNumber) : null)).filter(Boolean);
    const outcome = await api(campaignPath("/registrations:outcomes"), { method: "POST", body: { registration_ids: ids } });
    renderUploadSummary(file.name, current, outcome, parsed.items);
    loadTable().catch(() => undefined);
    refreshLive();
  } catch (error) {
    showError(`Upload of '${file.name}' failed: ${describe(error)}`);
  } finally {
    button.disabled = false;
  }
}

function renderUploadSummary(name, job, outcome, items) {
  const reasons = Object.entries(outcome.no_match_by_reason);
  const noMatch = reasons.reduce((n, [, v]) => n + v, 0);
  const lines = [
    el("h3", { text: `Upload of ${name}: ${job.status === "done" ? "finished" : "failed"}` }),
    el("ul", { id: "upload-counts" },
      el("li", { "data-count": "matched" }, "Matched: ", el("strong", { text: outcome.matched })),
      el("li", { "data-count": "no_match" }, "NO MATCH: ", el("strong", { text: noMatch })),
      reasons.map(([reason, n]) => el("li", { "data-reason": reason }, `NO MATCH ${reason}: `, el("strong", { text: n }))),
      el("li", { "data-count": "errors" }, "Records with errors: ", el("strong", { text: job.errors }))),
  ];
  if (job.error) lines.push(el("p", { class: "error", text: `The job stopped: ${job.error}` }));
  if (job.item_errors.length) {
    lines.push(table("Records with errors", ["Record", "Registration", "Error"],
      job.item_errors.map((e) => [String(e.index + 1),
        (items[e.index] && items[e.index].RegistrationNumber) ?? "–", e.error])));
  }
  $("upload-summary").replaceChildren(...lines);
}

// ---------- replace offers ----------
async function previewOffers(event) {
  event.preventDefault();
  clearError();
  const file = $("offers-file").files[0];
  if (!file) return;
  let offers;
  try {
    const data = JSON.parse(await file.text());
    offers = data && data.offers && !data.SupplierOffers ? data.offers : data;
  } catch (error) {
    showError(`Offers file '${file.name}' is not valid JSON: ${error.message}`);
    return;
  }
  const box = $("offers-preview");
  try {
    const preview = await api(campaignPath("/offers:preview"), { method: "POST", body: { offers } });
    const rows = preview.suppliers.map((s) => [s.supplier_id, s.change,
      `${s.capacity_before ?? "–"} → ${s.capacity_after ?? "–"}`, String(s.booked),
      s.refused ? "below bookings" : "ok", s.price_changes.length ? s.price_changes.join("; ") : "none"]);
    const confirm = el("button", { type: "button", id: "offers-confirm", disabled: !preview.allowed,
      onclick: () => replaceOffers(offers, file.name) }, "Replace offers");
    box.replaceChildren(
      el("p", { id: "offers-detail", class: preview.allowed ? "" : "error", text: preview.detail }),
      table(`Changes against offer version ${preview.offer_version}`,
        ["Supplier", "Change", "Capacity", "Booked", "Check", "Prices"], rows, [3]),
      el("p", { class: "buttons" }, confirm,
        el("button", { type: "button", class: "secondary", onclick: () => box.replaceChildren() }, "Discard")));
  } catch (error) {
    showError(`Offers file '${file.name}': ${describe(error)}`);
  }
}
async function replaceOffers(offers, name) {
  try {
    const campaign = await api(campaignPath("/offers"), { method: "PUT", body: { offers } });
    $("offers-preview").replaceChildren(el("p", { id: "offers-detail",
      text: `Offers from ${name} stored as offer version ${campaign.offer_version}.` }));
    await loadCampaign();
  } catch (error) {
    const numbers = (error.body?.suppliers || []).map((s) => `${s.supplier_id}: ${s.booked} booked, new capacity ${s.capacity}`);
    showError(`${describe(error)}${numbers.length ? `\n${numbers.join("\n")}` : ""}`);
  }
}

// ---------- exports ----------
async function exportFile(name) {
  try {
    const response = await api(campaignPath(`/exports/${name}`), { raw: true });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `${state.campaignId}-${name}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) {
    showError(`Export ${name} failed: ${describe(error)}`);
  }
}

// ---------- wiring ----------
function wire() {
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    if (await signIn($("signin-key").value.trim())) {
      $("signin-key").value = "";
      await go();
    }
  });
  $("sign-out").addEventListener("click", signOut);
  $("error-close").addEventListener("click", clearError);
  $("table-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData($("table-form"));
    Object.assign(state.table, Object.fromEntries(form.entries()), { page: 1 });
    loadTable().catch((error) => showError(describe(error)));
  });
  for (const id of ["f-status", "f-supplier", "f-reason"]) {
    $(id).addEventListener("change", () => $("table-form").requestSubmit());
  }
  document.querySelectorAll("#reg-table th[data-sort] button").forEach((button) => {
    button.addEventListener("click", () => {
      const key = button.parentElement.dataset.sort;
      const t = state.table;
      t.order = t.sort === key && t.order === "asc" ? "desc" : "asc";
      t.sort = key;
      loadTable().catch((error) => showError(describe(error)));
    });
  });
  $("page-prev").addEventListener("click", () => { state.table.page -= 1; loadTable().catch((e) => showError(describe(e))); });
  $("page-next").addEventListener("click", () => { state.table.page += 1; loadTable().catch((e) => showError(describe(e))); });
  $("upload-form")?.addEventListener("submit", upload);
  $("offers-form")?.addEventListener("submit", previewOffers);
  document.querySelectorAll("[data-export]").forEach((button) =>
    button.addEventListener("click", () => exportFile(button.dataset.export)));
  window.addEventListener("hashchange", () => { $("notice").hidden = true; go(); });
}

async function start() {
  wire();
  if (apiKey()) await signIn(apiKey());
  await go();
}
document.addEventListener("DOMContentLoaded", start);

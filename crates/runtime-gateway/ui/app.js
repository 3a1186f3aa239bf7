// The modelrt admin UI: sign-in, then one view per page, all data from /ui/api/… with the
// session cookie; changes send the session's CSRF token. No secret is kept in storage.
"use strict";
(function () {
  let csrf = null;
  let timer = null;
  const $ = (s) => document.querySelector(s);
  const main = () => $("#main");
  const money = (v) => "$" + (v || 0).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: v < 1 ? 4 : 2 });
  const num = (v) => (v == null ? "–" : Number(v).toLocaleString());
  const ms = (v) => (v == null ? "–" : Math.round(v).toLocaleString() + " ms");

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k.startsWith("on")) e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] === true) e.setAttribute(k, "");
      else if (attrs[k] != null && attrs[k] !== false) e.setAttribute(k, attrs[k]);
    }
    for (const k of kids.flat()) if (k != null) e.appendChild(typeof k === "string" || typeof k === "number" ? document.createTextNode(String(k)) : k);
    return e;
  }

  async function api(path, opts) {
    opts = opts || {};
    const headers = { accept: "application/json" };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    if (opts.method && opts.method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
    const r = await fetch("/ui/api" + path, { method: opts.method || "GET", headers, credentials: "same-origin",
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined });
    let data = null;
    try { data = await r.json(); } catch (_) { data = null; }
    if (r.status === 401 && path !== "/session") { showSignIn("Your session ended: sign in again."); throw new Error("signed out"); }
    if (!r.ok) { const e = new Error((data && data.error && data.error.message) || ("HTTP " + r.status)); e.status = r.status; e.code = data && data.error && data.error.code; e.param = data && data.error && data.error.param; throw e; }
    return data;
  }

  // ---- sign-in -----------------------------------------------------------------------------
  function showSignIn(msg) {
    stopTimer();
    csrf = null;
    $("#app").hidden = true;
    $("#signin").hidden = false;
    $("#signin-error").textContent = msg || "";
    $("#signin-key").value = "";
    $("#signin-key").focus();
  }
  async function signIn(ev) {
    ev.preventDefault();
    const key = $("#signin-key").value;
    $("#signin-key").value = "";
    try {
      const s = await api("/session", { method: "POST", body: { key } });
      start(s);
    } catch (e) { $("#signin-error").textContent = e.message; }
  }
  function start(s) {
    csrf = s.csrf;
    $("#who").textContent = s.master ? "master key" : "key " + (s.key_id || "");
    $("#signin").hidden = true;
    $("#app").hidden = false;
    route();
  }
  async function signOut() {
    try { await api("/session", { method: "DELETE" }); } catch (_) { /* already gone */ }
    showSignIn("Signed out.");
  }

  // ---- router ------------------------------------------------------------------------------
  const pages = { overview, usage, keys, routing, providers, requests };
  function stopTimer() { if (timer) { clearInterval(timer); timer = null; } }
  function every(ms, f) { stopTimer(); timer = setInterval(() => { if (!document.hidden) f().catch(() => {}); }, ms); }
  function route() {
    const name = (location.hash.replace(/^#\//, "") || "overview").split("?")[0];
    const page = pages[name] ? name : "overview";
    document.querySelectorAll("nav a").forEach((a) => a.removeAttribute("aria-current"));
    document.querySelectorAll("nav a").forEach((a) => { if (a.dataset.page === page) a.setAttribute("aria-current", "page"); });
    stopTimer();
    main().textContent = "";
    document.title = "modelrt · " + page;
    pages[page]().catch((e) => { if (e.message !== "signed out") main().appendChild(h("p", { class: "error", role: "alert" }, e.message)); });
  }

  function emptyState(text, hint) { return h("div", { class: "card empty" }, h("p", {}, text), hint ? h("p", { class: "muted" }, hint) : null); }
  function table(cols, rows, opts) {
    if (!rows.length) return emptyState((opts && opts.empty) || "Nothing here yet.", opts && opts.hint);
    return h("div", { class: "card scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => { const v = c.get(r); return h("td", { class: c.num ? "num" : null }, v instanceof Node ? v : v == null ? "–" : String(v)); }))))));
  }
  function select(id, label, options, value, onchange) {
    const s = h("select", { id, onchange }, options.map(([v, t]) => h("option", { value: v, selected: v === value }, t)));
    return [h("label", { for: id }, label), s];
  }
  // ---- dialogs: focus moves in, Tab and Shift+Tab stay in, Escape (or the dialog's own
  // close button) ends it, and focus goes back to what opened it.
  const FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])";
  function focusables(root) { return [...root.querySelectorAll(FOCUSABLE)].filter((e) => !e.disabled && e.offsetParent !== null); }
  function selectorOf(e) {
    if (!e || e === document.body) return null;
    if (e.id) return "#" + CSS.escape(e.id);
    const a = ["data-edit", "data-edit-team", "data-rotate", "data-revoke"].find((n) => e.hasAttribute(n));
    return a ? "[" + a + "=\"" + CSS.escape(e.getAttribute(a)) + "\"]" : null;
  }
  function modal(title, build) {
    const opener = document.activeElement, sel = selectorOf(opener);
    const d = h("dialog", { class: "card dialog", "aria-labelledby": "dialog-title" });
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      d.close();
      d.remove();
      const back = opener && opener.isConnected ? opener : sel && document.querySelector(sel);
      (back || main()).focus();
    };
    d.append(h("h3", { id: "dialog-title" }, title), ...build(done));
    d.addEventListener("cancel", (ev) => { ev.preventDefault(); done(); });
    d.addEventListener("keydown", (ev) => {
      if (ev.key !== "Tab") return;
      const f = focusables(d);
      if (!f.length) { ev.preventDefault(); return; }
      const first = f[0], last = f[f.length - 1], at = document.activeElement;
      if (ev.shiftKey && (at === first || !d.contains(at))) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && (at === last || !d.contains(at))) { ev.preventDefault(); first.focus(); }
    });
    document.body.appendChild(d);
    d.showModal();
    const f = focusables(d);
    if (f.length) f[0].focus();
    return d;
  }
  function showSecret(title, secret) {
    modal(title, (done) => [
      h("p", { class: "muted" }, "Copy it now: it is not shown again."),
      h("div", { class: "secret", id: "new-secret" }, secret),
      h("div", { class: "bar" }, h("button", { type: "button", id: "dialog-close", onclick: done }, "Done"))]);
  }
  function pill(text, kind) { return h("span", { class: "pill " + kind }, text); }
  function meter(frac) {
    const f = Math.max(0, Math.min(1, frac || 0));
    const m = h("div", { class: "meter" + (f >= 1 ? " bad" : f >= 0.8 ? " warn" : ""), role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(f * 100), "aria-label": "budget used" }, h("span"));
    m.firstChild.style.width = (f * 100).toFixed(1) + "%";
    return m;
  }

  // ---- overview ----------------------------------------------------------------------------
  async function overview() {
    const range = sessionStorage.getItem("range") || "hour";
    const head = h("div", { class: "bar" }, h("h2", { class: "grow" }, "Overview"),
      ...select("range", "Window", [["hour", "Last hour"], ["day", "Last day"], ["week", "Last week"]], range, (e) => { sessionStorage.setItem("range", e.target.value); route(); }));
    const tiles = h("div", { class: "tiles", id: "tiles" });
    const charts = h("div", { class: "charts" });
    const boxes = ["c-req", "c-lat", "c-ttft", "c-tok", "c-cost"].map((id) => h("div", { class: "card chart", id }));
    boxes.forEach((b) => charts.appendChild(b));
    main().append(head, tiles, charts);
    async function draw() {
      let d;
      try { d = await api("/overview?range=" + range); }
      catch (e) { if (e.code === "usage_disabled") { main().replaceChildren(head, emptyState("Usage records are off.", "Set [storage] enabled = true (SQLite or PostgreSQL) to see charts.")); stopTimer(); return; } throw e; }
      const p = d.points, t = p.map((x) => x.bucket_ms);
      const sum = (k) => p.reduce((a, x) => a + (x[k] || 0), 0);
      const reqs = sum("requests"), errs = sum("errors");
      const secs = (p.length * d.bucket_ms) / 1000;
      const lat = p.filter((x) => x.latency_p50_ms != null);
      const avg = (k) => { const v = p.filter((x) => x[k] != null); return v.length ? v.reduce((a, x) => a + x[k] * x.requests, 0) / v.reduce((a, x) => a + x.requests, 0) : null; };
      tiles.replaceChildren(
        tile("Requests", num(reqs), (reqs / secs).toFixed(3) + " req/s"),
        tile("Error rate", reqs ? ((100 * errs) / reqs).toFixed(1) + " %" : "–", num(errs) + " errors"),
        tile("Latency p50 / p95", lat.length ? ms(avg("latency_p50_ms")) : "–", lat.length ? "p95 " + ms(Math.max(...lat.map((x) => x.latency_p95_ms))) : "no requests"),
        tile("Time to first token", ms(avg("ttft_p50_ms")), "median of streams"),
        tile("Tokens", num(sum("prompt_tokens") + sum("completion_tokens")), num(sum("prompt_tokens")) + " in / " + num(sum("completion_tokens")) + " out"),
        tile("Cost", money(sum("cost_usd")), d.truncated ? "window truncated" : "priced requests"));
      Charts.lineChart(boxes[0], { title: "Requests and errors per bucket", times: t, unit: "req", series: [
        { name: "requests", color: "var(--c1)", values: p.map((x) => x.requests) }, { name: "errors", color: "var(--c2)", values: p.map((x) => x.errors) }] });
      Charts.lineChart(boxes[1], { title: "Latency", times: t, unit: "ms", series: [
        { name: "p50", color: "var(--c1)", values: p.map((x) => x.latency_p50_ms) }, { name: "p95", color: "var(--c2)", values: p.map((x) => x.latency_p95_ms) }] });
      Charts.lineChart(boxes[2], { title: "Time to first token (streams)", times: t, unit: "ms", series: [
        { name: "p50", color: "var(--c3)", values: p.map((x) => x.ttft_p50_ms) }, { name: "p95", color: "var(--c4)", values: p.map((x) => x.ttft_p95_ms) }] });
      Charts.lineChart(boxes[3], { title: "Tokens", times: t, unit: "tok", series: [
        { name: "input", color: "var(--c1)", values: p.map((x) => x.prompt_tokens) }, { name: "output", color: "var(--c3)", values: p.map((x) => x.completion_tokens) }] });
      Charts.lineChart(boxes[4], { title: "Cost", times: t, fmt: (v) => (v == null ? "–" : money(v)), series: [
        { name: "USD", color: "var(--c4)", values: p.map((x) => x.cost_usd) }] });
    }
    await draw();
    every(10000, draw);
  }
  function tile(label, value, sub) { return h("div", { class: "card tile" }, h("div", { class: "muted" }, label), h("div", { class: "v" }, value), h("div", { class: "muted" }, sub)); }

  // ---- usage & spend -------------------------------------------------------------------------
  async function usage() {
    const st = JSON.parse(sessionStorage.getItem("usage") || '{"by":"key","bucket":"day","since":"7d"}');
    const set = (k) => (e) => { st[k] = e.target.value; sessionStorage.setItem("usage", JSON.stringify(st)); route(); };
    const q = "by=" + st.by + "&bucket=" + st.bucket + "&since=" + st.since;
    const d = await api("/admin/spend?" + q);
    const groups = new Map();
    for (const r of d.data) {
      const g = groups.get(r[d.by]) || { group: r[d.by], requests: 0, errors: 0, prompt: 0, completion: 0, cost: 0, unpriced: 0 };
      g.requests += r.requests; g.errors += r.errors; g.prompt += r.prompt_tokens; g.completion += r.completion_tokens; g.cost += r.cost_usd; g.unpriced += r.unpriced_requests;
      groups.set(r[d.by], g);
    }
    const rows = [...groups.values()].sort((a, b) => b.cost - a.cost || b.requests - a.requests);
    const csv = h("a", { href: "/ui/api/spend.csv?" + q, download: "spend.csv", class: "button" }, "Export CSV");
    main().append(
      h("div", { class: "bar" }, h("h2", { class: "grow" }, "Usage and spend"),
        ...select("by", "By", [["key", "Key"], ["team", "Team"], ["user", "End user"], ["model", "Model"], ["provider", "Provider"], ["deployment", "Deployment"]], st.by, set("by")),
        ...select("bucket", "Bucket", [["hour", "Hour"], ["day", "Day"]], st.bucket, set("bucket")),
        ...select("since", "Since", [["1d", "1 day"], ["7d", "7 days"], ["30d", "30 days"]], st.since, set("since")), csv),
      h("div", { class: "tiles" }, tile("Total cost", money(d.total_cost_usd), "in this window"), tile("Unpriced requests", num(d.unpriced_requests), "not counted as free")));
    const charts = h("div", { class: "charts" }, h("div", { class: "card chart", id: "u-cost" }), h("div", { class: "card chart", id: "u-req" }));
    main().appendChild(charts);
    const label = (g) => g.group || "(none)";
    Charts.barChart(charts.children[0], { title: "Cost by " + d.by, rows: rows.slice(0, 12).map((g) => ({ label: label(g), value: g.cost })), fmt: money });
    Charts.barChart(charts.children[1], { title: "Requests by " + d.by, rows: rows.slice(0, 12).map((g) => ({ label: label(g), value: g.requests })), fmt: num });
    main().appendChild(table([
      { label: d.by, get: label }, { label: "Requests", num: true, get: (g) => num(g.requests) }, { label: "Errors", num: true, get: (g) => num(g.errors) },
      { label: "Input tokens", num: true, get: (g) => num(g.prompt) }, { label: "Output tokens", num: true, get: (g) => num(g.completion) },
      { label: "Cost", num: true, get: (g) => money(g.cost) }, { label: "Unpriced", num: true, get: (g) => num(g.unpriced) }], rows,
      { empty: "No requests in this window.", hint: "Send a request through the gateway; it shows up here within seconds." }));
  }

  // ---- keys & teams --------------------------------------------------------------------------
  async function keys() {
    main().appendChild(h("h2", {}, "Keys and teams"));
    let list, budgets, teams;
    try { [list, budgets, teams] = await Promise.all([api("/admin/keys"), api("/admin/budgets"), api("/admin/teams")]); }
    catch (e) { if (e.code === "governance_disabled") { main().appendChild(emptyState("Database keys are off.", "Set [gateway.governance] enabled = true to issue and revoke keys here.")); return; } throw e; }
    const budgetOf = (kind, id) => budgets.data.find((b) => b.kind === kind && b.id === id);
    const out = h("div", { id: "key-secret", role: "status" });
    const form = h("form", { class: "card grid", id: "key-form", "aria-label": "Create a key" },
      field("k-id", "Key id", h("input", { id: "k-id", name: "id", required: true, pattern: "[A-Za-z0-9._\\-]+", placeholder: "team-a-app" })),
      field("k-team", "Team", h("select", { id: "k-team", name: "team_id" }, h("option", { value: "" }, "(none)"), teams.data.map((t) => h("option", { value: t.id }, t.id)))),
      field("k-role", "Role", h("select", { id: "k-role", name: "role" }, h("option", { value: "user" }, "user"), h("option", { value: "admin" }, "admin"))),
      field("k-models", "Models (comma-separated, empty: all)", h("input", { id: "k-models", name: "models" })),
      field("k-rpm", "Requests per minute", h("input", { id: "k-rpm", name: "rpm", type: "number", min: 1 })),
      field("k-tpm", "Tokens per minute", h("input", { id: "k-tpm", name: "tpm", type: "number", min: 1 })),
      field("k-budget", "Budget (USD)", h("input", { id: "k-budget", name: "budget", type: "number", min: 0, step: "0.01" })),
      field("k-period", "Budget period", h("select", { id: "k-period", name: "period" }, ["monthly", "weekly", "daily", "lifetime"].map((p) => h("option", { value: p }, p)))),
      h("div", {}, h("button", { type: "submit", id: "k-create" }, "Create key")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form), body = { id: f.get("id"), role: f.get("role") };
      if (f.get("team_id")) body.team_id = f.get("team_id");
      const models = String(f.get("models") || "").split(",").map((s) => s.trim()).filter(Boolean);
      if (models.length) body.models = models;
      if (f.get("rpm")) body.rpm = Number(f.get("rpm"));
      if (f.get("tpm")) body.tpm = Number(f.get("tpm"));
      if (f.get("budget")) body.budget = { max_usd: Number(f.get("budget")), period: f.get("period") };
      try {
        const k = await api("/admin/keys", { method: "POST", body });
        $("#key-secret").replaceChildren();
        await keysReload();
        showSecret("Key " + k.id + " created: its secret", k.secret);
      } catch (e) { $("#key-secret").replaceChildren(h("p", { class: "error", role: "alert" }, e.message)); }
    });
    const keyTable = h("div", { id: "key-table" });
    const teamForm = h("form", { class: "card grid", id: "team-form", "aria-label": "Create a team" },
      field("t-id", "Team id", h("input", { id: "t-id", name: "id", required: true })),
      field("t-budget", "Budget (USD)", h("input", { id: "t-budget", name: "budget", type: "number", min: 0, step: "0.01" })),
      field("t-period", "Budget period", h("select", { id: "t-period", name: "period" }, ["monthly", "weekly", "daily", "lifetime"].map((p) => h("option", { value: p }, p)))),
      h("div", {}, h("button", { type: "submit" }, "Create team")));
    teamForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(teamForm), body = { id: f.get("id") };
      if (f.get("budget")) body.budget = { max_usd: Number(f.get("budget")), period: f.get("period") };
      try { await api("/admin/teams", { method: "POST", body }); route(); }
      catch (e) { teamForm.appendChild(h("p", { class: "error", role: "alert" }, e.message)); }
    });
    main().append(h("h3", {}, "Create a key"), form, out, h("h3", {}, "Keys"), keyTable, h("h3", {}, "Teams"), h("div", { id: "team-table" }), h("h3", {}, "Create a team"), teamForm);
    async function keysReload() {
      [list, budgets, teams] = await Promise.all([api("/admin/keys"), api("/admin/budgets"), api("/admin/teams")]);
      keyTable.replaceChildren(table([
        { label: "Key", get: (k) => h("span", {}, h("strong", {}, k.id), " ", h("code", {}, k.display)) },
        { label: "Status", get: (k) => pill(k.status, k.status === "active" ? "ok" : "bad") },
        { label: "Team", get: (k) => k.team_id }, { label: "Role", get: (k) => k.role },
        { label: "Limits", get: (k) => [k.rpm ? k.rpm + " rpm" : null, k.tpm ? k.tpm + " tpm" : null, k.max_parallel ? k.max_parallel + " parallel" : null].filter(Boolean).join(", ") || "none" },
        { label: "Models", get: (k) => (k.models && k.models.length ? k.models.join(", ") : "all") },
        { label: "Budget", get: (k) => { const b = budgetOf("key", k.id); if (!b) return "none"; return h("div", {}, meter((b.spent_usd + b.reserved_usd) / (b.max_usd || 1e-9)), h("span", { class: "muted" }, money(b.spent_usd) + " of " + money(b.max_usd) + " " + b.period)); } },
        { label: "Expires", get: (k) => (k.expires_at ? new Date(k.expires_at * 1000).toLocaleString() : "never") },
        { label: "Actions", get: (k) => k.status === "revoked" ? h("span", { class: "muted" }, "revoked") : h("span", { class: "bar" },
            h("button", { type: "button", class: "ghost", "data-edit": k.id, "aria-label": "Edit key " + k.id, onclick: () => editLimits("key", k) }, "Edit"),
            h("button", { type: "button", class: "ghost", "data-rotate": k.id, "aria-label": "Rotate key " + k.id, onclick: async () => { try { const r = await api("/admin/keys/" + encodeURIComponent(k.id) + "/rotate", { method: "POST", body: {} }); await keysReload(); showSecret("New secret for " + k.id, r.secret); } catch (e) { $("#key-secret").replaceChildren(h("p", { class: "error", role: "alert" }, e.message)); } } }, "Rotate"),
            h("button", { type: "button", class: "danger", "data-revoke": k.id, "aria-label": "Revoke key " + k.id, onclick: async () => { if (!confirm("Revoke key " + k.id + "? Calls with it are refused at once.")) return; try { await api("/admin/keys/" + encodeURIComponent(k.id) + "/revoke", { method: "POST", body: {} }); await keysReload(); } catch (e) { alert(e.message); } } }, "Revoke")) }],
        list.data, { empty: "No database keys yet.", hint: "Create one above; its secret is shown once." }));
      $("#team-table").replaceChildren(table([
        { label: "Team", get: (t) => t.id },
        { label: "Budget", get: (t) => { const b = budgetOf("team", t.id); if (!b) return "none"; return h("div", {}, meter((b.spent_usd + b.reserved_usd) / (b.max_usd || 1e-9)), h("span", { class: "muted" }, money(b.spent_usd) + " of " + money(b.max_usd) + " " + b.period)); } },
        { label: "Limits", get: (t) => [t.rpm ? t.rpm + " rpm" : null, t.tpm ? t.tpm + " tpm" : null, t.max_parallel ? t.max_parallel + " parallel" : null].filter(Boolean).join(", ") || "none" },
        { label: "Keys", num: true, get: (t) => num(list.data.filter((k) => k.team_id === t.id).length) },
        { label: "Actions", get: (t) => h("button", { type: "button", class: "ghost", "data-edit-team": t.id, "aria-label": "Edit team " + t.id, onclick: () => editLimits("team", t) }, "Edit") }], teams.data, { empty: "No teams yet." }));
    }
    // Limits, budget, models (and a key's expiry) of one key or team, changed through
    // PATCH /admin/keys/{id} or /admin/teams/{id} (only the fields changed are sent; empty
    // clears). The API checks every value: its error names the field, marked and focused.
    function editLimits(kind, k) {
      const isKey = kind === "key";
      const b = k.budget;
      const local = (secs) => { const d = new Date(secs * 1000); return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); };
      const inp = (id, name, attrs, v) => h("input", Object.assign({ id, name, value: v == null ? "" : String(v), "aria-describedby": "e-error" }, attrs));
      modal("Edit " + kind + " " + k.id, (done) => {
        const err = h("p", { class: "error span", id: "e-error", role: "alert" });
        const f = h("form", { class: "grid", id: "edit-form", novalidate: true, "aria-label": "Edit " + kind + " " + k.id },
          field("e-rpm", "Requests per minute", inp("e-rpm", "rpm", { type: "number", min: 1, step: 1 }, k.rpm)),
          field("e-tpm", "Tokens per minute", inp("e-tpm", "tpm", { type: "number", min: 1, step: 1 }, k.tpm)),
          field("e-parallel", "Requests at once", inp("e-parallel", "max_parallel", { type: "number", min: 1, step: 1 }, k.max_parallel)),
          field("e-budget", "Budget (USD)", inp("e-budget", "budget", { type: "number", min: 0, step: "0.01" }, b && b.max_usd)),
          field("e-period", "Budget period", h("select", { id: "e-period", name: "period" }, ["monthly", "weekly", "daily", "lifetime"].map((p) => h("option", { value: p, selected: b ? b.period === p : p === "monthly" }, p)))),
          field("e-models", "Models (comma-separated, empty: all)", inp("e-models", "models", {}, (k.models || []).join(", "))),
          isKey ? field("e-expires", "Expires (empty: never)", inp("e-expires", "expires_at", { type: "datetime-local" }, k.expires_at ? local(k.expires_at) : "")) : null,
          err,
          h("div", { class: "bar span" }, h("button", { type: "submit", id: "e-save" }, "Save"), h("button", { type: "button", class: "ghost", id: "e-cancel", onclick: done }, "Cancel")));
        const val = (n) => String(new FormData(f).get(n) || "").trim();
        const before = {};
        for (const n of ["rpm", "tpm", "max_parallel", "budget", "period", "models", "expires_at"]) before[n] = val(n);
        const ids = { rpm: "e-rpm", tpm: "e-tpm", max_parallel: "e-parallel", budget: "e-budget", "budget.period": "e-period", models: "e-models", expires_at: "e-expires" };
        f.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          f.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
          err.textContent = "";
          const changed = (n) => val(n) !== before[n];
          const numOrNull = (n) => (val(n) === "" ? null : Number(val(n)));
          const body = {};
          for (const n of ["rpm", "tpm", "max_parallel"]) if (changed(n)) body[n] = numOrNull(n);
          if (changed("budget") || changed("period")) body.budget = val("budget") === "" ? null : { max_usd: Number(val("budget")), period: val("period") };
          if (changed("models")) body.models = val("models").split(",").map((x) => x.trim()).filter(Boolean);
          if (isKey && changed("expires_at")) body.expires_at = val("expires_at") === "" ? null : Math.floor(new Date(val("expires_at")).getTime() / 1000);
          try {
            if (Object.keys(body).length) await api((isKey ? "/admin/keys/" : "/admin/teams/") + encodeURIComponent(k.id), { method: "PATCH", body });
            await keysReload();
            done();
          } catch (e) {
            err.textContent = e.message;
            const p = String(e.param || "");
            const id = ids[p] || ids[p.split(/[.[]/)[0]];
            const el = id && document.getElementById(id);
            if (el) { el.setAttribute("aria-invalid", "true"); el.focus(); }
          }
        });
        return [f];
      });
    }
    await keysReload();
  }
  function field(id, label, input) { return h("div", {}, h("label", { for: id }, label), input); }

  // ---- routing -------------------------------------------------------------------------------
  async function routing() {
    const box = h("div", { id: "routing" });
    main().append(h("div", { class: "bar" }, h("h2", { class: "grow" }, "Routing"), h("span", { class: "muted" }, "live, every 2 s")), box);
    async function draw() {
      const d = await api("/admin/routing");
      if (!d.data.length) { box.replaceChildren(emptyState("No logical models are configured.", "Add [[models]] with deployments to the config to route and fail over.")); return; }
      box.replaceChildren(...d.data.map((m) => h("section", { class: "card", "aria-label": "model " + m.model }, h("h3", {}, m.model),
        h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["Deployment", "State", "Circuit", "In flight", "Latency", "TTFT", "Recent errors"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, m.deployments.map((dp) => h("tr", { "data-deployment": dp.name },
            h("td", {}, h("strong", {}, dp.name), h("div", { class: "muted" }, dp.provider + " · " + dp.model)),
            h("td", { class: "state" }, dp.cooling_down_until ? pill("cooling down until " + new Date(dp.cooling_down_until * 1000).toLocaleTimeString(), "warn") : dp.healthy ? pill("healthy", "ok") : pill("unhealthy", "bad")),
            h("td", {}, dp.circuit), h("td", { class: "num" }, num(dp.in_flight)),
            h("td", { class: "num" }, dp.latency_ewma_s == null ? "–" : ms(dp.latency_ewma_s * 1000)),
            h("td", { class: "num" }, dp.ttft_ewma_s == null ? "–" : ms(dp.ttft_ewma_s * 1000)),
            h("td", {}, Array.isArray(dp.recent_errors) && dp.recent_errors.length ? dp.recent_errors.slice(-3).map((e) => h("div", { class: "muted" }, typeof e === "string" ? e : JSON.stringify(e))) : (typeof dp.recent_errors === "number" ? num(dp.recent_errors) : "none"))))))))));
    }
    await draw();
    every(2000, draw);
  }

  // ---- providers & models --------------------------------------------------------------------
  async function providers() {
    const d = await api("/providers");
    main().append(h("h2", {}, "Providers and models"),
      h("h3", {}, "Configured instances"), table([{ label: "Instance", get: (i) => i.name }, { label: "Type", get: (i) => i.type }], d.instances,
        { empty: "No provider instances in the config.", hint: "Without a config, every provider whose key is in the environment is served." }),
      h("h3", {}, "Logical models"), h("p", {}, d.logical_models.length ? d.logical_models.join(", ") : "none"),
      h("h3", {}, "Models"), table([{ label: "Model", get: (m) => m.id }, { label: "Provider", get: (m) => m.provider }, { label: "Kind", get: (m) => m.kind },
        { label: "Context", num: true, get: (m) => num(m.context_window) },
        { label: "Input $/Mtok", num: true, get: (m) => (m.price ? money(m.price.input_per_mtok) : "unpriced") },
        { label: "Output $/Mtok", num: true, get: (m) => (m.price ? money(m.price.output_per_mtok) : "unpriced") },
        { label: "Capabilities", get: (m) => ["streaming", "tools", "vision", "json_schema"].filter((c) => m[c]).join(", ") }], d.models, { empty: "No models listed." }),
      h("h3", {}, "Linked provider types"), table([{ label: "Type", get: (t) => t.type }, { label: "Name", get: (t) => t.name }, { label: "Crate", get: (t) => t.crate }, { label: "Description", get: (t) => t.description }], d.types));
  }

  // ---- recent requests -----------------------------------------------------------------------
  async function requests() {
    const box = h("div", { id: "requests" });
    const more = h("button", { type: "button", class: "ghost" }, "Load older");
    let rows = [];
    main().append(h("div", { class: "bar" }, h("h2", { class: "grow" }, "Recent requests"), h("span", { class: "muted" }, "bodies are never stored")), box, more);
    async function load(before) {
      const d = await api("/requests?limit=100" + (before ? "&before=" + before : ""));
      rows = before ? rows.concat(d.data) : d.data;
      more.hidden = d.data.length < 100;
      box.replaceChildren(table([
        { label: "Time", get: (r) => new Date(r.time_ms).toLocaleString() }, { label: "Key", get: (r) => r.key_id || "master" },
        { label: "Model", get: (r) => r.model }, { label: "Provider", get: (r) => r.provider }, { label: "Deployment", get: (r) => r.deployment },
        { label: "Status", get: (r) => pill(r.status + (r.error_kind ? " · " + r.error_kind : ""), r.status === "ok" ? "ok" : r.status === "aborted" ? "warn" : "bad") },
        { label: "Latency", num: true, get: (r) => ms(r.latency_ms) }, { label: "TTFT", num: true, get: (r) => ms(r.ttft_ms) },
        { label: "Tokens", num: true, get: (r) => num(r.prompt_tokens) + " / " + num(r.completion_tokens) },
        { label: "Cost", num: true, get: (r) => (r.cost_usd == null ? "unpriced" : money(r.cost_usd)) }], rows,
        { empty: "No requests recorded yet.", hint: "Send one: curl the gateway's /v1/chat/completions with a key." }));
    }
    more.addEventListener("click", () => load(rows.length ? rows[rows.length - 1].time_ms : null));
    await load(null);
  }

  // ---- theme and start -----------------------------------------------------------------------
  function applyTheme(t) { document.documentElement.dataset.theme = t; }
  const saved = localStorage.getItem("theme");
  applyTheme(saved || (window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  document.addEventListener("DOMContentLoaded", async () => {
    $("#signin-form").addEventListener("submit", signIn);
    $("#signout").addEventListener("click", signOut);
    $("#theme").addEventListener("click", () => { const t = document.documentElement.dataset.theme === "dark" ? "light" : "dark"; localStorage.setItem("theme", t); applyTheme(t); });
    window.addEventListener("hashchange", () => { if (csrf) route(); });
    try { const s = await api("/session"); if (s.signed_in) start(s); else showSignIn(""); } catch (_) { showSignIn(""); }
  });
})();

// backstop's dashboard: one stream (/api/v1/stream, server-sent events
// read through fetch so the token can go in a header), no framework, no
// third party. The token lives in this tab's session storage only.
"use strict";

const TOKEN_KEY = "backstop-token";
const HOUR = 3600;
const $ = (id) => document.getElementById(id);

const view = {
  access: "public",     // "full" with an accepted token
  readOnly: null,       // why the page cannot act
  services: new Map(),  // name -> latest ServiceStatus
  rows: new Map(),      // name -> <tr>
  usage: new Map(),     // name -> [[t, rss, cpu], …]
  cpu: new Map(),       // name -> {cpu, t, percent} from the status stream
  events: [],
  seen: new Set(),
  selected: null,
  logLines: -1,
  logAt: 0,
};

// A token in the address (`/#token=…`) is taken once and removed from it.
if (location.hash.startsWith("#token=")) {
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(location.hash.slice(7)));
  history.replaceState(null, "", location.pathname);
}
const token = () => sessionStorage.getItem(TOKEN_KEY);
const authHeaders = () => (token() ? { Authorization: "Bearer " + token() } : {});

function text(el, value) {
  const s = value == null ? "" : String(value);
  if (el.textContent !== s) el.textContent = s;
}

function badge(el, word) {
  el.className = "badge";
  el.dataset.word = word;
  text(el, word);
}

function duration(s) {
  if (s == null) return "";
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + String(Math.floor(s / 3600) % 24).padStart(2, "0") + "h";
}

function bytes(n) {
  if (n == null) return "";
  if (n < 1024 * 1024) return (n / 1024).toFixed(0) + " KiB";
  if (n < 1024 * 1024 * 1024) return (n / 1048576).toFixed(1) + " MiB";
  return (n / 1073741824).toFixed(2) + " GiB";
}

const ACTIVE = new Set(["starting", "running", "startup-timeout", "stopping"]);

// ---- the stream -----------------------------------------------------------

let controller = null;
let retry = 1000;

async function connect() {
  if (controller) controller.abort();
  controller = new AbortController();
  const mine = controller;
  try {
    const response = await fetch("/api/v1/stream", { headers: authHeaders(), signal: mine.signal, cache: "no-store" });
    if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended");
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        dispatch(block);
      }
    }
  } catch (e) {
    if (mine !== controller) return; // replaced by a newer connection
    const banner = $("connection");
    banner.hidden = false;
    text(banner, "Lost the connection to backstop (" + e.message + "); retrying…");
    badge($("overall"), "unknown");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  }
}

function dispatch(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return; // a keep-alive comment
  const value = JSON.parse(data.join("\n"));
  if (event === "hello") hello(value);
  else if (event === "status") status(value);
  else if (event === "usage") usage(value);
  else if (event === "event") addEvent(value, true);
}

function hello(h) {
  retry = 1000;
  $("connection").hidden = true;
  view.access = h.access;
  view.readOnly = h.read_only;
  const ro = $("read-only");
  ro.hidden = !h.read_only;
  text(ro, h.read_only);
  $("token-forget").hidden = !token();
  view.usage = new Map(Object.entries(h.usage));
  view.events = [];
  view.seen = new Set();
  $("events").replaceChildren();
  for (const e of h.events) addEvent(e, false);
  if (view.access !== "full") {
    const li = document.createElement("li");
    li.className = "muted";
    text(li, "events need the API token");
    $("events").append(li);
  }
  view.logLines = -1;
  renderDetail();
}

// ---- services -------------------------------------------------------------

function status(report) {
  badge($("overall"), report.overall || "unknown");
  $("overall").setAttribute("aria-label", "overall health: " + (report.overall || "unknown"));
  text($("daemon"), "backstop " + report.daemon.version + " · up " + duration(report.daemon.uptime_s));
  const now = Date.now() / 1000;
  const names = new Set();
  for (const s of report.services) {
    names.add(s.name);
    const before = view.cpu.get(s.name);
    const running = s.uptime_s != null && s.cpu_seconds != null;
    let percent = null;
    if (running && before && before.cpu != null && s.cpu_seconds >= before.cpu && now > before.t) {
      percent = ((s.cpu_seconds - before.cpu) / (now - before.t)) * 100;
    }
    view.cpu.set(s.name, { cpu: running ? s.cpu_seconds : null, t: now, percent });
    view.services.set(s.name, s);
    row(s, percent);
  }
  for (const [name, tr] of view.rows) {
    if (!names.has(name)) {
      tr.remove();
      view.rows.delete(name);
      view.services.delete(name);
      if (view.selected === name) view.selected = null;
    }
  }
  if (!view.selected && report.services.length) select(report.services[0].name, false);
  renderDetail();
}

function row(s, percent) {
  let tr = view.rows.get(s.name);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.service = s.name;
    const cells = ["name", "state", "health", "pid", "up", "restarts", "cpu", "memory", "errors", "actions"];
    for (const c of cells) {
      const td = document.createElement("td");
      td.className = c;
      if (["pid", "up", "restarts", "cpu", "memory", "errors"].includes(c)) td.classList.add("num");
      tr.append(td);
    }
    const name = document.createElement("button");
    name.type = "button";
    name.className = "link";
    name.textContent = s.name;
    name.setAttribute("aria-label", "show " + s.name);
    name.addEventListener("click", () => select(s.name, true));
    tr.querySelector(".name").append(name);
    tr.querySelector(".state").append(document.createElement("span"));
    tr.querySelector(".health").append(document.createElement("span"));
    const restart = document.createElement("button");
    restart.type = "button";
    restart.className = "restart";
    restart.textContent = "Restart";
    restart.addEventListener("click", () => act(s.name, "restart"));
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "toggle";
    toggle.addEventListener("click", () => act(s.name, ACTIVE.has(view.services.get(s.name).state) ? "stop" : "start"));
    tr.querySelector(".actions").append(restart, toggle);
    // Keep the declared order: rows are added as the status lists them.
    $("services").tBodies[0].append(tr);
    view.rows.set(s.name, tr);
  }
  badge(tr.querySelector(".state span"), s.state);
  badge(tr.querySelector(".health span"), s.disabled ? "disabled" : s.health);
  text(tr.querySelector(".pid"), s.pid ?? (view.access === "full" ? "" : "·"));
  text(tr.querySelector(".up"), duration(s.uptime_s));
  text(tr.querySelector(".restarts"), s.restarts);
  text(tr.querySelector(".cpu"), percent == null ? "" : percent.toFixed(1) + "%");
  text(tr.querySelector(".memory"), bytes(s.rss_bytes));
  text(tr.querySelector(".errors"), s.output ? s.output.errors_last_minute : "");
  tr.classList.toggle("selected", view.selected === s.name);
  const can = view.access === "full";
  const why = can ? "" : view.readOnly || "needs the API token";
  for (const b of tr.querySelectorAll(".actions button")) {
    b.disabled = !can;
    b.title = why;
  }
  const toggle = tr.querySelector(".toggle");
  text(toggle, ACTIVE.has(s.state) ? "Stop" : "Start");
  toggle.setAttribute("aria-label", (ACTIVE.has(s.state) ? "stop " : "start ") + s.name);
  tr.querySelector(".restart").setAttribute("aria-label", "restart " + s.name);
}

async function act(name, action) {
  const out = $("action-result");
  text(out, action + " " + name + "…");
  try {
    const r = await fetch("/api/v1/services/" + encodeURIComponent(name) + "/" + action, { method: "POST", headers: authHeaders() });
    const body = await r.json().catch(() => ({}));
    text(out, r.ok ? name + ": " + action + " requested (now " + body.state + ")" : name + ": " + action + " refused: " + (body.error || "HTTP " + r.status));
  } catch (e) {
    text(out, name + ": " + action + " failed: " + e.message);
  }
}

// ---- the selected service ------------------------------------------------

function select(name, focusDetail) {
  view.selected = name;
  view.logLines = -1;
  $("diagnosis-report").replaceChildren();
  for (const [n, tr] of view.rows) tr.classList.toggle("selected", n === name);
  renderDetail();
  if (focusDetail) $("detail-title").scrollIntoView({ block: "nearest" });
}

function renderDetail() {
  const s = view.selected && view.services.get(view.selected);
  const section = $("detail");
  section.hidden = !s;
  if (!s) return;
  text($("detail-title"), s.name);
  const parts = [s.state];
  if (s.pid != null) parts.push("pid " + s.pid);
  if (s.uptime_s != null) parts.push("up " + duration(s.uptime_s));
  if (s.last_exit) parts.push("last exit: " + (s.last_exit.signal || "code " + s.last_exit.code) + " at " + s.last_exit.at);
  if (s.detail) parts.push(s.detail);
  text($("detail-line"), parts.join(" · "));
  const points = view.usage.get(s.name) || [];
  text($("mem-span"), chart($("mem-chart"), points, 1, bytes));
  text($("cpu-span"), chart($("cpu-chart"), points, 2, (v) => v.toFixed(1) + "%"));
  const checks = $("checks");
  const items = (s.checks || []).map((c) => {
    const li = document.createElement("li");
    const b = document.createElement("span");
    badge(b, c.state);
    li.append(c.name + " (" + c.kind + ") ", b, c.detail ? " " + c.detail : "", c.latency_ms != null ? " · " + c.latency_ms + " ms" : "");
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "no checks";
    items.push(li);
  }
  if (checks.textContent !== items.map((i) => i.textContent).join("")) checks.replaceChildren(...items);
  const full = view.access === "full";
  text($("diagnosis"), s.diagnosis || (full ? "none since it last started" : "needs the API token"));
  const diagnose = $("diagnose");
  diagnose.disabled = !full;
  diagnose.title = full ? "" : view.readOnly || "needs the API token";
  refreshLog(s, full);
}

// A line over the samples; the x axis spans the last hour, or less while
// the history is shorter, so a new daemon's first minutes fill the width.
// Returns the caption: the span, the newest value and the highest.
function chart(svg, points, field, label) {
  const now = Date.now() / 1000;
  const shown = points.filter((p) => p[field] != null && p[0] >= now - HOUR);
  if (!shown.length) {
    svg.replaceChildren();
    return "no samples yet (one every 10 s)";
  }
  const from = Math.min(Math.max(points[0][0], now - HOUR), now - 60);
  const span = now - from;
  const max = Math.max(...shown.map((p) => p[field]), field === 2 ? 1 : 1);
  // Zero at the bottom, the highest value at 85 % of the height.
  const xy = shown.map((p) => (((p[0] - from) / span) * 300).toFixed(1) + "," + (78 - (p[field] / max) * 66).toFixed(1));
  if (xy.length === 1) xy.push("300," + xy[0].split(",")[1]);
  const ns = "http://www.w3.org/2000/svg";
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", xy.join(" "));
  const area = document.createElementNS(ns, "polygon");
  area.setAttribute("points", xy[0].split(",")[0] + ",80 " + xy.join(" ") + " " + xy[xy.length - 1].split(",")[0] + ",80");
  svg.replaceChildren(area, line);
  const when = span >= HOUR - 60 ? "last hour" : "last " + Math.max(1, Math.round(span / 60)) + " min";
  return when + " · now " + label(shown[shown.length - 1][field]) + " · max " + label(max);
}

async function refreshLog(s, full) {
  const pre = $("log");
  if (!full) {
    text(pre, "the log needs the API token");
    return;
  }
  const lines = s.output ? s.output.lines : 0;
  const now = Date.now();
  if (lines === view.logLines || now - view.logAt < 2000) return;
  view.logLines = lines;
  view.logAt = now;
  try {
    const r = await fetch("/api/v1/services/" + encodeURIComponent(s.name) + "/logs?lines=100", { headers: authHeaders() });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
    if (view.selected !== s.name) return;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.replaceChildren(...body.map((l) => {
      const span = document.createElement("span");
      if (l.stream === "stderr") span.className = "stderr";
      span.textContent = (l.at ? l.at.slice(11, 23) + " " : "") + l.line + "\n";
      return span;
    }));
    if (!body.length) text(pre, "no log lines yet");
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  } catch (e) {
    text(pre, "cannot read the log: " + e.message);
  }
}

async function diagnoseNow() {
  const name = view.selected;
  if (!name) return;
  const out = $("diagnosis-report");
  out.replaceChildren(document.createTextNode("diagnosing " + name + "… (up to a minute)"));
  try {
    const r = await fetch("/api/v1/services/" + encodeURIComponent(name) + "/diagnose", { method: "POST", headers: authHeaders() });
    const d = await r.json();
    if (!r.ok) throw new Error(d.error || "HTTP " + r.status);
    const parts = [];
    if (d.healthy) parts.push(Object.assign(document.createElement("p"), { textContent: name + " is healthy now." }));
    for (const c of d.causes || []) {
      const p = document.createElement("p");
      const strong = document.createElement("strong");
      strong.textContent = c.id;
      p.append(strong, ": " + c.summary + " (" + Math.round(c.confidence * 100) + "%)");
      const ul = document.createElement("ul");
      ul.className = "evidence";
      for (const e of c.evidence || []) {
        const li = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = e.text;
        li.append(e.source + (e.line ? ":" + e.line : "") + " ", code);
        ul.append(li);
      }
      parts.push(p, ul);
      if (c.remedy && c.remedy.manual) {
        parts.push(Object.assign(document.createElement("p"), { textContent: "fix: " + c.remedy.manual }));
      }
      if (c.remedy && c.remedy.playbook) {
        // The playbook the diagnosis proposes, run and verified by the daemon.
        const run = document.createElement("button");
        run.type = "button";
        run.className = "fix";
        run.textContent = "Run fix: " + c.remedy.playbook;
        run.addEventListener("click", () => fix(name, c.remedy.playbook, run));
        parts.push(run);
      }
    }
    if (d.bundle) parts.push(Object.assign(document.createElement("p"), { className: "muted", textContent: "bundle: " + d.bundle }));
    out.replaceChildren(...parts);
  } catch (e) {
    out.replaceChildren(document.createTextNode("the diagnosis failed: " + e.message));
  }
}

async function fix(name, playbook, button) {
  button.disabled = true;
  const out = document.createElement("div");
  out.className = "fix-report";
  out.textContent = "running " + playbook + " on " + name + "…";
  button.after(out);
  try {
    const r = await fetch("/api/v1/services/" + encodeURIComponent(name) + "/fix", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, authHeaders()),
      body: JSON.stringify({ playbook, dry_run: false }),
    });
    const report = await r.json();
    if (!r.ok) throw new Error(report.error || "HTTP " + r.status);
    const list = document.createElement("ol");
    for (const step of report.steps) {
      const li = document.createElement("li");
      li.textContent = step.action + ": " + step.outcome + " · " + step.detail;
      list.append(li);
    }
    const verdict = document.createElement("p");
    verdict.textContent = report.ok ? playbook + " done, verified" : playbook + " did not succeed";
    out.replaceChildren(verdict, list);
  } catch (e) {
    out.textContent = playbook + " failed: " + e.message;
  } finally {
    button.disabled = false;
  }
}

// ---- usage and events -----------------------------------------------------

function usage(fresh) {
  for (const [name, sample] of Object.entries(fresh)) {
    const list = view.usage.get(name) || [];
    list.push(sample);
    while (list.length && list[0][0] < sample[0] - HOUR) list.shift();
    view.usage.set(name, list);
  }
  renderDetail();
}

function addEvent(e, live) {
  const key = e.at + "|" + e.kind + "|" + (e.service || "") + "|" + e.message;
  if (view.seen.has(key)) return;
  view.seen.add(key);
  const li = document.createElement("li");
  li.dataset.kind = e.kind;
  const time = document.createElement("time");
  time.dateTime = e.at;
  time.textContent = e.at.slice(11, 19) + " ";
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = e.kind;
  // Messages name their service already ("api: exited …").
  li.append(time, kind, " " + e.message);
  const list = $("events");
  list.prepend(li);
  while (list.children.length > 200) list.lastElementChild.remove();
  if (live && e.service === view.selected && e.kind === "diagnosed") view.logLines = -1;
}

// ---- the token ------------------------------------------------------------

$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  connect();
});
$("token-forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  connect();
});
$("diagnose").addEventListener("click", diagnoseNow);

connect();

/**
 * The live page: one HTML document with its style and script inline (no build step, no external
 * asset), fed by the server-sent events of `/_bulwark/events`. Text goes in through `textContent`
 * only, so a model or key name cannot inject markup.
 */
export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bulwark gateway</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #6e7781; }
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; padding: 12px; max-width: 960px; margin-inline: auto; }
  h1 { font-size: 1.2rem; margin: 0 0 4px; }
  h2 { font-size: 1rem; margin: 18px 0 6px; }
  #status { color: var(--muted); font-size: .85rem; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 8px; }
  .card { border: 1px solid #8884; border-radius: 8px; padding: 8px; }
  .card b { display: block; font-size: 1.3rem; }
  table { width: 100%; border-collapse: collapse; font-size: .9rem; }
  td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #8883; }
  td { overflow-wrap: anywhere; }
  .state-up, .state-closed { color: var(--ok); font-weight: 600; }
  .state-down, .state-open { color: var(--bad); font-weight: 600; }
  .state-half-open, .state-unknown, .state-probing { color: var(--warn); font-weight: 600; }
  .state-healthy { color: var(--ok); }
  .state-ejected { color: var(--bad); font-weight: 600; }
  .empty { color: var(--muted); }
</style>
</head>
<body>
<h1>Bulwark gateway</h1>
<div id="status">connecting…</div>
<div class="cards">
  <div class="card">requests / min<b id="requests">–</b></div>
  <div class="card">shed / min<b id="shed">–</b></div>
  <div class="card">first chunk p50<b id="p50">–</b></div>
  <div class="card">first chunk p99<b id="p99">–</b></div>
</div>
<h2>Upstreams</h2>
<table><thead><tr><th>host</th><th>probe</th><th>routing</th><th>outstanding / capacity</th><th>warm models</th></tr></thead><tbody id="upstreams"></tbody></table>
<h2>Breakers</h2>
<table><thead><tr><th>key</th><th>state</th><th>next probe</th></tr></thead><tbody id="breakers"></tbody></table>
<h2>Bulkheads</h2>
<table><thead><tr><th>key</th><th>running</th><th>queued</th><th>rejected</th></tr></thead><tbody id="bulkheads"></tbody></table>
<h2>Last minute</h2>
<table><thead><tr><th>what</th><th>by</th><th>count</th></tr></thead><tbody id="events"></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function row(cells, attributes) {
  const tr = document.createElement("tr");
  for (const [name, value] of Object.entries(attributes || {})) tr.setAttribute(name, value);
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell && typeof cell === "object") { td.textContent = cell.text; td.className = cell.className; }
    else td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}
function fill(id, rows, emptyText, columns) {
  const body = $(id);
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = columns; td.className = "empty"; td.textContent = emptyText;
    tr.append(td); rows = [tr];
  }
  body.replaceChildren(...rows);
}
const ms = (value) => value === undefined || value === null ? "–" : value < 1000 ? Math.round(value) + " ms" : (value / 1000).toFixed(2) + " s";
const state = (value) => ({ text: value, className: "state-" + value });
function render(snapshot) {
  const minute = snapshot.lastMinute;
  $("requests").textContent = minute.requests;
  $("shed").textContent = Object.values(minute.shed).reduce((a, b) => a + b, 0);
  $("p50").textContent = ms(minute.timeToFirstChunkMs.p50);
  $("p99").textContent = ms(minute.timeToFirstChunkMs.p99);
  fill("upstreams", snapshot.upstreams.map((u) => row([
    u.url,
    state(u.state),
    u.health === "ejected"
      ? { text: "ejected " + ms(Math.max(0, u.ejectedUntil - snapshot.now)), className: "state-ejected" }
      : state(u.health),
    u.outstanding + " / " + (u.capacity === undefined || u.capacity === null ? "∞" : u.capacity + " per model"),
    (snapshot.models[u.url] || []).map((m) => m.name).join(", ") || "none",
  ], { "data-upstream": u.url, "data-state": u.state, "data-health": u.health })), "no upstream", 5);
  fill("breakers", snapshot.breakers.map((b) => row([
    b.key, state(b.state), b.retryAt ? ms(Math.max(0, b.retryAt - snapshot.now)) : "–",
  ], { "data-breaker": b.key, "data-state": b.state })), "no breaker has seen a call yet", 3);
  fill("bulkheads", snapshot.bulkheads.map((b) => row([
    b.key, b.running + " / " + b.limit, b.queued + " / " + b.queue, b.rejected,
  ], { "data-bulkhead": b.key })), "no call yet", 4);
  const events = [];
  for (const [by, n] of Object.entries(minute.retries)) events.push(row(["retries", by, n]));
  for (const [by, n] of Object.entries(minute.timeouts)) events.push(row(["timeouts", by, n]));
  for (const [by, n] of Object.entries(minute.shed)) events.push(row(["shed", by, n]));
  fill("events", events, "no retry, timeout or shed", 3);
  $("status").textContent = "live · " + new Date(snapshot.now).toLocaleTimeString();
}
const source = new EventSource("events");
source.addEventListener("state", (event) => render(JSON.parse(event.data)));
source.onerror = () => { $("status").textContent = "reconnecting…"; };
</script>
</body>
</html>
`;

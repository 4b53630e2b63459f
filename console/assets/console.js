// The threadward console's page: reads /threads/events and draws every thread. Text
// from the service (names, errors, locations) only ever goes in through textContent.
"use strict";

const HISTORY = 120; // one depth a second: two minutes
// The console's own paths: beside this script (the page may be served under a prefix).
const BASE = new URL(".", document.currentScript.src).pathname;
const histories = new Map(); // thread id -> { depths: [], sampled: ms }
let token = sessionStorage.getItem("threadward-token");
let lastId = null;
let backoff = 500;
let snapshotActions = false;
let serviceEnded = false; // the last update said the shutdown ended: no reconnecting

function takeTokenFromAddress() {
  const match = /^#token=(.+)$/.exec(location.hash);
  if (match) {
    try {
      token = decodeURIComponent(match[1]);
    } catch (error) {
      token = match[1]; // not percent-encoded after all
    }
    sessionStorage.setItem("threadward-token", token);
    history.replaceState(null, "", location.pathname);
  }
}

function headers() {
  const h = { Accept: "text/event-stream" };
  if (token) h.Authorization = "Bearer " + token;
  if (lastId !== null) h["Last-Event-ID"] = lastId;
  return h;
}

function setStatus(text, down) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("down", down);
}

async function connect() {
  let response;
  try {
    response = await fetch(BASE + "threads/events", { headers: headers(), cache: "no-store" });
  } catch (error) {
    return retry();
  }
  if (response.status === 401) {
    setStatus("needs its token", true);
    document.getElementById("login").hidden = false;
    return;
  }
  if (!response.ok || !response.body) return retry();
  backoff = 500;
  setStatus("live", false);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        receive(block);
      }
    }
  } catch (error) {
    // The stream dropped: reconnect below.
  }
  if (serviceEnded) {
    setStatus("the service shut down", true);
    return;
  }
  retry();
}

function retry() {
  setStatus("reconnecting…", true);
  setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 5000);
}

function receive(block) {
  let id = null;
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // a comment: the ping
    if (line.startsWith("id: ")) id = line.slice(4);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return;
  if (id !== null) lastId = id;
  render(JSON.parse(data));
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function seconds(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

// The last checkpoint: `short` with the file's last two path parts, else the path whole.
function place(t, short) {
  const c = t.last_checkpoint;
  if (!c) return "";
  const file = short ? c.file.split("/").slice(-2).join("/") : c.file;
  return file + ":" + c.line + " (" + seconds(c.ms_ago) + " ago)";
}

// Threads in tree order: each after its parent, with its depth.
function inTreeOrder(threads) {
  const ids = new Set(threads.map((t) => t.id));
  const children = new Map();
  const roots = [];
  for (const t of threads) {
    if (t.parent !== null && ids.has(t.parent)) {
      if (!children.has(t.parent)) children.set(t.parent, []);
      children.get(t.parent).push(t);
    } else {
      roots.push(t);
    }
  }
  const out = [];
  const walk = (t, depth) => {
    out.push([t, depth]);
    for (const child of children.get(t.id) || []) walk(child, depth + 1);
  };
  roots.forEach((t) => walk(t, 0));
  return out;
}

function record(t, now) {
  let h = histories.get(t.id);
  if (t.history) {
    h = { depths: t.history.slice(-HISTORY), sampled: now };
    histories.set(t.id, h);
  } else if (!h) {
    h = { depths: [t.queue_depth], sampled: now };
    histories.set(t.id, h);
  } else if (now - h.sampled >= 1000) {
    h.depths.push(t.queue_depth);
    if (h.depths.length > HISTORY) h.depths.shift();
    h.sampled = now;
  }
  return h.depths;
}

function draw(canvas, depths, current, capacity) {
  const ratio = window.devicePixelRatio || 1;
  const w = 120, hgt = 22;
  if (canvas.width !== w * ratio) {
    canvas.width = w * ratio;
    canvas.height = hgt * ratio;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  const values = depths.concat([current]);
  const top = Math.max(capacity || 0, ...values, 1);
  // Half a minute across at least, two minutes at most.
  const step = w / (Math.max(values.length, 30) - 1);
  const x0 = w - (values.length - 1) * step;
  ctx.beginPath();
  ctx.moveTo(x0, hgt);
  values.forEach((v, i) => ctx.lineTo(x0 + i * step, hgt - 1 - (v / top) * (hgt - 2)));
  ctx.lineTo(w, hgt);
  ctx.closePath();
  ctx.fillStyle = current > 0 ? "rgba(136,192,208,0.45)" : "rgba(136,192,208,0.15)";
  ctx.fill();
  canvas.dataset.last = String(current);
  canvas.dataset.peak = String(Math.max(...values));
}

function row(tbody, id) {
  let tr = tbody.querySelector('tr[data-id="' + id + '"]');
  if (!tr) {
    tr = el("tr", "thread");
    tr.dataset.id = String(id);
    for (const name of ["id num", "name", "state", "queue num", "chart", "rate num", "handled num",
      "refused num", "task num", "where", "restarts num", "source", "actions"]) {
      tr.appendChild(el("td", name));
    }
    tr.querySelector("td.chart").appendChild(el("canvas", "spark"));
  }
  return tr;
}

function cell(tr, name) {
  return tr.querySelector("td." + name.split(" ")[0]);
}

function stateText(t) {
  if (t.stuck) return t.ladder ? "stuck (stopping)" : "stuck";
  switch (t.ladder) {
    case "draining": {
      const eta = t.eta_ms !== null ? ", ~" + seconds(t.eta_ms) : "";
      return "draining (" + t.queue_depth + " left" + eta + ")";
    }
    case "halted": return "halted";
    case "stopping": return "stop requested";
    default:
      if (t.idle) return t.state;
      // A task that registered an on_stop hook (a server inside one handle).
      return t.blocks_by_design ? t.state + ", blocks by design" : t.state + ", busy";
  }
}

function fill(tr, t, depth, now) {
  tr.classList.toggle("busy", !t.idle);
  tr.classList.toggle("stuck", t.stuck);
  cell(tr, "id").textContent = String(t.id);
  const name = cell(tr, "name");
  name.replaceChildren(el("span", "depth", depth > 0 ? "  ".repeat(depth - 1) + "└ " : ""),
    el("span", "label", t.name));
  if (t.workers > 0) name.appendChild(el("span", "depth", " ×" + t.workers));
  const state = cell(tr, "state");
  state.replaceChildren(el("span", t.ladder ? "ladder" : "", stateText(t)));
  if (t.last_failure) state.appendChild(el("span", "failure", "last failure: " + t.last_failure));
  cell(tr, "queue").textContent = t.capacity !== null ? t.queue_depth + " / " + t.capacity : String(t.queue_depth);
  draw(tr.querySelector("canvas.spark"), record(t, now), t.queue_depth, t.capacity);
  cell(tr, "rate").textContent = t.rate.toFixed(1);
  cell(tr, "handled").textContent = String(t.handled);
  cell(tr, "refused").textContent = String(t.refused);
  cell(tr, "task").textContent = seconds(t.task_ms);
  const stuck = t.stuck ? "stuck at " : "";
  const clip = el("span", "clip", stuck + place(t, true));
  clip.title = stuck + place(t, false);
  cell(tr, "where").replaceChildren(clip);
  cell(tr, "restarts").textContent = t.restarts ? String(t.restarts) : "";
  const s = t.source;
  cell(tr, "source").textContent = s
    ? s.stream + (s.connected ? "" : " (disconnected)") + " · " + s.in_flight + " in flight" +
      (s.pending !== null ? " · " + s.pending + " pending" : "")
    : "";
  const actions = cell(tr, "actions");
  if (snapshotActions && token && t.state !== "stopped" && t.state !== "failed") {
    if (!actions.firstChild) {
      for (const verb of ["stop", "halt"]) {
        const b = el("button", verb, verb);
        b.addEventListener("click", () => act(Number(tr.dataset.id), verb));
        actions.appendChild(b);
      }
    }
  } else {
    actions.replaceChildren();
  }
}

async function act(id, verb) {
  if (!confirm(verb + " thread " + id + "?")) return;
  const response = await fetch(BASE + "threads/" + id + "/" + verb, {
    method: "POST",
    headers: { Authorization: "Bearer " + token },
  });
  if (!response.ok) alert(verb + " refused: " + response.status);
}

function render(snapshot) {
  const now = Date.now();
  snapshotActions = snapshot.actions;
  serviceEnded = !!snapshot.shutdown && snapshot.shutdown.step === "ended";
  const tbody = document.querySelector("#threads tbody");
  const seen = new Set();
  let previous = null;
  for (const [t, depth] of inTreeOrder(snapshot.threads)) {
    const tr = row(tbody, t.id);
    fill(tr, t, depth, now);
    seen.add(String(t.id));
    const wanted = previous ? previous.nextSibling : tbody.firstChild;
    if (wanted !== tr) tbody.insertBefore(tr, wanted);
    previous = tr;
  }
  for (const tr of Array.from(tbody.children)) {
    if (!seen.has(tr.dataset.id)) {
      tr.remove();
      histories.delete(Number(tr.dataset.id));
    }
  }
  const busy = snapshot.threads.filter((t) => !t.idle).length;
  const stuck = snapshot.threads.filter((t) => t.stuck).length;
  document.getElementById("summary").textContent =
    snapshot.threads.length + " threads · " + busy + " busy · " + stuck + " stuck";
  renderExits(snapshot.exits);
  renderShutdown(snapshot.shutdown);
}

function renderExits(exits) {
  const list = document.getElementById("exits");
  const items = exits.slice().reverse().map((x) => {
    const li = el("li", x.clean ? "good" : "bad");
    li.dataset.seq = String(x.seq);
    li.appendChild(el("span", "name", x.name));
    li.appendChild(el("span", "", " #" + x.id + " — "));
    li.appendChild(el("span", "outcome", x.outcome));
    li.appendChild(el("span", "", " · handled " + x.handled + " · undelivered " + x.undelivered +
      (x.restarts ? " · restarts " + x.restarts : "") + " · ran " + seconds(x.ran_for_ms)));
    return li;
  });
  list.replaceChildren(...items);
}

function renderShutdown(shutdown) {
  const section = document.getElementById("shutdown");
  section.hidden = !shutdown;
  if (!shutdown) return;
  const steps = { stopping: "stopping: threads drain their queues", halting: "halting: the grace ran out", ended: "ended" };
  let text = (steps[shutdown.step] || shutdown.step) + " · cause: " + shutdown.cause +
    " · " + seconds(shutdown.elapsed_ms) + " in";
  if (shutdown.step !== "ended") {
    text += " · " + shutdown.remaining + " threads left";
    if (shutdown.step_left_ms !== null) text += " · " + seconds(shutdown.step_left_ms) + " left in this step";
  }
  document.getElementById("shutdown-step").textContent = text;
  const report = document.getElementById("report");
  report.hidden = !shutdown.report;
  report.textContent = shutdown.report || "";
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value.trim();
  sessionStorage.setItem("threadward-token", token);
  document.getElementById("login").hidden = true;
  connect();
});

takeTokenFromAddress();
connect();

// The meter console page: polls /api/state every second and the power ring every two, and sends
// the controls as JSON POSTs with the token (X-Console-Token). Plain DOM, no libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = {P: "#222", L1: "#b5651d", L2: "#2a7ab0", L3: "#6a3d9a"};
let history = [];  // [meter s, P, L1, L2, L3] kW
let polls = 0;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function say(text, bad) {
  const m = $("msg");
  m.textContent = text;
  m.className = bad ? "bad" : "ok";
}

async function post(control, fields) {
  const r = await fetch("/api/" + control, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-Console-Token": $("token").value},
    body: JSON.stringify(fields),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) say(control + ": " + (body.error || r.status), true);
  else say(control + ": done", false);
  poll();
  return r.ok;
}

function fmt(v, scaler) {
  const x = v * Math.pow(10, scaler);
  return scaler < 0 ? x.toFixed(-scaler) : String(x);
}

function showRegisters(regs) {
  const body = document.querySelector("#registers tbody");
  for (const [obis, v, scaler, unit] of regs) {
    let row = body.querySelector('tr[data-obis="' + obis + '"]');
    if (!row) {
      row = el("tr", {"data-obis": obis});
      row.append(el("td", {}, obis), el("td", {"class": "v"}), el("td", {}, unit));
      body.append(row);
    }
    row.children[1].textContent = fmt(v, scaler);
  }
}

function showOptical(w, s) {
  if (!w) return;
  const parts = ["port " + w.port, "meter " + w.meter_baud + " Bd", "client " + (w.client_baud || "closed"),
    "to meter " + w.clean.to_meter + " B (" + w.garbled.to_meter + " garbled)",
    "to client " + w.clean.to_client + " B (" + w.garbled.to_client + " garbled)"];
  if (s) parts.push("session state " + s.state + ", level " + s.level + ", sign-ons " + s.signons +
    ", frames " + s.frames + ", errors " + s.errors + (s.locked ? ", LOCKED " + s.remaining_s + " s" : ""));
  $("optical-info").textContent = parts.join(" · ");
  const body = document.querySelector("#optical-log tbody");
  body.replaceChildren(...w.log.slice().reverse().map(([ago, dir, sb, rb, n, bad]) => {
    const tr = el("tr", bad ? {"class": "bad"} : {});
    tr.append(el("td", {}, ago), el("td", {}, dir), el("td", {}, sb + "→" + rb), el("td", {}, n),
              el("td", {}, bad ? "garbled" : ""));
    return tr;
  }));
}

function showCustomer(s) {
  $("relay").textContent = s.relay.closed ? "closed" : "open";
  $("relay").className = s.relay.closed ? "on" : "off";
  const sup = s.supply;
  $("relay-info").textContent = "fault " + s.relay.fault + ", " + s.relay.changes + " changes" +
    (sup ? ", control state " + sup.control_state + ", mode " + sup.control_mode +
      (sup.limiter.tripped ? ", limiter tripped" : "") : "");
  $("display").textContent = s.powered ? s.display.join("\n") : "(no power)";
  const c = s.credit;
  $("credit").textContent = c ? "credit " + c.available + " (" + c.unit + ")" +
    (c.low ? " LOW" : "") + ", emergency " + c.ec_state + ", debt " + c.debt + ", tokens " + c.tx : "";
}

function showRadio(r) {
  $("radio-panel").hidden = !r;
  if (!r) return;
  $("radio-info").textContent = Object.entries(r.stats || {}).map(([k, v]) => k + " " + v).join(" · ");
  const body = document.querySelector("#radio-frames tbody");
  body.replaceChildren(...(r.frames || []).slice(-10).reverse().map((f) => {
    const tr = el("tr");
    tr.append(el("td", {}, JSON.stringify(f)));
    return tr;
  }));
}

function show(s) {
  $("powered").textContent = s.powered ? "ON" : "OFF";
  $("powered").className = "badge " + (s.powered ? "on" : "off");
  $("busy").textContent = s.busy ? s.busy + "…" : (s.error || "");
  $("rate").textContent = s.rate;
  const rin = $("rate-form").rate;
  // start from the rig's rate (once the sampler has taken its first sample)
  if (!rin.dataset.seen && typeof s.rate === "number") { rin.value = s.rate; rin.dataset.seen = "1"; }
  if (s.clock) {
    $("clock-local").textContent = s.clock.local;
    $("clock-offset").textContent = s.clock.offset;
    $("clock-dst").textContent = s.clock.dst ? "(summer time)" : "(standard time)";
    $("clock-utc").textContent = s.clock.utc + (s.clock.valid ? "" : " (clock not set)");
  }
  if (s.tariff !== undefined) $("tariff").textContent = s.tariff;
  for (const k of ["P", "L1", "L2", "L3"]) $("p-" + k).textContent = s.powered && s.power ? s.power[k].toFixed(3) : "-";
  if (s.registers) showRegisters(s.registers);
  $("p1-info").textContent = s.p1_bytes + " bytes sent so far";
  $("p1").textContent = !s.p1 ? "(nothing yet)" : s.p1.kind === "text" ? s.p1.text : "binary frame, last bytes:\n" + s.p1.hex;
  showOptical(s.optical, s.optical_session);
  showCustomer(s);
  showRadio(s.radio);
  for (const ph of [1, 2, 3]) $("manual-" + ph).textContent = s.manual.includes(ph) ? "manual" : "";
}

async function poll() {
  try {
    const r = await fetch("/api/state");
    show(await r.json());
  } catch (e) {
    $("powered").textContent = "console gone";
  }
}

async function pollHistory() {
  polls += 1;
  const full = polls % 30 === 1 || !history.length;  // now and then all of it (a clock set back)
  const since = full ? "" : "?since=" + history[history.length - 1][0];
  try {
    const r = await fetch("/api/history" + since);
    const rows = await r.json();
    history = full ? rows : history.concat(rows);
    if (history.length > 7200) history = history.slice(-7200);
  } catch (e) {
    return;
  }
  plot();
}

function plot() {
  const svg = $("plot");
  const W = 600, H = 220, L = 44, B = 20;
  const win = Number($("window").value);
  const tmax = history.length ? history[history.length - 1][0] : 0;
  const pts = history.filter((s) => s[0] >= tmax - win);
  $("samples").textContent = pts.length + " samples";
  let lo = 0, hi = 0.1;
  for (const s of pts) for (let i = 1; i < 5; i++) { lo = Math.min(lo, s[i]); hi = Math.max(hi, s[i]); }
  const x = (t) => L + (W - L - 4) * (1 - (tmax - t) / win);
  const y = (v) => 4 + (H - B - 8) * (hi - v) / (hi - lo);
  const parts = [];
  parts.push('<line x1="' + L + '" y1="' + y(0) + '" x2="' + W + '" y2="' + y(0) + '" class="axis"/>');
  parts.push('<text x="2" y="14" class="lbl">' + hi.toFixed(2) + ' kW</text>');
  parts.push('<text x="2" y="' + (H - B - 2) + '" class="lbl">' + lo.toFixed(2) + '</text>');
  parts.push('<text x="' + L + '" y="' + (H - 4) + '" class="lbl">−' + $("window").selectedOptions[0].text + '</text>');
  parts.push('<text x="' + (W - 40) + '" y="' + (H - 4) + '" class="lbl">now</text>');
  ["L1", "L2", "L3", "P"].forEach((k) => {
    const i = {P: 1, L1: 2, L2: 3, L3: 4}[k];
    const d = pts.map((s) => x(s[0]).toFixed(1) + "," + y(s[i]).toFixed(1)).join(" ");
    if (d) parts.push('<polyline points="' + d + '" fill="none" stroke="' + COLORS[k] +
                      '" stroke-width="' + (k === "P" ? 2 : 1) + '" data-series="' + k + '"/>');
  });
  svg.innerHTML = parts.join("");
}

function buildLoads() {
  const t = $("loads");
  for (const ph of [1, 2, 3]) {
    const tr = el("tr", {id: "load-" + ph});
    tr.append(el("td", {}, "L" + ph));
    for (const [name, v] of [["volts", 230], ["amps", 0], ["pf", 1]]) {
      const td = el("td");
      td.append(el("input", {name: name, type: "number", step: "any", value: v, size: 6}));
      tr.append(td);
    }
    const set = el("button", {type: "button", "class": "set"}, "set");
    set.onclick = () => {
      const f = {phase: ph};
      for (const i of tr.querySelectorAll("input")) f[i.name] = Number(i.value);
      post("load", f);
    };
    const auto = el("button", {type: "button", "class": "auto"}, "profile");
    auto.onclick = () => post("load", {phase: ph, auto: true});
    const td = el("td");
    td.append(set, auto);
    tr.append(td, el("td", {id: "manual-" + ph}));
    t.append(tr);
  }
}

function buildKeypad() {
  const k = $("keypad");
  for (const c of "123456789*0#") {
    const b = el("button", {type: "button"}, c);
    b.onclick = () => { $("keys").value += c; };
    k.append(b);
  }
}

function init() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  $("token").value = m ? decodeURIComponent(m[1]) : (sessionStorage.getItem("token") || "");
  $("token").onchange = () => sessionStorage.setItem("token", $("token").value);
  sessionStorage.setItem("token", $("token").value);
  buildLoads();
  buildKeypad();
  $("cut").onclick = () => post("power", {action: "cut"});
  $("restore").onclick = () => post("power", {action: "restore"});
  $("button").onclick = () => post("button", {});
  $("rate-form").onsubmit = (e) => { e.preventDefault(); post("rate", {rate: Number(e.target.rate.value)}); };
  $("keypad-form").onsubmit = (e) => {
    e.preventDefault();
    post("keypad", {keys: $("keys").value}).then((ok) => { if (ok) $("keys").value = ""; });
  };
  $("window").onchange = plot;
  poll();
  pollHistory();
  setInterval(poll, 1000);
  setInterval(pollHistory, 2000);
}

document.addEventListener("DOMContentLoaded", init);

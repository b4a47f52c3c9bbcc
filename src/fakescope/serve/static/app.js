// fakescope page: upload, results per detector, video jobs, history, export. No dependencies.
"use strict";

const STORE = "fakescope.results.v1";
const KEY = "fakescope.apikey";
const WORDS = { little: "Little evidence", uncertain: "Uncertain",
                substantial: "Substantial evidence", pending: "Working…" };
const COLOURS = ["#1d5fbf", "#b3261e", "#1f7a3f", "#7b3fb3", "#b36b00", "#0f7c86"];
const $ = (sel, root = document) => root.querySelector(sel);
let records = [];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k === "style") e.style.cssText = v;  // CSSOM: allowed by the page's CSP
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined)
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
const pct = (p) => (p === null || p === undefined) ? "–" : `${Math.round(p * 100)}%`;
const num = (v, d = 3) => (typeof v === "number") ? v.toFixed(d) : "–";

function status(text, bad = false) {
  const s = $("#status"); s.textContent = text; s.classList.toggle("bad", bad);
}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  const key = sessionStorage.getItem(KEY);
  if (key) headers["X-API-Key"] = key;
  const resp = await fetch(path, Object.assign({}, opts, { headers }));
  if (resp.status === 401) $("#key-box").hidden = false;
  return resp;
}

async function errorText(resp) {
  try {
    const j = await resp.json();
    const d = j.detail;
    const msg = typeof d === "string" ? d : (d && d.message) ? d.message : JSON.stringify(d);
    const retry = resp.headers.get("Retry-After");
    return `${resp.status}: ${msg}${retry ? ` (try again in ${retry} s)` : ""}`;
  } catch (e) { return `${resp.status} ${resp.statusText}`; }
}

// ------------------------------------------------------------------ history

function save() {
  try { sessionStorage.setItem(STORE, JSON.stringify(records)); }
  catch (e) {  // quota: keep the answers, drop the pictures of the oldest results
    for (const r of records.slice(5)) { r.thumb = null; stripMaps(r.answer); }
    try { sessionStorage.setItem(STORE, JSON.stringify(records)); } catch (e2) { /* memory only */ }
  }
}
function stripMaps(answer) {
  if (!answer || !answer.detectors) return;
  for (const d of Object.values(answer.detectors)) delete d.maps;
}
function load() {
  try { records = JSON.parse(sessionStorage.getItem(STORE) || "[]"); } catch (e) { records = []; }
}

// ------------------------------------------------------------------ models and limits

async function showModels() {
  const box = $("#models");
  const resp = await api("/models");
  if (!resp.ok) { box.replaceChildren(el("p", { class: "muted", text: await errorText(resp) })); return; }
  const { models } = await resp.json();
  const grid = el("div", { class: "models" });
  for (const m of models) {
    const td = m.training_data || {};
    const seen = td.sources_seen ? Object.keys(td.sources_seen).join(", ") : "not recorded";
    const auc = m.validation && typeof m.validation.auc === "number" ? m.validation.auc.toFixed(2) : "–";
    grid.append(el("article", { class: "model" },
      el("h3", { text: m.key }),
      el("p", { class: "muted", text: `${m.architecture.name}, ${m.architecture.image_size} px input · ` +
        `version ${m.version.weights_sha256} · validation AUC ${auc}` }),
      el("p", { text: `Trained on: ${seen}` }),
      el("details", {}, el("summary", { text: "Known blind spots" }),
        el("ul", {}, ...m.known_blind_spots.map((s) => el("li", { text: s }))))));
  }
  box.replaceChildren(grid);
}

async function showLimits() {
  const resp = await api("/limits");
  if (!resp.ok) return;
  const l = await resp.json();
  const mb = (b) => Math.round(b / 1048576);
  $("#limits-text").textContent = `Limits: images up to ${mb(l.image_bytes)} MB and ` +
    `${l.max_megapixels} megapixels, videos up to ${mb(l.video_bytes)} MB and ` +
    `${Math.round(l.video_seconds / 60)} min.`;
}

// ------------------------------------------------------------------ rendering

function badge(band) {
  return el("span", { class: `badge band-${band}`, text: WORDS[band] || band });
}

function meter(entry) {
  const m = el("div", { class: "meter", role: "img",
    "aria-label": `P(fake) ${pct(entry.p_fake)}` + (entry.p_fake_range ?
      `, the detector's samples range from ${pct(entry.p_fake_range[0])} to ${pct(entry.p_fake_range[1])}` : "") });
  if (entry.p_fake_range) {
    const [lo, hi] = entry.p_fake_range;
    m.append(el("div", { class: "range", style: `left:${lo * 100}%;width:${Math.max((hi - lo) * 100, 0.8)}%` }));
  }
  if (typeof entry.p_fake === "number") m.append(el("div", { class: "dot", style: `left:${entry.p_fake * 100}%` }));
  return m;
}

function sureText(entry) {
  if (entry.error) return null;
  if (entry.in_distribution === false)
    return el("p", { class: "ood", text: `This detector has not seen data like this (${entry.ood_reason || "outside its training data"}).` });
  const e = entry.uncertainty ? entry.uncertainty.epistemic : 0;
  const t = e > 0.05 ? "Its own samples disagree: it is unsure." :
            e > 0.01 ? "Its samples vary a little." : "Its samples agree with each other.";
  return el("p", { class: "muted", text: t });
}

function card(key, entry) {
  const c = el("section", { class: "card", "aria-label": `Detector ${key}` },
    el("h4", {}, el("span", { text: key }), badge(entry.band)));
  if (entry.error) {
    c.append(el("p", { text: `Abstained: ${entry.error}` }));
    return c;
  }
  c.append(el("p", { class: "pf" }, pct(entry.p_fake), " ", el("small", { text: "chance it is fake, by this detector" })));
  c.append(meter(entry));
  c.append(el("p", { text: entry.explanation }));
  const sure = sureText(entry); if (sure) c.append(sure);
  const u = entry.uncertainty || {};
  c.append(el("details", {}, el("summary", { text: "Numbers" }),
    el("dl", {},
      el("dt", { text: "P(fake)" }), el("dd", { text: num(entry.p_fake) }),
      el("dt", { text: "Epistemic (model unsure)" }), el("dd", { text: num(u.epistemic, 4) }),
      el("dt", { text: "Aleatoric (data ambiguous)" }), el("dd", { text: num(u.aleatoric, 4) }),
      el("dt", { text: "In distribution" }), el("dd", { text: entry.in_distribution === null || entry.in_distribution === undefined ? "unknown" : String(entry.in_distribution) }),
      el("dt", { text: "Version" }), el("dd", { text: entry.version || "–" }))));
  if (entry.maps) {
    const where = entry.map_frame !== undefined ? ` (frame ${entry.map_frame})` : "";
    c.append(el("div", { class: "maps" },
      el("figure", {}, el("img", { src: entry.maps.saliency, alt: `Where ${key} looked${where}: brighter colours mattered more` }),
        el("figcaption", { text: `Where it looked${where}` })),
      el("figure", {}, el("img", { src: entry.maps.uncertainty, alt: `Where ${key} was unsure${where}` }),
        el("figcaption", { text: "Where it was unsure" }))));
  }
  return c;
}

function faceBoxes(answer) {
  const out = [];
  const faces = answer.faces || [];
  faces.forEach((f, i) => f.box && out.push({ box: f.box, label: `face ${i + 1}` }));
  return out;
}

function preview(node, rec) {
  const fig = $(".preview", node);
  if (!rec.thumb) { fig.hidden = true; return; }
  fig.hidden = false;
  const img = $("img", fig); img.src = rec.thumb; img.alt = `The uploaded ${rec.kind} ${rec.name}`;
  const frame = $(".frame", fig);
  frame.querySelectorAll(".facebox").forEach((b) => b.remove());
  const a = rec.answer || {};
  if (a.width && a.height) {
    for (const { box, label } of faceBoxes(a)) {
      const [x0, y0, x1, y1] = box;
      frame.append(el("div", { class: "facebox", style: `left:${x0 / a.width * 100}%;top:${y0 / a.height * 100}%;` +
        `width:${(x1 - x0) / a.width * 100}%;height:${(y1 - y0) / a.height * 100}%` }, el("span", { text: label })));
    }
    $("figcaption", fig).textContent = `${a.width} × ${a.height} px`;
  }
}

function timeline(node, answer) {
  const box = $(".timeline", node);
  const dets = Object.entries((answer && answer.detectors) || {}).filter(([, e]) => e.frames);
  if (!dets.length) { box.hidden = true; return; }
  box.hidden = false;
  const W = 640, H = 200, L = 40, R = 10, T = 10, B = 28;
  const times = dets.flatMap(([, e]) => e.frames.map((f) => f.time));
  const t1 = Math.max(...times, 0.001);
  const x = (t) => L + (t / t1) * (W - L - R), y = (p) => T + (1 - p) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "P(fake) per sampled frame over time, with each detector's uncertainty band");
  const add = (tag, attrs) => { const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); svg.append(e); return e; };
  for (const p of [0, 0.5, 1]) {
    add("line", { x1: L, x2: W - R, y1: y(p), y2: y(p), stroke: p === 0.5 ? "#9aa6b2" : "#d5dae0", "stroke-dasharray": p === 0.5 ? "4 3" : "" });
    add("text", { x: 4, y: y(p) + 4, "font-size": 11, fill: "#59636e" }).textContent = pct(p);
  }
  add("text", { x: L, y: H - 6, "font-size": 11, fill: "#59636e" }).textContent = "0 s";
  add("text", { x: W - R - 40, y: H - 6, "font-size": 11, fill: "#59636e" }).textContent = `${t1.toFixed(1)} s`;
  const legend = el("div", { class: "legend" });
  dets.forEach(([key, e], i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = e.frames.filter((f) => typeof f.p_fake === "number");
    if (pts.length) {
      const upper = pts.map((f) => `${x(f.time)},${y(f.p_fake_range ? f.p_fake_range[1] : f.p_fake)}`);
      const lower = pts.slice().reverse().map((f) => `${x(f.time)},${y(f.p_fake_range ? f.p_fake_range[0] : f.p_fake)}`);
      add("polygon", { points: upper.concat(lower).join(" "), fill: colour, "fill-opacity": 0.15, stroke: "none" });
      add("polyline", { points: pts.map((f) => `${x(f.time)},${y(f.p_fake)}`).join(" "), fill: "none", stroke: colour, "stroke-width": 2 });
      for (const f of pts) add("circle", { cx: x(f.time), cy: y(f.p_fake), r: 2.5, fill: colour });
    }
    const missing = e.frames.length - pts.length;
    legend.append(el("span", {}, el("i", { style: `background:${colour}` }),
      `${key}` + (missing ? ` (${missing} frame${missing > 1 ? "s" : ""} without a face)` : "")));
  });
  box.replaceChildren(el("h4", { text: "P(fake) over the video (shaded: the detector's uncertainty)" }), svg, legend);
}

function render(rec) {
  let node = document.querySelector(`[data-id="${rec.id}"]`);
  if (!node) {
    node = $("#tpl-result").content.firstElementChild.cloneNode(true);
    node.dataset.id = rec.id;
    $("#list").prepend(node);
    $(".cancel", node).addEventListener("click", () => cancelJob(rec));
  }
  $(".name", node).textContent = rec.name;
  $(".meta", node).textContent = `${rec.kind} · ${new Date(rec.time).toLocaleString()}` +
    (rec.answer && rec.answer.request_id ? ` · request ${rec.answer.request_id.slice(0, 8)}` : "");
  const a = rec.answer;
  const band = rec.error ? "uncertain" : a && a.verdict ? a.verdict.band : "pending";
  $(".verdict .badge", node).replaceWith(badge(band));
  let summary = rec.error ? "No answer." : a && a.verdict ? a.verdict.summary : "Waiting for the detectors…";
  if (a && a.verdict && a.verdict.disagreement > 0)
    summary += ` Spread of P(fake) between detectors: ${pct(a.verdict.disagreement)}.`;
  $(".summary", node).textContent = summary;
  const err = $(".error", node); err.hidden = !rec.error; err.textContent = rec.error || "";
  const job = $(".job", node);
  const running = rec.job && ["queued", "running"].includes(rec.job.state);
  job.hidden = !running;
  if (rec.job) {
    const p = Math.round((rec.job.progress || 0) * 100);
    const bar = $("progress", job); bar.value = p; bar.textContent = `${p}%`;
    $(".stage", job).textContent = `${rec.job.state}${rec.job.stage ? `: ${rec.job.stage}` : ""} (${p}%)`;
  }
  preview(node, rec);
  const cards = $(".cards", node);
  cards.replaceChildren(...Object.entries((a && a.detectors) || {}).map(([k, e]) => card(k, e)));
  timeline(node, a);
  $("#empty").hidden = records.length > 0;
}

// ------------------------------------------------------------------ uploads

function thumbnail(file) {
  return new Promise((resolve) => {
    if (!file.type.startsWith("image/")) return resolve(null);
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      const s = Math.min(1, 480 / Math.max(img.naturalWidth, img.naturalHeight));
      const c = document.createElement("canvas");
      c.width = Math.max(1, Math.round(img.naturalWidth * s));
      c.height = Math.max(1, Math.round(img.naturalHeight * s));
      c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
      URL.revokeObjectURL(url);
      resolve(c.toDataURL("image/jpeg", 0.85));
    };
    img.onerror = () => { URL.revokeObjectURL(url); resolve(null); };
    img.src = url;
  });
}

function newRecord(file, kind) {
  const rec = { id: `${Date.now()}-${Math.random().toString(16).slice(2, 8)}`, name: file.name,
                kind, time: Date.now(), thumb: null, answer: null, error: null, job: null };
  records.unshift(rec);
  return rec;
}

async function detectImage(file) {
  const rec = newRecord(file, "image");
  render(rec);
  rec.thumb = await thumbnail(file);
  render(rec);
  const form = new FormData();
  form.append("files", file, file.name);
  const maps = $("#maps").checked ? "true" : "false";
  try {
    const resp = await api(`/detect?maps=${maps}`, { method: "POST", body: form });
    if (!resp.ok) rec.error = await errorText(resp);
    else {
      const body = await resp.json();
      rec.answer = Object.assign({ request_id: body.request_id, models: body.models }, body.files[0]);
    }
  } catch (e) { rec.error = `The server could not be reached (${e.message}).`; }
  render(rec); save();
  status(rec.error ? `${rec.name}: ${rec.error}` : `${rec.name}: done.`, !!rec.error);
}

async function submitJob(file) {
  const rec = newRecord(file, "video");
  render(rec);
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("maps", $("#maps").checked ? "true" : "false");
  try {
    const resp = await api("/jobs", { method: "POST", body: form });
    if (resp.status !== 202) { rec.error = await errorText(resp); render(rec); save(); status(`${rec.name}: ${rec.error}`, true); return; }
    const body = await resp.json();
    rec.job = { id: body.id, url: resp.headers.get("Location") || body.url, state: "queued", progress: 0, stage: "" };
    render(rec); save();
    status(`${rec.name}: queued as a job.`);
    poll(rec);
  } catch (e) { rec.error = `The server could not be reached (${e.message}).`; render(rec); save(); }
}

async function poll(rec) {
  while (rec.job && ["queued", "running"].includes(rec.job.state)) {
    await new Promise((r) => setTimeout(r, 700));
    let resp;
    try { resp = await api(rec.job.url); } catch (e) { continue; }
    if (resp.status === 404) { rec.error = "The job is gone (cancelled or expired)."; rec.job.state = "gone"; break; }
    if (!resp.ok) continue;
    const j = await resp.json();
    Object.assign(rec.job, { state: j.state, progress: j.progress, stage: j.stage });
    if (j.result) rec.answer = j.result;
    if (j.state === "failed" || j.state === "interrupted") rec.error = j.error ? `${j.error.status}: ${j.error.message}` : j.state;
    if (rec.answer && rec.answer.detectors && !rec.thumb) {
      const withMap = Object.values(rec.answer.detectors).find((d) => d.maps);
      if (withMap) rec.thumb = withMap.maps.saliency;
    }
    render(rec);
  }
  save();
  status(`${rec.name}: ${rec.error ? rec.error : "done."}`, !!rec.error);
}

async function cancelJob(rec) {
  if (!rec.job) return;
  await api(rec.job.url, { method: "DELETE" });
  rec.job.state = "cancelled"; rec.error = "Cancelled.";
  render(rec); save();
}

function handle(files) {
  for (const f of files) {
    if (f.type.startsWith("video/") || /\.(mp4|mov|m4v|mkv|webm|avi)$/i.test(f.name)) submitJob(f);
    else detectImage(f);
  }
}

// ------------------------------------------------------------------ export

function exportJson() {
  const data = records.map(({ thumb, ...r }) => r);
  const blob = new Blob([JSON.stringify({ exported: new Date().toISOString(), results: data }, null, 2)], { type: "application/json" });
  const a = el("a", { href: URL.createObjectURL(blob), download: "fakescope-results.json" });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ------------------------------------------------------------------ wiring

function init() {
  const drop = $("#drop"), input = $("#file");
  $("#pick").addEventListener("click", () => input.click());
  input.addEventListener("change", () => { handle(input.files); input.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); handle(e.dataTransfer.files); });
  $("#export-json").addEventListener("click", exportJson);
  $("#print").addEventListener("click", () => window.print());
  $("#clear").addEventListener("click", () => { records = []; save(); $("#list").replaceChildren(); $("#empty").hidden = false; });
  $("#key-save").addEventListener("click", () => {
    sessionStorage.setItem(KEY, $("#api-key").value); $("#key-box").hidden = true; showModels(); showLimits();
  });
  load();
  records.slice().reverse().forEach(render);
  records.filter((r) => r.job && ["queued", "running"].includes(r.job.state)).forEach(poll);
  showModels(); showLimits();
}
document.addEventListener("DOMContentLoaded", init);

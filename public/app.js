// The scored page: plain JavaScript against the HTTP API (see /openapi.json).
"use strict";
const $ = (id) => document.getElementById(id);
const jobs = new Map();       // id → job
const losses = new Map();     // training job id → [[step, loss]]
const streams = new Map();    // id → event stream (see events())
let selectedJob = null;
let models = [];
let samplers = [];            // GET /samplers: each sampler's declared parameters
let recipe = null;            // GET /recipe: the training recipe's fields
let presets = [];             // GET /presets

// The API key, when the service asks for one: kept in this tab's session storage only, sent as a Bearer token.
const keyStore = "scored.api_key";
function authHeaders(extra = {}) {
  const key = sessionStorage.getItem(keyStore);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}
function askForKey(message) {
  $("key-form").hidden = false;
  $("key-message").textContent = message;
  $("key-input").focus();
}
$("key-form").onsubmit = (e) => {
  e.preventDefault();
  sessionStorage.setItem(keyStore, $("key-input").value.trim());
  $("key-input").value = "";
  $("key-message").textContent = "key saved for this tab";
  start();
};
$("key-forget").onclick = () => { sessionStorage.removeItem(keyStore); askForKey("key forgotten"); };

// A fresh Idempotency-Key for a POST that queues a job: a retried request gets the job the first one made.
function newIdempotencyKey() { return (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`; }
const once = () => ({ "Idempotency-Key": newIdempotencyKey() });

async function api(method, path, body, type = "application/json", extra = {}) {
  const r = await fetch(path, { method, headers: authHeaders(body ? { "Content-Type": type, ...extra } : extra), body });
  if (r.status === 401) askForKey(sessionStorage.getItem(keyStore) ? "this key is not accepted: enter another" : "this service needs an API key");
  if (!r.ok) {
    let message = r.status + " " + r.statusText, field = null;
    try { const e = await r.json(); message = e.error.message; field = e.error.field || null; } catch (_) {}
    const err = new Error(message);
    err.field = field;
    throw err;
  }
  return r;
}

function say(id, text, ok = false) { const el = $(id); el.textContent = text; el.className = "message" + (ok ? " ok" : ""); }

// An error beside the field it names (by its request name: "learning_rate", "model.hidden", "steps"), marked
// invalid and described by the message; false if the form has no such field.
function fieldError(form, name, message) {
  const key = String(name).split(".").pop();
  const input = form.querySelector(`[name="${key}"]`) || form.querySelector(`[data-key="${key}"]`);
  if (!input || !input.closest("label")) return false;
  const span = document.createElement("span");
  span.className = "field-error";
  span.id = `${form.id}-${key}-error`;
  span.textContent = message;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", span.id);
  input.closest("label").appendChild(span);
  input.focus();
  return true;
}
function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); }
}
// Shows an error: beside its field when it names one of the form's, and in the form's message line.
function formError(form, messageId, err) {
  if (err.field) fieldError(form, err.field, err.message);
  say(messageId, err.message);
}

// Replaces a <select>'s options with one per item (value, label, optional data-kind), keeping the
// selected value when it is still offered.
function fillSelect(id, items, option) {
  const sel = $(id);
  const current = sel.value;
  sel.innerHTML = "";
  for (const item of items) {
    const { value, label, kind } = option(item);
    const o = document.createElement("option");
    o.value = value;
    if (kind) o.dataset.kind = kind;
    o.textContent = label;
    sel.appendChild(o);
  }
  if (current && [...sel.options].some((o) => o.value === current)) sel.value = current;
}

async function loadDatasets() {
  const { datasets } = await (await api("GET", "/datasets")).json();
  fillSelect("dataset-select", datasets, (d) => ({
    value: d.id, kind: d.kind, label: d.builtin ? d.id : `${d.name} (${d.id}, ${d.count} ${d.kind})`,
  }));
}

async function loadModels() {
  models = (await (await api("GET", "/models")).json()).models;
  // Score models are sampled; classifiers guide them (GET /samples?classifier=…&label=…).
  fillSelect("model-select", models.filter((m) => m.role !== "classifier"), (m) => ({
    value: m.id, label: `${m.id} · ${m.dataset} · ${m.schedule} · ${m.steps} steps`,
  }));
  fillSamplers();
  drawField();
}

// The classifiers that can guide the chosen model: trained on data of its shape under the same SDE.
function fillClassifiers() {
  const m = models.find((x) => x.id === $("model-select").value);
  const fits = models.filter((c) => c.role === "classifier" && m && JSON.stringify(c.data_shape) === JSON.stringify(m.data_shape)
    && c.perturbation && m.perturbation && c.perturbation.type === m.perturbation.type);
  fillSelect("classifier-select", [{ id: "", label: "(none: unconditional)" }, ...fits], (c) => ({
    value: c.id, label: c.id ? `${c.id} · ${c.classes} classes · ${c.dataset}` : c.label,
  }));
  const guided = $("classifier-select").value !== "";
  for (const el of document.querySelectorAll(".guided-only")) el.hidden = !guided;
  $("sample-form").elements.guidance.placeholder = m && m.kind === "images" ? "6" : "1";
}

async function loadRegistries() {
  samplers = (await (await api("GET", "/samplers")).json()).samplers;
  recipe = await (await api("GET", "/recipe")).json();
  presets = (await (await api("GET", "/presets")).json()).presets;
  fillSelect("preset-select", [{ name: "", summary: "(none)" }, ...presets], (p) => ({ value: p.name, label: p.name ? `${p.name} — ${p.summary}` : p.summary }));
  fillSelect("sde-select", [{ name: "" }, ...recipe.sdes], (o) => ({ value: o.name, label: o.name || "(default)" }));
  trainFields();
  fillSamplers();
}

// The train form: one input per recipe field that applies to the chosen data (points or images), objective and
// SDE (GET /recipe), with the preset's value, else the data kind's default, as its placeholder; only filled
// fields are sent. Inputs are named by the field's key ("hidden" for model.hidden), as the server's errors are.
const trainSelects = ["preset", "dataset", "objective", "sde"];
function trainFields() {
  if (!recipe) return;
  const box = $("recipe-params");
  const previous = {};
  for (const el of box.querySelectorAll("[data-key]")) if (el.value !== "") previous[el.dataset.key] = el.value;
  box.innerHTML = "";
  const sel = $("dataset-select");
  const kind = sel.selectedOptions[0] ? sel.selectedOptions[0].dataset.kind : "points";
  const preset = presets.find((p) => p.name === $("preset-select").value);
  const presetValue = (path) => {
    if (!preset || preset.kind !== kind) return undefined;
    const parts = path.split(".");
    return parts.length === 2 ? (preset.recipe.model || {})[parts[1]] : preset.recipe[path];
  };
  const field = (path) => recipe.fields.find((f) => f.path === path);
  const chosen = (path) => {
    const el = $(`${path}-select`);
    if (el && el.value) return el.value;
    const p = presetValue(path);
    if (p !== undefined) return p;
    const f = field(path);
    return f ? (kind === "images" ? f.default_images : f.default_points) : null;
  };
  // The objectives that train on this kind of data.
  fillSelect("objective-select", [{ name: "" }, ...recipe.objectives.filter((o) => o.kinds.includes(kind))], (o) => ({ value: o.name, label: o.name || "(default)" }));
  const objective = recipe.objectives.find((o) => o.name === chosen("objective"));
  box.dataset.hasSde = objective && objective.parameters.includes("sde") ? "1" : "";
  const sde = recipe.sdes.find((e) => e.name === chosen("sde"));
  for (const f of recipe.fields) {
    if (trainSelects.includes(f.path) || !f.kinds.includes(kind)) continue;
    if (f.applies_to) {   // an objective's or its SDE's field
      const own = objective && objective.parameters.includes(f.path);
      const viaSDE = objective && objective.parameters.includes("sde") && sde && sde.parameters.includes(f.path);
      if (!own && !viaSDE) continue;
    }
    const p = presetValue(f.path);
    const d = p !== undefined ? p : kind === "images" ? f.default_images : f.default_points;
    const label = paramInput(f, d, { name: f.key, value: previous[f.key], onchange: trainConditions });
    label.dataset.path = f.path;
    label.dataset.sde = f.applies_to && !(objective && objective.parameters.includes(f.path)) ? "1" : "";
    if (p !== undefined) label.querySelector("[data-key]").dataset.preset = Array.isArray(p) ? p.join(",") : String(p);
    box.append(label);
  }
  trainConditions();
}

// Fields whose condition does not hold are hidden (sigma set: a single noise scale, no SDE, so the SDE's
// fields and the weighting go).
function trainConditions() {
  const box = $("recipe-params");
  // A field's value: what was filled in, else the chosen preset's.
  const value = (key) => {
    const el = box.querySelector(`[data-key="${key}"]`) || $(`${key}-select`);
    if (!el) return null;
    return el.value !== "" ? el.value : el.dataset.preset !== undefined ? el.dataset.preset : null;
  };
  const single = value("sigma") !== null;
  $("sde-select").closest("label").hidden = single || box.dataset.hasSde !== "1";
  for (const label of box.querySelectorAll("label")) {
    const f = recipe.fields.find((x) => x.path === label.dataset.path);
    let hide = label.dataset.sde === "1" && single;
    if (f && f.when) hide = hide || !f.when.in.map((v) => (v === null ? null : String(v))).includes(value(f.when.key));
    label.hidden = hide;
  }
}

// A labelled input for a declared parameter (a recipe field or a sampler's): a select for choices and
// booleans, a number or text input otherwise, the default shown as placeholder (or in the select's first
// option); checked by parseParam before sending. Options: the input's name, a value to restore, and what to
// call when it changes (conditions on other fields).
function paramInput(p, d, { name, value, onchange } = {}) {
  const label = document.createElement("label");
  label.title = p.help;
  label.append(p.key);
  let input;
  if (p.type === "choice" || p.type === "boolean") {
    input = document.createElement("select");
    const options = p.type === "boolean" ? ["true", "false"] : p.values;
    input.append(new Option(d === undefined || d === null ? "(default)" : `(default: ${d})`, ""));
    for (const v of options) input.append(new Option(v, v));
  } else {
    input = document.createElement("input");
    input.type = p.type === "integer" || p.type === "number" ? "number" : "text";
    if (p.type === "integer") input.step = "1";
    if (p.type === "number") input.step = "any";
    if (p.minimum !== undefined && !p.minimum_exclusive && (p.type === "integer" || p.type === "number")) input.min = p.minimum;
    if (p.maximum !== undefined && (p.type === "integer" || p.type === "number")) input.max = p.maximum;
    input.placeholder = d === undefined || d === null ? (p.default_text || "") : Array.isArray(d) ? d.join(",") : String(d);
  }
  input.dataset.key = p.key;
  if (name) input.name = name;
  if (value !== undefined) input.value = value;
  if (onchange) input.onchange = input.oninput = onchange;
  label.append(input);
  return label;
}

// A filled input's value as the declaration's type, or an error naming the field.
function parseParam(p, text, field) {
  const fail = (why) => { throw Object.assign(new Error(`${field}: "${text}" ${why}`), { field }); };
  switch (p.type) {
    case "integer": case "number": {
      const v = Number(text);
      if (!Number.isFinite(v) || (p.type === "integer" && !Number.isInteger(v))) fail(p.type === "integer" ? "is not a whole number" : "is not a number");
      if (p.minimum !== undefined && (v < p.minimum || (p.minimum_exclusive && v === p.minimum))) fail(`is below the ${p.minimum_exclusive ? "exclusive " : ""}minimum ${p.minimum}`);
      if (p.maximum !== undefined && v > p.maximum) fail(`is above the maximum ${p.maximum}`);
      return v;
    }
    case "integer_list": case "number_list": {
      const v = text.split(",").map((x) => Number(x.trim()));
      const whole = p.type === "integer_list";
      if (!v.every((x) => Number.isFinite(x) && (!whole || Number.isInteger(x))))
        fail(whole ? "must list whole numbers, comma-separated, e.g. 128,128" : "must list numbers, comma-separated");
      if (p.minimum !== undefined && v.some((x) => x < p.minimum)) fail(`holds a value below the minimum ${p.minimum}`);
      if (p.maximum !== undefined && v.some((x) => x > p.maximum)) fail(`holds a value above the maximum ${p.maximum}`);
      if (p.min_items !== undefined && v.length < p.min_items) fail(`lists ${v.length} values; at least ${p.min_items}`);
      if (p.max_items !== undefined && v.length > p.max_items) fail(`lists ${v.length} values; at most ${p.max_items}`);
      return v;
    }
    case "boolean": return text === "true";
    default: return text;
  }
}

function fillSamplers() {
  const m = models.find((x) => x.id === $("model-select").value);
  fillSelect("sampler-select", m ? m.samplers : [], (s) => {
    const entry = samplers.find((e) => e.name === s);
    return { value: s, label: entry ? `${s} — ${entry.summary}` : s };
  });
  if (m && m.default_sampler && !$("sampler-select").dataset.touched) $("sampler-select").value = m.default_sampler;
  $("sample-form").elements.n.placeholder = m && m.kind === "images" ? "16" : "1000";
  fillClassifiers();
  samplerParams();
}

// One input per declared parameter of the chosen sampler, the model's default as its placeholder; a parameter
// whose condition does not hold (rtol with a fixed-step solver) is hidden.
function samplerParams() {
  const box = $("sampler-params");
  const previous = {};
  for (const el of box.querySelectorAll("[data-key]")) if (el.value !== "") previous[el.dataset.key] = el.value;
  box.innerHTML = "";
  const m = models.find((x) => x.id === $("model-select").value);
  const entry = samplers.find((e) => e.name === $("sampler-select").value);
  if (!m || !entry) return;
  const defaults = (m.sampler_defaults || {})[entry.name] || {};
  for (const p of entry.parameters) {
    const label = paramInput(p, defaults[p.key], { value: previous[p.key], onchange: applyConditions });
    label.dataset.when = p.when ? JSON.stringify(p.when) : "";
    box.append(label);
  }
  applyConditions();
}

function applyConditions() {
  const box = $("sampler-params");
  const m = models.find((x) => x.id === $("model-select").value);
  const entry = samplers.find((e) => e.name === $("sampler-select").value);
  const defaults = m && entry ? (m.sampler_defaults || {})[entry.name] || {} : {};
  const value = (key) => {
    const el = box.querySelector(`[data-key="${key}"]`);
    return el && el.value !== "" ? el.value : defaults[key] === undefined ? null : String(defaults[key]);
  };
  for (const label of box.querySelectorAll("label")) {
    if (!label.dataset.when) continue;
    const when = JSON.parse(label.dataset.when);
    label.hidden = !when.in.map((v) => (v === null ? null : String(v))).includes(value(when.key));
  }
}

// A server-sent event stream read with fetch (EventSource cannot send the key): calls on[event](data) for
// each event and on.error(err) if the stream breaks; close() stops it.
function events(path, on) {
  const abort = new AbortController();
  (async () => {
    const r = await fetch(path, { headers: authHeaders({ Accept: "text/event-stream" }), signal: abort.signal });
    if (!r.ok) throw new Error(`${r.status} on ${path}`);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        let name = "message", data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length && on[name]) on[name]({ data: data.join("\n") });
      }
    }
    throw new Error("the event stream ended");
  })().catch((err) => { if (!abort.signal.aborted && on.error) on.error(err); });
  return { close: () => abort.abort() };
}

function watch(job) {
  if (streams.has(job.id) || ["succeeded", "failed", "canceled"].includes(job.status)) return;
  let es = null;
  es = events(`/jobs/${job.id}/events`, {
  job: (e) => {
    const j = JSON.parse(e.data);
    jobs.set(j.id, j);
    if (j.kind === "train" && j.progress && j.progress.loss !== undefined) {
      const series = losses.get(j.id) || [];
      const last = series[series.length - 1];
      if (!last || last[0] !== j.progress.step) series.push([j.progress.step, j.progress.loss]);
      losses.set(j.id, series);
    }
    render();
  },
  end: async () => {
    es.close(); streams.delete(job.id);
    await loadModels().catch(() => {});
    // A model a training job made here is selected: a score model for sampling, a classifier to guide it.
    const j = jobs.get(job.id), id = j && j.result && j.result.model_id, m = id && models.find((x) => x.id === id);
    if (m && m.role === "classifier") { fillClassifiers(); if ([...$("classifier-select").options].some((o) => o.value === id)) { $("classifier-select").value = id; fillClassifiers(); } }
    else if (m) { $("model-select").value = id; delete $("sampler-select").dataset.touched; fillSamplers(); }
    refreshJobs();
  },
  error: () => { es.close(); streams.delete(job.id); },
  });
  streams.set(job.id, es);
}

// A training job's loss series as the server keeps it (GET /jobs/{id}/metrics): there after a reload, and for
// jobs this tab did not watch; live events add to it.
const historyLoaded = new Set();
async function loadHistory(id) {
  if (historyLoaded.has(id)) return;
  historyLoaded.add(id);
  try {
    const m = await (await api("GET", `/jobs/${id}/metrics`)).json();
    const series = m.step.map((step, i) => [step, m.loss[i]]);
    const live = (losses.get(id) || []).filter(([step]) => step > (series.length ? series[series.length - 1][0] : -1));
    losses.set(id, series.concat(live));
    render();
  } catch (_) { historyLoaded.delete(id); }
}

async function refreshJobs() {
  const list = (await (await api("GET", "/jobs?limit=50")).json()).jobs;
  for (const j of list) { jobs.set(j.id, j); watch(j); }
  const latestTraining = list.find((j) => j.kind === "train");
  if (latestTraining) loadHistory(selectedJob && jobs.get(selectedJob) && jobs.get(selectedJob).kind === "train" ? selectedJob : latestTraining.id);
  render();
}

// Status changes of the jobs this page shows are announced to screen readers (a polite live region), each once.
const announced = new Map();
function announceStatuses(list) {
  const changes = [];
  for (const j of list) {
    const before = announced.get(j.id);
    if (before !== undefined && before !== j.status) changes.push(`job ${j.id} (${j.kind}) ${j.status}${j.error ? ": " + j.error : ""}`);
    announced.set(j.id, j.status);
  }
  if (changes.length) $("job-announcer").textContent = changes.join(". ");
}

function render() {
  const rows = $("job-rows");
  // The rows are rebuilt on every change: the one with the keyboard focus gets it back.
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.job : null;
  rows.innerHTML = "";
  const list = [...jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 50);
  announceStatuses(list);
  for (const j of list) {
    const tr = document.createElement("tr");
    if (j.id === selectedJob) tr.className = "selected";
    const p = j.progress;
    const frac = j.status === "succeeded" ? 1 : p ? p.fraction : 0;
    const eta = p && p.eta_seconds !== undefined && j.status === "running" ? ` · ETA ${p.eta_seconds.toFixed(0)} s` : "";
    tr.innerHTML = `<td>${j.id}</td><td>${j.kind}</td><td class="status-${j.status}">${j.status}${j.error ? ": " + j.error : ""}</td>
      <td><div class="bar"><div style="width:${(frac * 100).toFixed(1)}%"></div></div>${p ? `${p.step}/${p.total}${eta}` : ""}</td>
      <td>${p && p.loss !== undefined ? p.loss.toFixed(4) : ""}</td><td></td>`;
    if (!["succeeded", "failed", "canceled"].includes(j.status)) {
      const b = document.createElement("button");
      b.className = "small";
      b.textContent = "cancel";
      b.onclick = (e) => { e.stopPropagation(); api("POST", `/jobs/${j.id}/cancel`).then(refreshJobs); };
      tr.lastChild.appendChild(b);
    } else {
      const b = document.createElement("button");
      b.className = "small";
      b.textContent = "delete";
      b.setAttribute("aria-label", `delete job ${j.id}`);
      b.onclick = async (e) => {
        e.stopPropagation();
        try {
          await api("DELETE", `/jobs/${j.id}`);
          jobs.delete(j.id); losses.delete(j.id); historyLoaded.delete(j.id);
          if (selectedJob === j.id) selectedJob = null;
          render();
        } catch (err) { say("train-message", err.message); }
      };
      tr.lastChild.appendChild(b);
    }
    // Rows are selected by pointer or keyboard (Tab to a row, Enter or Space).
    const select = () => { selectedJob = j.id; if (j.kind === "train") loadHistory(j.id); render(); };
    tr.tabIndex = 0;
    tr.dataset.job = j.id;
    tr.setAttribute("aria-selected", String(j.id === selectedJob));
    tr.onclick = select;
    tr.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(); } };
    rows.appendChild(tr);
    if (j.id === focused) tr.focus();
  }
  drawLoss();
}

// The smallest and largest of numbers, finite ones only, without spreading them into arguments (which
// overflows the call stack from some 60 000 values).
function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo <= hi ? [lo, hi] : [0, 1];
}

function drawLoss() {
  const c = $("loss"), r = hidpi(c), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const id = selectedJob && losses.has(selectedJob) ? selectedJob : [...losses.keys()].pop();
  $("loss-job").textContent = id ? `(${id})` : "";
  const s = id ? losses.get(id) : null;
  if (!s || s.length < 2) return;
  const xs = s.map((p) => p[0]), ys = s.map((p) => p[1]);
  const [x0, x1] = extent(xs), [y0, y1] = extent(ys);
  const left = 44 * r, bottom = 20 * r, top = 8 * r, right = 10 * r;
  g.strokeStyle = "#2f6fe0"; g.lineWidth = 1.5 * r; g.beginPath();
  s.forEach(([x, y], i) => {
    const px = left + (c.width - left - right) * (x - x0) / Math.max(x1 - x0, 1e-9);
    const py = c.height - bottom - (c.height - bottom - top) * (y - y0) / Math.max(y1 - y0, 1e-9);
    i ? g.lineTo(px, py) : g.moveTo(px, py);
  });
  g.stroke();
  g.fillStyle = "#444"; g.font = `${11 * r}px system-ui`;
  g.fillText(y1.toFixed(3), 2 * r, top + 8 * r); g.fillText(y0.toFixed(3), 2 * r, c.height - bottom);
  g.fillText(`step ${x0}`, left, c.height - 5 * r);
  const last = `step ${x1}`;
  g.fillText(last, c.width - right - g.measureText(last).width, c.height - 5 * r);
  c.setAttribute("aria-label", `Training loss of ${id}: ${ys[0].toFixed(3)} at step ${xs[0]}, ${ys[ys.length - 1].toFixed(3)} at step ${xs[xs.length - 1]} (between ${y0.toFixed(3)} and ${y1.toFixed(3)}), ${s.length} points`);
}

// Sizes a canvas's bitmap to its displayed size at the device's pixel ratio (sharp on high-density screens),
// keeping its aspect; returns the ratio, to scale line widths and marks by.
function hidpi(c) {
  const r = window.devicePixelRatio || 1, w = Math.round(c.clientWidth * r);
  if (w > 0 && c.width !== w) { const h = Math.round(w * c.height / c.width); c.width = w; c.height = h; }
  return r;
}

// The learned score as arrows on a grid (GET /models/{id}/score) over the model's data, at the slider's time.
let fieldRequest = 0;
async function drawField() {
  const m = models.find((x) => x.id === $("model-select").value);
  const section = $("field");
  $("impute-form").hidden = !(m && m.kind === "points");
  const shown = m && m.kind !== "images" && m.role !== "classifier" && Array.isArray(m.data_shape) && m.data_shape.length === 1 && m.data_shape[0] === 2;
  section.hidden = !shown;
  if (!shown) return;
  const type = m.perturbation && m.perturbation.type, timed = type !== "fixed" && type !== "none";
  const slider = $("field-t");
  slider.disabled = !timed;
  const v = Number(slider.value) / 1000;
  const t = type === "ladder" ? v : Math.max(v, 1e-3);
  const mine = ++fieldRequest;
  try {
    const f = await (await api("GET", `/models/${m.id}/score?grid=24${timed ? `&t=${t}` : ""}`)).json();
    const data = (await (await api("GET", `/datasets/${encodeURIComponent(m.dataset)}/points?n=1500`)).json()).points;
    if (mine !== fieldRequest) return;  // a later slider position answered first
    $("field-t-value").textContent = timed ? `t = ${t.toFixed(3)}, σ = ${f.sigma.toPrecision(3)}` : f.sigma !== null ? `one noise level, σ = ${f.sigma}` : "no noise level";
    const c = $("field-canvas"), r = hidpi(c), g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    const [x0, x1, y0, y1] = f.box;
    const sx = (x) => ((x - x0) / (x1 - x0)) * c.width, sy = (y) => c.height - ((y - y0) / (y1 - y0)) * c.height;
    g.fillStyle = "rgba(120,130,145,.45)";
    for (const [x, y] of data) g.fillRect(sx(x) - r, sy(y) - r, 2 * r, 2 * r);
    // Arrows scaled so that the longest spans 0.9 of a cell; their colour darkens with the norm.
    const norms = f.score.map(([a, b]) => Math.hypot(a, b));
    const [, maxNorm] = extent(norms);
    const cell = c.width / f.grid;
    g.lineWidth = 1.2 * r;
    f.points.forEach(([x, y], i) => {
      const [a, b] = f.score[i], k = norms[i] / (maxNorm || 1);
      const len = 0.9 * cell * k, ang = Math.atan2(-b, a);
      const px = sx(x), py = sy(y), qx = px + len * Math.cos(ang), qy = py + len * Math.sin(ang);
      g.strokeStyle = g.fillStyle = `rgba(29,78,170,${0.35 + 0.65 * k})`;
      g.beginPath(); g.moveTo(px, py); g.lineTo(qx, qy); g.stroke();
      const h = Math.min(4 * r, 0.4 * len);
      g.beginPath(); g.moveTo(qx, qy);
      g.lineTo(qx - h * Math.cos(ang - 0.5), qy - h * Math.sin(ang - 0.5));
      g.lineTo(qx - h * Math.cos(ang + 0.5), qy - h * Math.sin(ang + 0.5));
      g.fill();
    });
    const summary = `Score field of ${m.id} at ${$("field-t-value").textContent}: ${f.grid}×${f.grid} arrows over x ${x0.toFixed(2)}…${x1.toFixed(2)}, y ${y0.toFixed(2)}…${y1.toFixed(2)}; the largest |s| is ${maxNorm.toPrecision(3)}.`;
    c.setAttribute("aria-label", summary);
    $("field-summary").textContent = summary;
    if (fieldShown !== m.id) { fieldShown = m.id; drawPerturbed(m, data, f.box, timed, type); clearDensity(); }
  } catch (err) { $("field-summary").textContent = err.message; }
}
let fieldShown = null;

// A seeded normal draw (Box–Muller on a small LCG), so that the panels do not change between redraws.
function normals(count, seed) {
  let state = seed >>> 0;
  const u = () => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return (state + 0.5) / 4294967296; };
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())), a = 2 * Math.PI * u();
    out[i] = r * Math.cos(a); if (i + 1 < count) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

// The data at four times under the model's perturbation (m(t) and σ(t) from the API), side by side.
async function drawPerturbed(m, data, box, timed, type) {
  const times = !timed ? [null] : type === "ladder" ? [0, 0.33, 0.67, 1] : [0.001, 0.1, 0.3, 1];
  const kernels = [];
  for (const t of times) {
    const f = await (await api("GET", `/models/${m.id}/score?grid=2${t === null ? "" : `&t=${t}`}&box=${box.join(",")}`)).json();
    kernels.push({ t, m: f.mean_coefficient, sigma: f.sigma || 0 });
  }
  const c = $("perturbed-canvas"), r = hidpi(c), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const [x0, x1, y0, y1] = box, w = c.width / 4, h = c.height - 16 * r;
  const z = normals(2 * data.length, 7);
  kernels.forEach((k, panel) => {
    // Each panel's box grows with the noise, so that the spread stays in view.
    const grow = 1 + 2 * k.sigma / Math.max(x1 - x0, y1 - y0);
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, hw = grow * (x1 - x0) / 2, hh = grow * (y1 - y0) / 2;
    const px = (x) => panel * w + ((x - cx + hw) / (2 * hw)) * (w - 4 * r), py = (y) => h - ((y - cy + hh) / (2 * hh)) * h;
    g.fillStyle = "rgba(47,111,224,.55)";
    data.forEach(([x, y], i) => g.fillRect(px(k.m * x + k.sigma * z[2 * i]) - r, py(k.m * y + k.sigma * z[2 * i + 1]) - r, 2 * r, 2 * r));
    g.fillStyle = "#333"; g.font = `${11 * r}px system-ui`;
    g.fillText(k.t === null ? `σ = ${k.sigma}` : `t = ${k.t}, σ = ${k.sigma.toPrecision(2)}`, panel * w + 2 * r, c.height - 3 * r);
  });
  c.setAttribute("aria-label", `The training data perturbed at ${kernels.map((k) => `σ = ${k.sigma.toPrecision(2)}`).join(", ")}: the structure blurs into the prior as σ grows.`);
}

function clearDensity() {
  const c = $("density-canvas");
  c.getContext("2d").clearRect(0, 0, c.width, c.height);
  $("density-summary").textContent = "";
}

// log p on a grid through POST /encode (the probability-flow ODE with its exact divergence in 2-D), as a heat map.
$("density-button").onclick = async (e) => {
  const m = models.find((x) => x.id === $("model-select").value);
  if (!m) return;
  e.target.disabled = true;
  $("density-summary").textContent = "integrating the ODE from each grid point…";
  try {
    const box = (await (await api("GET", `/models/${m.id}/score?grid=2`)).json()).box;
    const n = 24, pts = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) pts.push([box[0] + (box[1] - box[0]) * (j + 0.5) / n, box[2] + (box[3] - box[2]) * (i + 0.5) / n]);
    const res = await (await api("POST", `/encode?model=${m.id}`, JSON.stringify({ points: pts }))).json();
    const logp = res.nll_nats.map((v) => -v);
    const [lo, hi] = extent(logp);
    const c = $("density-canvas"), r = hidpi(c), g = c.getContext("2d");
    const cw = c.width / n, ch = c.height / n;
    logp.forEach((v, k) => {
      const i = Math.floor(k / n), j = k % n, a = (v - lo) / (hi - lo || 1);
      g.fillStyle = `rgb(${Math.round(20 + 200 * a)}, ${Math.round(30 + 170 * a * a)}, ${Math.round(80 + 60 * (1 - a))})`;
      g.fillRect(j * cw, c.height - (i + 1) * ch, Math.ceil(cw), Math.ceil(ch));
    });
    const best = logp.indexOf(hi);
    const text = `Estimated log-density of ${m.id} on a ${n}×${n} grid: from ${lo.toFixed(2)} to ${hi.toFixed(2)} nats, highest near (${pts[best][0].toFixed(2)}, ${pts[best][1].toFixed(2)}).`;
    c.setAttribute("aria-label", text);
    $("density-summary").textContent = text;
  } catch (err) { $("density-summary").textContent = err.message; } finally { e.target.disabled = false; }
};
let fieldTimer = null;
$("field-t").oninput = () => { clearTimeout(fieldTimer); fieldTimer = setTimeout(drawField, 60); };

function drawPoints(data, samples) {
  const c = $("plot"), r = hidpi(c), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const all = data.concat(samples);
  const [lo, hi] = extent(all.flatMap((p) => [p[0], p[1]]));
  const pad = 0.05 * (hi - lo || 1);
  const sx = (v) => ((v - lo + pad) / (hi - lo + 2 * pad)) * c.width;
  const sy = (v) => c.height - ((v - lo + pad) / (hi - lo + 2 * pad)) * c.height;
  g.fillStyle = "rgba(140,150,165,.45)";
  for (const [x, y] of data) g.fillRect(sx(x) - r, sy(y) - r, 2 * r, 2 * r);
  if (samples.length > 20000) {
    // Many samples: their density, a 2-D histogram on a 160 × 160 grid, shaded by the square root of the count.
    const bins = 160, counts = new Uint32Array(bins * bins);
    let most = 1;
    for (const [x, y] of samples) {
      const i = Math.floor((sx(x) / c.width) * bins), j = Math.floor((sy(y) / c.height) * bins);
      if (i >= 0 && i < bins && j >= 0 && j < bins) { const k = j * bins + i; counts[k]++; if (counts[k] > most) most = counts[k]; }
    }
    const cw = c.width / bins, ch = c.height / bins;
    for (let k = 0; k < counts.length; k++) {
      if (!counts[k]) continue;
      g.fillStyle = `rgba(47,111,224,${(0.15 + 0.85 * Math.sqrt(counts[k] / most)).toFixed(3)})`;
      g.fillRect((k % bins) * cw, Math.floor(k / bins) * ch, Math.ceil(cw), Math.ceil(ch));
    }
  } else {
    g.fillStyle = "rgba(47,111,224,.8)";
    for (const [x, y] of samples) g.fillRect(sx(x) - 1.5 * r, sy(y) - 1.5 * r, 3 * r, 3 * r);
  }
  // Axes (the same scale on both) and a legend.
  g.strokeStyle = "#c9ced6"; g.lineWidth = r; g.fillStyle = "#444"; g.font = `${10 * r}px system-ui`;
  const ticks = 5;
  for (let k = 1; k < ticks; k++) {
    const v = lo - pad + (hi - lo + 2 * pad) * k / ticks, label = v.toFixed(Math.abs(hi - lo) < 10 ? 1 : 0);
    g.beginPath(); g.moveTo(sx(v), c.height); g.lineTo(sx(v), c.height - 5 * r); g.stroke();
    g.fillText(label, sx(v) + 2 * r, c.height - 7 * r);
    g.beginPath(); g.moveTo(0, sy(v)); g.lineTo(5 * r, sy(v)); g.stroke();
    g.fillText(label, 7 * r, sy(v) - 2 * r);
  }
  const legend = [["rgba(140,150,165,.9)", `data (${data.length})`], ["rgba(47,111,224,1)", `samples (${samples.length})`]];
  g.font = `${12 * r}px system-ui`;
  legend.forEach(([colour, text], k) => {
    const y = (14 + 16 * k) * r, x = c.width - 130 * r;
    g.fillStyle = colour; g.fillRect(x, y - 8 * r, 8 * r, 8 * r);
    g.fillStyle = "#222"; g.fillText(text, x + 12 * r, y);
  });
  c.setAttribute("aria-label", `${samples.length} samples (blue) over ${data.length} points of the data (grey), on [${(lo - pad).toFixed(2)}, ${(hi + pad).toFixed(2)}] in both coordinates`);
}

$("train-form").onsubmit = async (e) => {
  e.preventDefault();
  clearFieldErrors(e.target);
  const f = new FormData(e.target);
  // Only what was filled in: the preset and the data set's defaults (GET /recipe) supply the rest. Fields are
  // checked here first, so that a blank or mistyped one is not sent as 0 or null.
  const body = { dataset: f.get("dataset") };
  for (const key of ["preset", "objective", "sde"]) if (f.get(key) && !$(`${key}-select`).closest("label").hidden) body[key] = f.get(key);
  try {
    for (const label of $("recipe-params").querySelectorAll("label:not([hidden])")) {
      const input = label.querySelector("[data-key]");
      const text = String(input.value).trim();
      if (text === "") continue;
      const field = recipe.fields.find((x) => x.path === label.dataset.path);
      const v = parseParam(field, text, field.path);
      const parts = field.path.split(".");
      if (parts.length === 2) (body[parts[0]] = body[parts[0]] || {})[parts[1]] = v;
      else body[field.path] = v;
    }
  } catch (err) { return formError(e.target, "train-message", err); }
  // One job per click: the button waits for the answer, and a retried POST carries the same Idempotency-Key.
  const button = e.target.querySelector("button[type=submit]");
  button.disabled = true;
  const key = newIdempotencyKey();
  try {
    const r = await fetch("/train", { method: "POST", headers: authHeaders({ "Content-Type": "application/json", "Idempotency-Key": key }), body: JSON.stringify(body) });
    const job = await r.json();
    if (r.status === 401) askForKey("this service needs an API key");
    if (!r.ok) throw Object.assign(new Error(job.error ? job.error.message : `${r.status}`), { field: job.error && job.error.field });
    jobs.set(job.id, job); selectedJob = job.id; watch(job); render();
    say("train-message", `queued ${job.id}`, true);
  } catch (err) { formError(e.target, "train-message", err); } finally { button.disabled = false; }
};

$("upload-form").onsubmit = async (e) => {
  e.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return say("train-message", "choose a .json, .csv, .png, .ppm, .pgm, .tar or IDX file");
  const lower = file.name.toLowerCase();
  const binary = /\.(png|ppm|pgm|idx|gz|tar|tgz)$|ubyte$/.test(lower);
  const type = lower.endsWith(".csv") ? "text/csv" : binary ? "application/octet-stream" : "application/json";
  const button = e.target.querySelector("button[type=submit]");
  button.disabled = true;   // one upload per click
  try {
    const payload = binary ? new Uint8Array(await file.arrayBuffer()) : await file.text();
    const d = await (await api("POST", `/datasets?name=${encodeURIComponent(file.name)}`, payload, type)).json();
    await loadDatasets(); $("dataset-select").value = d.id; trainFields();
    say("train-message", `uploaded ${d.count} ${d.kind} as ${d.id}`, true);
  } catch (err) { say("train-message", err.message); } finally { button.disabled = false; }
};

$("model-select").onchange = () => { fillSamplers(); drawField(); };
$("classifier-select").onchange = fillClassifiers;
$("sampler-select").onchange = () => { $("sampler-select").dataset.touched = "1"; samplerParams(); };
$("dataset-select").onchange = trainFields;
for (const id of ["preset-select", "objective-select", "sde-select"]) $(id).onchange = trainFields;

$("sample-form").onsubmit = async (e) => {
  e.preventDefault();
  stopReplay();
  clearFieldErrors(e.target);
  const f = new FormData(e.target);
  const m = models.find((x) => x.id === f.get("model"));
  if (!m) return say("sample-message", "train a model first");
  const q = new URLSearchParams({ model: m.id, sampler: f.get("sampler") });
  for (const k of ["n", "seed"]) if (f.get(k) !== "") q.set(k, f.get(k));
  if (f.get("classifier")) {
    q.set("classifier", f.get("classifier"));
    for (const k of ["label", "guidance"]) if (String(f.get(k)).trim() !== "") q.set(k, String(f.get(k)).replace(/\s+/g, ""));
  }
  // With labels, n is sent (a preset may have another default) and is the number of columns of the grid.
  if (q.has("label") && !q.has("n")) q.set("n", m.kind === "images" ? "16" : "1000");
  // Images come as one PNG, the grid the server tiles (a row per label when there are labels).
  if (m.kind === "images") q.set("format", "png");
  for (const el of $("sampler-params").querySelectorAll("[data-key]")) {
    if (el.value !== "" && !el.closest("label").hidden) q.set(el.dataset.key, el.value);
  }
  // The job reports previews (points flowing, images emerging from noise) on its event stream while it runs.
  const entry = samplers.find((x) => x.name === f.get("sampler"));
  const defaults = (m.sampler_defaults || {})[f.get("sampler")] || {};
  const steps = Number(q.get("steps") || defaults.steps || 100);
  if (entry && entry.name !== "ode") q.set("preview_every", String(Math.max(1, Math.floor(steps / 20))));
  q.set("wait", "false");
  say("sample-message", "sampling…", true);
  const frames = [];
  $("strip").innerHTML = "";
  $("replay").hidden = true;
  $("result-download").hidden = true;
  const button = e.target.querySelector("button[type=submit]");
  button.disabled = true;
  const started = performance.now();
  try {
    const job = await (await api("GET", `/samples?${q}`)).json();
    const data = m.kind === "images" ? null
      : (await (await api("GET", `/datasets/${encodeURIComponent(m.dataset)}/points?n=2000`)).json()).points;
    await new Promise((resolve, reject) => {
      const es = events(`/jobs/${job.id}/events`, {
        preview: (ev) => {
          const p = JSON.parse(ev.data);
          frames.push(p);
          if (p.png) { drawPNG(`data:image/png;base64,${p.png}`); addToStrip(p); } else if (p.points) drawPoints(data, p.points);
          say("sample-message", `step ${p.step} of ${p.total}…`, true);
        },
        end: (ev) => {
          es.close();
          const end = JSON.parse(ev.data);
          end.status === "succeeded" ? resolve() : reject(new Error(`the sampling job ${end.status || "ended"}`));
        },
        error: () => { es.close(); reject(new Error("lost the job's event stream")); },
      });
    });
    const r = await api("GET", `/jobs/${job.id}/result`);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (m.kind === "images") {
      const blob = await r.blob();
      const url = URL.createObjectURL(blob);
      drawPNG(url, () => URL.revokeObjectURL(url));
      offerDownload(blob, `${job.id}.png`);
      say("sample-message", `${job.params.n * (job.params.labels || [0]).length} images in ${seconds} s`, true);
    } else {
      const s = await r.json();
      drawPoints(data, s.points);
      offerDownload(new Blob([JSON.stringify(s)], { type: "application/json" }), `${job.id}.json`);
      say("sample-message", `${s.points.length} samples · ${s.sampler} · NFE ${s.nfe} · ${s.seconds} s`, true);
      if (frames.length > 1) {
        frames.push({ step: s.nfe, total: s.nfe, points: s.points });
        lastReplay = { data, frames };
        $("replay").hidden = false;
      }
    }
  } catch (err) { formError(e.target, "sample-message", err); } finally { button.disabled = false; }
};

// The result of the last sampling as a file, and its sampling replayed: the points flowing from noise to data
// along the sampler's steps (the preview frames the job published), or for images the strip of denoised
// estimates under the plot.
function offerDownload(blob, name) {
  const a = $("result-download");
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.textContent = `Download ${name}`;
  a.hidden = false;
}
function addToStrip(p) {
  const img = document.createElement("img");
  img.src = `data:image/png;base64,${p.png}`;
  img.alt = `denoised estimate at step ${p.step} of ${p.total}`;
  $("strip").appendChild(img);
}
let lastReplay = null, replayTimer = null;
// A replay in progress stops when something else is put on the plot.
function stopReplay() { clearTimeout(replayTimer); replayTimer = null; }
$("replay").onclick = () => {
  if (!lastReplay) return;
  stopReplay();
  const { data, frames } = lastReplay;
  let i = 0;
  const tick = () => {
    const f = frames[i];
    drawPoints(data, f.points);
    say("sample-message", `replay: step ${f.step} of ${f.total}`, true);
    replayTimer = ++i < frames.length ? setTimeout(tick, 120) : null;
  };
  tick();
};

// Points with unknown coordinates completed by the model (POST /impute): "1.5," keeps x = 1.5 and samples y.
$("impute-form").onsubmit = async (e) => {
  e.preventDefault();
  stopReplay();
  clearFieldErrors(e.target);
  const m = models.find((x) => x.id === $("model-select").value);
  if (!m || m.kind !== "points") return say("sample-message", "choose a model of points above");
  const parts = String(new FormData(e.target).get("point") || "").split(",").map((t) => t.trim());
  const dims = m.data_shape[0];
  const point = Array.from({ length: dims }, (_, i) => (parts[i] === undefined || parts[i] === "" ? null : Number(parts[i])));
  if (point.some((v) => v !== null && !Number.isFinite(v)) || point.every((v) => v === null) || parts.length > dims) {
    return formError(e.target, "sample-message", Object.assign(new Error(`point: ${dims} comma-separated coordinates, blank for the unknown ones, at least one known`), { field: "point" }));
  }
  const n = new FormData(e.target).get("n") || "500";
  const button = e.target.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const s = await (await api("POST", `/impute?model=${m.id}&n=${encodeURIComponent(n)}`, JSON.stringify({ points: [point] }), "application/json", once())).json();
    // The data behind the completions, when the model's data set is still there.
    const data = await api("GET", `/datasets/${encodeURIComponent(m.dataset)}/points?n=2000`).then((r) => r.json()).then((d) => d.points).catch(() => []);
    drawPoints(data, s.points);
    say("sample-message", `${s.points.length} completions of (${point.map((v) => (v === null ? "?" : v)).join(", ")})`, true);
  } catch (err) { formError(e.target, "sample-message", err); } finally { button.disabled = false; }
};

// Latent codes: 300 data points carried to T by the probability-flow ODE (POST /encode, with their bits/dim),
// back again (POST /decode), and 16 points decoded along the great circle between two latents (GET /interpolate).
$("latents-button").onclick = async (e) => {
  stopReplay();
  const m = models.find((x) => x.id === $("model-select").value);
  if (!m || m.kind !== "points") return say("sample-message", "choose a model of points above");
  e.target.disabled = true;
  say("sample-message", "encoding…", true);
  try {
    const data = (await (await api("GET", `/datasets/${encodeURIComponent(m.dataset)}/points?n=300&seed=1`)).json()).points;
    const enc = await (await api("POST", `/encode?model=${m.id}`, JSON.stringify({ points: data }), "application/json", once())).json();
    const dec = await (await api("POST", `/decode?model=${m.id}`, JSON.stringify({ latent: enc.latent }), "application/json", once())).json();
    const err = Math.max(...dec.points.map((p, i) => Math.hypot(p[0] - data[i][0], p[1] - data[i][1])));
    const path = await (await api("GET", `/interpolate?model=${m.id}&n=16&a=${enc.latent[0].join(",")}&b=${enc.latent[1].join(",")}`)).json();
    drawPoints(data, dec.points.concat(path.points));
    const bpd = enc.bits_per_dim.reduce((a, b) => a + b, 0) / enc.bits_per_dim.length;
    say("sample-message", `300 points encoded (mean ${bpd.toFixed(3)} bits/dim) and decoded back (largest error ${err.toExponential(2)}), and 16 decoded between two latents`, true);
  } catch (err) { say("sample-message", err.message); } finally { e.target.disabled = false; }
};

// The selected model: its checkpoint (fetched with the key, saved as a file), its likelihood on its data, deletion.
$("model-details").onclick = () => {
  const m = models.find((x) => x.id === $("model-select").value);
  if (!m) return say("sample-message", "no model selected");
  const a = m.architecture || {}, p = m.perturbation || {};
  const net = a.type === "mlp" ? `MLP ${a.dimension}-${(a.hidden || []).join("-")} ${a.activation}` : a.type === "unet" ? `U-Net ${JSON.stringify(a.image_shape)} channels ${JSON.stringify(a.channels)}` : a.type;
  const pert = Object.entries(p).filter(([k]) => k !== "type").map(([k, v]) => `${k} ${typeof v === "number" ? +v.toPrecision(4) : v}`).join(", ");
  say("sample-message", `${m.id}: ${m.role} model of ${m.dataset} (${m.kind}), ${net}, ${m.parameter_count} parameters; ${p.type}${pert ? ` (${pert})` : ""}; ${m.steps} steps in ${m.train_seconds} s, final loss ${Number(m.final_loss).toFixed(4)}; samplers ${(m.samplers || []).join(", ")} (default ${m.default_sampler})`, true);
};
$("model-download").onclick = async () => {
  const id = $("model-select").value;
  if (!id) return say("sample-message", "no model selected");
  try {
    const blob = await (await api("GET", `/models/${id}/checkpoint`)).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = `${id}.safetensors`;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    say("sample-message", `saved ${id}.safetensors (${blob.size} bytes)`, true);
  } catch (err) { say("sample-message", err.message); }
};
$("model-likelihood").onclick = async (e) => {
  const m = models.find((x) => x.id === $("model-select").value);
  if (!m) return say("sample-message", "no model selected");
  e.target.disabled = true;
  say("sample-message", "evaluating the likelihood…", true);
  try {
    const key = newIdempotencyKey();
    const job = await (await fetch("/likelihood", { method: "POST", headers: authHeaders({ "Content-Type": "application/json", "Idempotency-Key": key }),
                                                    body: JSON.stringify({ model: m.id, n: m.kind === "images" ? 16 : 500 }) }).then(async (r) => {
      if (!r.ok) { const b = await r.json().catch(() => ({})); throw new Error(b.error ? b.error.message : `${r.status}`); }
      return r;
    })).json();
    const done = await new Promise((resolve, reject) => {
      const es = events(`/jobs/${job.id}/events`, {
        job: (ev) => { const j = JSON.parse(ev.data); if (j.status === "succeeded") { es.close(); resolve(j); } else if (["failed", "canceled"].includes(j.status)) { es.close(); reject(new Error(j.error || j.status)); } },
        error: () => { es.close(); reject(new Error("lost the job's event stream")); },
      });
    });
    const res = done.result || {};
    const fmt = (v, se) => (Number.isFinite(v) ? v.toFixed(3) : "?") + (Number.isFinite(se) ? ` ± ${se.toFixed(3)}` : "");
    say("sample-message", `likelihood of ${m.id}: ${fmt(res.bits_per_dim, res.bits_per_dim_stderr)} bits/dim, NLL ${fmt(res.nll_nats, res.nll_stderr)} nats per item (n = ${done.params.n})`, true);
  } catch (err) { say("sample-message", err.message); } finally { e.target.disabled = false; }
};
$("model-delete").onclick = async () => {
  const id = $("model-select").value;
  if (!id || !confirm(`Delete model ${id} and its checkpoint?`)) return;
  try {
    await api("DELETE", `/models/${id}`);
    await loadModels();
    say("sample-message", `deleted ${id}`, true);
  } catch (err) { say("sample-message", err.message); }
};

// Data sets: a preview of the chosen one (points drawn in the plot; an image set's count and shape), deleting an
// upload.
$("dataset-preview").onclick = async () => {
  const id = $("dataset-select").value;
  try {
    const d = await (await api("GET", `/datasets/${encodeURIComponent(id)}`)).json();
    if (d.kind === "points") {
      const pts = (await (await api("GET", `/datasets/${encodeURIComponent(id)}/points?n=5000`)).json()).points;
      drawPoints(pts, []);
    } else {
      const url = URL.createObjectURL(await (await api("GET", `/datasets/${encodeURIComponent(id)}/images?n=36`)).blob());
      drawPNG(url, () => URL.revokeObjectURL(url));
    }
    say("train-message", `${id}: ${d.count !== undefined ? d.count : "generated"} ${d.kind} of shape [${d.shape}]${d.classes ? `, ${d.classes} classes` : ""} (shown in the plot below)`, true);
  } catch (err) { say("train-message", err.message); }
};
// Labels for an uploaded set (PUT /datasets/{id}/labels): one per item, so that classifiers can be trained on it.
$("labels-form").onsubmit = async (e) => {
  e.preventDefault();
  const id = $("dataset-select").value, file = $("labels-file").files[0];
  if (!id.startsWith("d_")) return say("train-message", "choose an uploaded data set: built-in ones have their labels");
  if (!file) return say("train-message", "choose an IDX label file or a JSON file of labels");
  const json = file.name.toLowerCase().endsWith(".json");
  const button = e.target.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const body = json ? await file.text() : new Uint8Array(await file.arrayBuffer());
    const d = await (await api("PUT", `/datasets/${id}/labels`, body, json ? "application/json" : "application/octet-stream")).json();
    await loadDatasets(); $("dataset-select").value = d.id; trainFields();
    say("train-message", `${d.id} now has labels: ${d.classes} classes`, true);
  } catch (err) { say("train-message", err.message); } finally { button.disabled = false; }
};

$("dataset-delete").onclick = async () => {
  const id = $("dataset-select").value;
  if (!id.startsWith("d_")) return say("train-message", "built-in data sets cannot be deleted");
  if (!confirm(`Delete data set ${id}?`)) return;
  try {
    await api("DELETE", `/datasets/${id}`);
    await loadDatasets(); trainFields();
    say("train-message", `deleted ${id}`, true);
  } catch (err) { say("train-message", err.message); }
};

// The image to complete, shown in the plot: a rectangle dragged on it with the pointer (mouse, pen or touch) is
// the region to inpaint, written into the rectangle field in the image's pixels.
let completeImage = null;  // { width, height, draw() }
function decodePNM(bytes) {  // binary P5/P6, one image, 8-bit
  let pos = 0;
  const token = () => {
    while (pos < bytes.length) {
      const ch = bytes[pos];
      if (ch === 35) { while (pos < bytes.length && bytes[pos] !== 10) pos++; } else if (ch <= 32) pos++; else break;
    }
    let t = "";
    while (pos < bytes.length && bytes[pos] > 32) t += String.fromCharCode(bytes[pos++]);
    return t;
  };
  const magic = token(), w = Number(token()), h = Number(token()), max = Number(token());
  pos++;
  if (!["P5", "P6"].includes(magic) || !(w > 0 && h > 0 && max > 0 && max < 256)) throw new Error("not a binary 8-bit PGM or PPM");
  const channels = magic === "P6" ? 3 : 1, img = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 * bytes[pos + i * channels + (channels === 3 ? k : 0)] / max);
    img.data[4 * i + 3] = 255;
  }
  return img;
}
$("complete-file").onchange = async () => {
  stopReplay();
  const file = $("complete-file").files[0];
  completeImage = null;
  if (!file || /\.gz$/i.test(file.name)) return;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let source;
    if (bytes[0] === 0x89 && bytes[1] === 0x50) source = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
    else { const d = decodePNM(bytes), t = document.createElement("canvas"); t.width = d.width; t.height = d.height; t.getContext("2d").putImageData(d, 0, 0); source = t; }
    completeImage = { width: source.width, height: source.height, draw: (rect) => {
      const c = $("plot"), r = hidpi(c), g = c.getContext("2d");
      const scale = Math.min(c.width / source.width, c.height / source.height);
      g.clearRect(0, 0, c.width, c.height); g.imageSmoothingEnabled = false;
      g.drawImage(source, 0, 0, source.width * scale, source.height * scale);
      if (rect) { g.strokeStyle = "#e0342f"; g.lineWidth = 2 * r; g.fillStyle = "rgba(224,52,47,.25)";
        g.fillRect(rect[0] * scale, rect[1] * scale, rect[2] * scale, rect[3] * scale); g.strokeRect(rect[0] * scale, rect[1] * scale, rect[2] * scale, rect[3] * scale); }
      return scale;
    } };
    completeImage.draw(null);
    say("sample-message", `${file.name}: ${source.width}×${source.height}; drag on it to choose the region to fill`, true);
  } catch (err) { say("sample-message", err.message); }
};
(() => {
  const c = $("plot");
  let start = null;
  const pixel = (e) => {
    const b = c.getBoundingClientRect(), scale = Math.min(c.width / completeImage.width, c.height / completeImage.height) / (c.width / b.width);
    return [Math.max(0, Math.min(completeImage.width, (e.clientX - b.left) / scale)), Math.max(0, Math.min(completeImage.height, (e.clientY - b.top) / scale))];
  };
  const rectFrom = (a, b) => {
    const x = Math.floor(Math.min(a[0], b[0])), y = Math.floor(Math.min(a[1], b[1]));
    return [x, y, Math.max(1, Math.ceil(Math.max(a[0], b[0])) - x), Math.max(1, Math.ceil(Math.max(a[1], b[1])) - y)];
  };
  c.addEventListener("pointerdown", (e) => { if (!completeImage) return; start = pixel(e); c.setPointerCapture(e.pointerId); });
  c.addEventListener("pointermove", (e) => { if (start && completeImage) completeImage.draw(rectFrom(start, pixel(e))); });
  c.addEventListener("pointerup", (e) => {
    if (!start || !completeImage) return;
    const rect = rectFrom(start, pixel(e));
    start = null;
    completeImage.draw(rect);
    $("complete-task").value = "inpaint"; $("complete-task").onchange();
    $("complete-rect").value = rect.join(",");
  });
})();

// Inpainting (a rectangle to fill) or colorization of an uploaded image with the chosen model: the completions
// as one PNG grid.
$("complete-task").onchange = () => {
  for (const el of document.querySelectorAll(".inpaint-only")) el.hidden = $("complete-task").value !== "inpaint";
};
$("complete-form").onsubmit = async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const m = models.find((x) => x.id === $("model-select").value);
  const file = $("complete-file").files[0];
  if (!m || m.kind !== "images") return say("sample-message", "choose an image model above");
  if (!file) return say("sample-message", "choose a PGM, PPM or PNG image of the model's size");
  const q = new URLSearchParams({ model: m.id, n: f.get("n") || "8", format: "png" });
  if (f.get("task") === "inpaint") q.set("rect", String(f.get("rect") || "").replace(/\s+/g, "") || "0,14,28,14");
  const button = e.target.querySelector("button[type=submit]");
  button.disabled = true;
  say("sample-message", `${f.get("task") === "inpaint" ? "inpainting" : "colorizing"}…`, true);
  try {
    const r = await api("POST", `/${f.get("task")}?${q}`, new Uint8Array(await file.arrayBuffer()), "application/octet-stream", once());
    const url = URL.createObjectURL(await r.blob());
    drawPNG(url, () => URL.revokeObjectURL(url));
    say("sample-message", `${q.get("n")} completions · job ${r.headers.get("X-Job-Id")}`, true);
  } catch (err) { say("sample-message", err.message); } finally { button.disabled = false; }
};

// A PNG (a preview's, as a data: URL, or the samples') drawn into the plot, pixels kept sharp.
function drawPNG(src, done) {
  const img = new Image();
  img.onload = () => {
    if (done) done();
    const c = $("plot"), g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    g.imageSmoothingEnabled = false;
    const scale = Math.min(c.width / img.width, c.height / img.height);
    g.drawImage(img, 0, 0, img.width * scale, img.height * scale);
  };
  img.src = src;
}

// Loads what the page shows (again after a key is entered).
function start() {
  // The registries first (the train form and the sampler form are built from them), then what uses them.
  loadRegistries()
    .then(() => Promise.all([
      loadDatasets().then(trainFields).catch((e) => say("train-message", e.message)),
      loadModels().catch((e) => say("sample-message", e.message)),
    ]))
    .catch((e) => say("train-message", `the recipe and samplers could not be loaded: ${e.message}`));
  refreshJobs().catch(() => {});
}
start();
setInterval(() => refreshJobs().catch(() => {}), 10000);

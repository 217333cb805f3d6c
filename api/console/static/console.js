// The annolog console: a document's pages (pdf.js) with every annotation of a layer drawn
// over them (draw.js), tools that edit through live sync (annolog-client.js), who is here,
// what changed, and a slider back through the layer's history. It uses the public API only.
import * as pdfjs from "./vendor/pdfjs/pdf.min.mjs";
import { AnnologClient, jwtClaims, newAnnotationId } from "./annolog-client.js";
import { bboxAround, drawAnnotation, moved, rotation, svg } from "./draw.js";

const VENDOR = new URL("./vendor/pdfjs/", import.meta.url).href;
pdfjs.GlobalWorkerOptions.workerSrc = VENDOR + "pdf.worker.min.mjs";
const STORAGE_KEY = "annolog.credential"; // sessionStorage only, and only when asked
const MAX_ACTIVITY = 50;
const $ = (selector) => document.querySelector(selector);

const state = {
  client: null,
  claims: null, // a JWT's claims; null for the server token
  documentId: null,
  layerName: "",
  layer: null,
  session: null,
  pdf: null,
  pages: [], // {index, width, height, div, overlay, g}
  records: new Map(), // id -> {record, version, pending}
  revisions: [], // [{revision, at}] of the layer, ascending
  viewing: null, // null: live; else the revision shown (read-only)
  tool: "select",
  selected: null,
  images: new Map(), // attachment id -> object URL (null while loading)
  drawn: new Map(), // id -> its <g> in the live view
  caughtUp: false,
  painter: null, // the IntersectionObserver that paints pages near the view
};

const canWrite = () => !state.claims || state.claims.permissions?.includes("write");
// What the page shows may be changed: the live layer only, never a past revision.
const mayChange = () => canWrite() && state.viewing === null;
const isServerToken = () => !state.claims;

// --- signing in --------------------------------------------------------------------------

function looksLikeJwt(text) {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(text) && text.startsWith("eyJ");
}

async function signIn(credential) {
  const options = looksLikeJwt(credential) ? { jwt: credential } : { token: credential };
  const client = new AnnologClient(options);
  const claims = options.jwt ? jwtClaims(options.jwt) : null;
  if (claims) {
    await client.document(claims.document_id).info(); // checks the token
  } else {
    await client.listDocuments({ pageSize: 1 });
  }
  state.client = client;
  state.claims = claims;
  $("#login").hidden = true;
  $("#session").hidden = false;
  $("#tools").hidden = false;
  $("#read-only").hidden = canWrite();
  for (const button of document.querySelectorAll("#tools button[data-tool]")) {
    button.disabled = !canWrite() && button.dataset.tool !== "select";
  }
  $("#new-layer").hidden = !isServerToken();
  await fillDocuments();
}

async function fillDocuments() {
  const select = $("#documents");
  select.replaceChildren();
  const wanted = new URLSearchParams(location.hash.slice(1));
  let ids;
  if (state.claims) {
    const documentHandle = state.client.document(state.claims.document_id);
    const title = await documentHandle.properties().then((p) => p.data?.title ?? "",
      () => ""); // its title is a nicety: read-document may be all the JWT has
    ids = [{ document_id: state.claims.document_id, title }];
  } else {
    ids = [];
    let cursor;
    do { // every page of the list, so every document can be picked
      const page = await state.client.listDocuments({ pageSize: 100, cursor });
      ids.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
  }
  for (const row of ids) {
    const option = new Option(`${row.title || "(untitled)"} · ${row.document_id}`,
      row.document_id);
    select.append(option);
  }
  select.disabled = Boolean(state.claims);
  const pick = wanted.get("document") ?? ids[0]?.document_id;
  if (!pick) {
    $("#pages").replaceChildren(message("No documents yet: upload a PDF with POST /api/documents."));
    return;
  }
  select.value = pick;
  await fillLayers(pick, state.claims?.layer ?? wanted.get("layer") ?? "");
}

async function fillLayers(documentId, layerName) {
  const select = $("#layers");
  select.replaceChildren(new Option("(default layer)", ""));
  let names = [];
  if (state.claims) {
    names = state.claims.layer ? [state.claims.layer] : [];
  } else {
    names = await state.client.document(documentId).layers();
  }
  for (const name of names) select.append(new Option(name, name));
  if (layerName && !names.includes(layerName)) select.append(new Option(layerName, layerName));
  select.value = layerName;
  select.disabled = Boolean(state.claims);
  await openLayer(documentId, layerName);
}

function message(text) {
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = text;
  return p;
}

// --- the document and its pages ---------------------------------------------------------

async function openLayer(documentId, layerName) {
  state.session?.close();
  Object.assign(state, { documentId, layerName, records: new Map(), revisions: [],
    viewing: null, selected: null, caughtUp: false });
  state.client.password = $("#pdf-password").value || null;
  const documentHandle = state.client.document(documentId);
  state.layer = documentHandle.layer(layerName);
  history.replaceState(null, "", "#" + new URLSearchParams(
    { document: documentId, ...(layerName ? { layer: layerName } : {}) }));
  $("#activity").replaceChildren();
  showSelected();
  showTimeline();
  try {
    const pdfBytes = await documentHandle.sourcePdf();
    state.pdf = await pdfjs.getDocument({ data: new Uint8Array(pdfBytes),
      password: state.client.password ?? undefined, isEvalSupported: false,
      standardFontDataUrl: VENDOR + "standard_fonts/", wasmUrl: VENDOR + "wasm/",
      enableXfa: false }).promise;
  } catch (error) {
    $("#pages").replaceChildren(message(`This document cannot be shown: ${error.message ?? error}`));
    return;
  }
  await renderPages();
  startSync();
}

async function renderPages() {
  const container = $("#pages");
  container.replaceChildren();
  state.pages = [];
  state.painter?.disconnect();
  // Pages are painted when they come near the view and dropped when they leave it: a
  // canvas per page of a long document would hold hundreds of megabytes.
  state.painter = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const page = state.pages[Number(entry.target.dataset.pageIndex)];
      if (entry.isIntersecting) paint(page);
      else unpaint(page);
    }
  }, { root: container, rootMargin: "150% 0px" });
  const available = Math.max(300, container.clientWidth - 40);
  for (let index = 0; index < state.pdf.numPages; index++) {
    const page = await state.pdf.getPage(index + 1);
    const [x1, y1, x2, y2] = page.view; // the CropBox: Instant JSON's page space
    const width = x2 - x1;
    const height = y2 - y1;
    const scale = Math.min(1.6, available / (page.rotate % 180 ? height : width));
    const viewport = page.getViewport({ scale });
    const div = document.createElement("div");
    div.className = "page";
    div.dataset.pageIndex = String(index);
    div.style.width = `${viewport.width}px`;
    div.style.height = `${viewport.height}px`;
    div.style.setProperty("--total-scale-factor", String(scale));
    const shown = page.rotate % 180 ? [height, width] : [width, height];
    const overlay = svg("svg", { class: "overlay", viewBox: `0 0 ${shown[0]} ${shown[1]}` });
    const g = svg("g", { transform: rotation(width, height, page.rotate) });
    overlay.append(g);
    div.append(overlay);
    container.append(div);
    const entry = { index, width, height, div, overlay, g, pdfPage: page, viewport,
      painted: null };
    state.pages.push(entry);
    attachTools(entry);
    state.painter.observe(div);
  }
  setTool(state.tool);
}

/** Draw a page's canvas and text layer (under the overlay), once while it is near. */
async function paint(page) {
  if (page.painted) return;
  const { pdfPage, viewport } = page;
  const ratio = window.devicePixelRatio || 1;
  const canvas = document.createElement("canvas");
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = `${viewport.width}px`;
  canvas.style.height = `${viewport.height}px`;
  const textLayer = document.createElement("div");
  textLayer.className = "textLayer";
  page.div.prepend(canvas, textLayer);
  // The PDF's own annotations are records of the layer since upload: the overlay draws them.
  const task = pdfPage.render({ canvas, viewport, annotationMode: pdfjs.AnnotationMode.DISABLE,
    transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : undefined });
  const painted = { canvas, textLayer, task };
  page.painted = painted;
  try {
    await task.promise;
    await new pdfjs.TextLayer({ textContentSource: pdfPage.streamTextContent(),
      container: textLayer, viewport }).render();
    if (page.painted === painted) page.div.dataset.painted = "true"; // not dropped meanwhile
  } catch (error) {
    if (error?.name !== "RenderingCancelledException") throw error;
  }
}

function unpaint(page) {
  if (!page.painted) return;
  page.painted.task.cancel();
  page.painted.canvas.remove();
  page.painted.textLayer.remove();
  page.painted = null;
  delete page.div.dataset.painted;
}

// --- live sync ---------------------------------------------------------------------------

function startSync() {
  const session = state.layer.sync({ revision: 0 });
  state.session = session;
  session.addEventListener("state", (event) => {
    const badge = $("#connection");
    badge.textContent = event.detail.state === "closed" && event.detail.reason
      ? `closed: ${event.detail.reason}` : event.detail.state;
    badge.className = `badge ${event.detail.state}`;
  });
  session.addEventListener("change", (event) => {
    if (session === state.session) applyChange(event.detail);
  });
  session.addEventListener("caughtup", () => {
    state.caughtUp = true;
    redrawAll();
    showTimeline();
  });
  session.addEventListener("presence", (event) => showPresence(event.detail));
  session.addEventListener("error", (event) => note(`server: ${event.detail.reason}`));
}

function applyChange(change) {
  const last = state.revisions.at(-1);
  if (!last || last.revision !== change.revision) {
    state.revisions.push({ revision: change.revision, at: change.at });
  }
  const held = state.records.get(change.id);
  if (change.kind === "deleted") {
    state.records.delete(change.id);
  } else {
    state.records.set(change.id, { record: change.record, version: change.version,
      pending: held?.pending ?? false });
  }
  if (!state.caughtUp) return; // drawn once, at caught_up
  if (state.viewing === null) {
    redraw(change.id, { flash: true });
    if (state.selected === change.id) showSelected();
  }
  showTimeline();
  const who = change.user_id ?? change.record?.updatedBy ?? "server token";
  const type = String(change.record?.content?.type ?? "").replace("pspdfkit/", "");
  const page = (change.record?.content?.pageIndex ?? 0) + 1;
  note(`${who} ${change.kind} ${type} ${change.id} on page ${page}`, change.at);
}

function note(text, at) {
  const item = document.createElement("li");
  const time = at ? new Date(at).toLocaleTimeString() : new Date().toLocaleTimeString();
  item.textContent = `${time} ${text}`;
  const list = $("#activity");
  list.prepend(item);
  while (list.children.length > MAX_ACTIVITY) list.lastChild.remove();
}

function showPresence(clients) {
  const list = $("#presence");
  list.replaceChildren(...clients.map((client) => {
    const item = document.createElement("li");
    const you = client.clientId === state.session?.clientId ? " (you)" : "";
    item.textContent = `${client.userId ?? "server token"}${you}`;
    return item;
  }));
}

// --- drawing -----------------------------------------------------------------------------

const drawContext = { imageUrl };

function imageUrl(attachmentId) {
  if (!attachmentId) return null;
  if (state.images.has(attachmentId)) return state.images.get(attachmentId);
  state.images.set(attachmentId, null);
  const path = `/api/documents/${encodeURIComponent(state.documentId)}/attachments/`
    + encodeURIComponent(attachmentId);
  state.client.request("GET", path).then((response) => response.blob()).then((blob) => {
    state.images.set(attachmentId, URL.createObjectURL(blob));
    redrawAll();
  }).catch(() => { /* drawn as a grey box */ });
  return null;
}

function clearOverlays() {
  for (const page of state.pages) page.g.replaceChildren();
  state.drawn.clear();
}

function redrawAll() {
  if (state.viewing !== null) return;
  clearOverlays();
  for (const id of state.records.keys()) draw(id);
  outlineSelected();
}

/** Draw one annotation again (or remove it), as its record now is. */
function redraw(id, { flash = false } = {}) {
  const group = draw(id);
  if (group && flash) group.classList.add("flash");
  outlineSelected();
}

function draw(id) {
  state.drawn.get(id)?.remove(); // a map, not a query: a layer may hold 10,000 of them
  state.drawn.delete(id);
  const held = state.records.get(id);
  if (!held) return null;
  const group = drawOn(held.record.content, id);
  if (!group) return null;
  if (held.pending) group.classList.add("pending");
  state.drawn.set(id, group);
  return group;
}

function drawOn(content, id) {
  const page = state.pages[content.pageIndex];
  if (!page) return null;
  const group = drawAnnotation({ ...content, id }, drawContext);
  page.g.append(group);
  return group;
}

function outlineSelected() {
  for (const old of document.querySelectorAll("#pages rect.selection")) old.remove();
  const held = state.selected && state.records.get(state.selected);
  if (!held || state.viewing !== null) return;
  const content = held.record.content;
  const [left, top, width, height] = content.bbox ?? [0, 0, 0, 0];
  state.pages[content.pageIndex]?.g.append(svg("rect", { class: "selection",
    x: left - 2, y: top - 2, width: width + 4, height: height + 4 }));
}

// --- the history slider ------------------------------------------------------------------

function showTimeline() {
  const slider = $("#timeline");
  const count = state.revisions.length;
  slider.max = String(count);
  slider.disabled = count === 0;
  if (state.viewing === null) slider.value = String(count);
  const label = $("#timeline-label");
  if (state.viewing === null) {
    const last = state.revisions.at(-1);
    label.textContent = last ? `live · revision ${last.revision}` : "live · no changes yet";
  }
  $("#back-to-live").hidden = state.viewing === null;
  $("#restore").hidden = state.viewing === null || !isServerToken();
  document.body.classList.toggle("history-view", state.viewing !== null);
}

let timelineTimer = null;
function onTimeline() {
  clearTimeout(timelineTimer);
  timelineTimer = setTimeout(async () => {
    const position = Number($("#timeline").value);
    if (position >= state.revisions.length) { backToLive(); return; }
    const { revision, at } = state.revisions[Math.max(0, position - 1)] ??
      { revision: 0, at: null };
    state.viewing = revision;
    showTimeline();
    showSelected();  // no editing in a past view
    $("#timeline-label").textContent = `revision ${revision}` +
      (at ? ` · ${new Date(at).toLocaleString()}` : " · before any change") + " · read-only";
    const { document: past } = await state.layer.instantJson({ revision });
    if (state.viewing !== revision) return; // the slider moved on meanwhile
    clearOverlays();
    for (const content of past.annotations ?? []) drawOn(content, content.id);
  }, 120);
}

function backToLive() {
  state.viewing = null;
  showTimeline();
  redrawAll();
  showSelected();
}

async function restoreShown() {
  const revision = state.viewing;
  if (revision === null) return;
  if (!window.confirm(`Restore the layer to revision ${revision}? Every change since is ` +
                      "undone by new changes (the history keeps them all).")) return;
  try {
    const answer = await state.layer.restore(revision);
    note(`restored revision ${revision} (${answer.data.changed} changes appended)`);
  } catch (error) {
    note(`restore refused: ${error.reason ?? error.message}`);
  }
  backToLive();
}

// --- tools -------------------------------------------------------------------------------

function setTool(tool) {
  state.tool = tool;
  for (const button of document.querySelectorAll("#tools button[data-tool]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
  }
  const drawing = !["select", "delete", "highlight"].includes(tool);
  for (const page of state.pages) {
    page.div.className = `page tool-${tool}${drawing ? " tool-draw" : ""}`;
  }
}

/** A pointer event's position in the page's own space (the overlay's <g>). */
function pagePoint(page, event) {
  const point = new DOMPoint(event.clientX, event.clientY);
  const local = point.matrixTransform(page.g.getScreenCTM().inverse());
  return [round(local.x), round(local.y)];
}

const round = (n) => Math.round(n * 100) / 100;
const colour = () => $("#colour").value.toUpperCase();

function attachTools(page) {
  let gesture = null;
  page.overlay.addEventListener("pointerdown", (event) => {
    if (state.viewing !== null || event.button !== 0) return;
    const start = pagePoint(page, event);
    const target = event.target.closest?.("g.annotation");
    if (state.tool === "select" || state.tool === "delete") {
      if (!target) return;
      gesture = { kind: state.tool, id: target.dataset.id, start, group: target };
    } else if (["ink", "rectangle", "ellipse"].includes(state.tool)) {
      gesture = { kind: state.tool, start, points: [start], preview: null };
    } else if (state.tool === "note" || state.tool === "text") {
      create(page, state.tool, start);
      return;
    } else {
      return;
    }
    page.overlay.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  page.overlay.addEventListener("pointermove", (event) => {
    if (!gesture) return;
    const point = pagePoint(page, event);
    if (gesture.kind === "select") {
      gesture.group.setAttribute("transform",
        `translate(${point[0] - gesture.start[0]} ${point[1] - gesture.start[1]})`);
    } else if (gesture.kind !== "delete") {
      gesture.points.push(point);
      gesture.preview?.remove();
      gesture.preview = preview(page, gesture);
    }
  });
  page.overlay.addEventListener("pointerup", (event) => {
    if (!gesture) return;
    const done = gesture;
    gesture = null;
    done.preview?.remove();
    const end = pagePoint(page, event);
    if (done.kind === "delete") { remove(done.id); return; }
    if (done.kind === "select") {
      const dx = end[0] - done.start[0];
      const dy = end[1] - done.start[1];
      done.group.removeAttribute("transform");
      if (Math.hypot(dx, dy) < 1) { select(done.id); return; }
      move(done.id, dx, dy);
      return;
    }
    done.points.push(end);
    finishShape(page, done);
  });
  page.div.addEventListener("mouseup", () => {
    if (state.tool === "highlight" && state.viewing === null) highlightSelection(page);
  });
}

function preview(page, gesture) {
  const [x0, y0] = gesture.start;
  const [x1, y1] = gesture.points.at(-1);
  const style = { stroke: colour(), "stroke-width": 2, fill: "none", class: "preview" };
  let element;
  if (gesture.kind === "ink") {
    element = svg("polyline", { ...style, points: gesture.points.map((p) => p.join(",")).join(" ") });
  } else if (gesture.kind === "rectangle") {
    element = svg("rect", { ...style, x: Math.min(x0, x1), y: Math.min(y0, y1),
      width: Math.abs(x1 - x0), height: Math.abs(y1 - y0) });
  } else {
    element = svg("ellipse", { ...style, cx: (x0 + x1) / 2, cy: (y0 + y1) / 2,
      rx: Math.abs(x1 - x0) / 2, ry: Math.abs(y1 - y0) / 2 });
  }
  page.g.append(element);
  return element;
}

const now = () => new Date().toISOString();

const TYPES = { note: "pspdfkit/note", text: "pspdfkit/text", ink: "pspdfkit/ink",
  rectangle: "pspdfkit/shape/rectangle", ellipse: "pspdfkit/shape/ellipse",
  highlight: "pspdfkit/markup/highlight" };

function base(page, tool, bbox) {
  return { v: 2, type: TYPES[tool], pageIndex: page.index, bbox, opacity: 1,
    createdAt: now(), updatedAt: now() };
}

function finishShape(page, gesture) {
  const [x0, y0] = gesture.start;
  const [x1, y1] = gesture.points.at(-1);
  if (gesture.kind === "ink") {
    if (gesture.points.length < 2) return;
    const lineWidth = 3;
    send("create", {
      ...base(page, "ink", bboxAround(gesture.points, lineWidth)), lineWidth,
      strokeColor: colour(), isDrawnNaturally: false,
      lines: { points: [gesture.points], intensities: [gesture.points.map(() => 1)] },
    });
    return;
  }
  const bbox = [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
  if (bbox[2] < 3 || bbox[3] < 3) return; // a click, not a shape
  send("create", { ...base(page, gesture.kind, bbox), strokeWidth: 2, strokeColor: colour() });
}

function create(page, tool, [x, y]) {
  if (tool === "note") {
    send("create", { ...base(page, "note", [x, y, 24, 24]), text: { format: "plain",
      value: "Note" }, icon: "comment", color: "#FFD83F" });
  } else {
    send("create", { ...base(page, "text", [x, y, 160, 28]), text: { format: "plain",
      value: "Text" }, fontSize: 14, font: "Helvetica", fontColor: colour(),
      horizontalAlign: "left", verticalAlign: "top" });
  }
}

function highlightSelection(page) {
  const selection = window.getSelection();
  if (!selection || selection.isCollapsed) return;
  const rects = [];
  for (let n = 0; n < selection.rangeCount; n++) {
    for (const rect of selection.getRangeAt(n).getClientRects()) {
      if (rect.width < 1 || rect.height < 1) continue;
      const [left, top] = pagePoint(page, { clientX: rect.left, clientY: rect.top });
      const [right, bottom] = pagePoint(page, { clientX: rect.right, clientY: rect.bottom });
      rects.push([Math.min(left, right), Math.min(top, bottom), Math.abs(right - left),
        Math.abs(bottom - top)].map(round));
    }
  }
  selection.removeAllRanges();
  if (!rects.length) return;
  const corners = rects.flatMap(([x, y, w, h]) => [[x, y], [x + w, y + h]]);
  send("create", { ...base(page, "highlight", bboxAround(corners)), rects,
    color: "#FFFF00", blendMode: "multiply" });
}

function move(id, dx, dy) {
  const held = state.records.get(id);
  if (!held) return;
  send("update", { ...moved(held.record.content, dx, dy), updatedAt: now() }, id);
}

function remove(id) {
  send("delete", null, id);
}

/** Every edit: drawn at once as pending, then confirmed (or undone with the reason). */
async function send(op, content, id) {
  if (!state.session || state.viewing !== null) return;  // a past revision is read-only
  const previous = id ? state.records.get(id) : undefined;
  let promise;
  if (op === "create") {
    const record = { id: null, content, createdBy: null, updatedBy: null, group: null };
    id = newAnnotationId();
    record.id = id;
    promise = state.session.create(content, { id });
    state.records.set(id, { record, version: null, pending: true });
  } else if (op === "update") {
    promise = state.session.update(id, content, { baseVersion: previous?.version });
    state.records.set(id, { record: { ...previous.record, content }, version: previous.version,
      pending: true });
  } else {
    promise = state.session.delete(id, { baseVersion: previous?.version });
    state.records.delete(id);
  }
  redraw(id);
  try {
    const confirmed = await promise;
    if (op === "delete") {
      state.records.delete(id);
    } else {
      state.records.set(id, { record: confirmed.record, version: confirmed.version,
        pending: false });
    }
    if (state.selected === id) showSelected();
  } catch (error) {
    if (previous) state.records.set(id, { ...previous, pending: false });
    else state.records.delete(id);
    note(`rejected: ${error.reason ?? error.message}`);
    if (error.current) {
      state.records.set(id, { record: error.current, version: error.current.version,
        pending: false });
    }
  }
  if (state.viewing === null) redraw(id);
}

// --- the selected annotation -------------------------------------------------------------

async function select(id) {
  state.selected = id;
  outlineSelected();
  await showSelected();
}

async function showSelected() {
  const panel = $("#selected");
  const id = state.selected;
  const held = id && state.records.get(id);
  if (!held) {
    panel.replaceChildren(message("Select an annotation."));
    return;
  }
  const content = held.record.content;
  const facts = [["id", id], ["type", content.type], ["page", content.pageIndex + 1],
    ["version", held.version ?? "pending"], ["created by", who(held.record.createdBy)],
    ["updated by", who(held.record.updatedBy)]];
  const list = document.createElement("dl");
  for (const [term, value] of facts) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    list.append(dt, dd);
  }
  const parts = [list];
  if (mayChange() && ["pspdfkit/note", "pspdfkit/text"].includes(content.type)) {
    const editor = document.createElement("textarea");
    editor.value = typeof content.text === "string" ? content.text : content.text?.value ?? "";
    const save = button("Save text", () => send("update", { ...content, updatedAt: now(),
      text: { format: "plain", value: editor.value } }, id));
    parts.push(editor, save);
  }
  if (mayChange()) parts.push(button("Delete", () => remove(id)));
  const heading = document.createElement("h2");
  heading.textContent = "Its history";
  const versions = document.createElement("ol");
  versions.className = "versions";
  parts.push(heading, versions);
  panel.replaceChildren(...parts);
  try {
    const changes = await state.layer.history(id);
    if (state.selected !== id) return;
    versions.replaceChildren(...changes.map((change, n) => {
      const item = document.createElement("li");
      const what = n > 0 && change.kind === "updated"
        ? ` (${changedKeys(changes[n - 1].record.content, change.record.content)})` : "";
      item.textContent = `v${change.version} ${change.kind}${what} by ` +
        `${who(change.user_id)} · ${new Date(change.at).toLocaleString()} ` +
        `· revision ${change.revision}`;
      return item;
    }));
  } catch (error) {
    versions.replaceChildren(message(`no history yet (${error.reason ?? error.message})`));
  }
}

/** Who wrote a version: a JWT's user_id, or the server token (which names no user). */
function who(user) {
  return user ?? "server token";
}

/** What an update changed: the content keys whose values differ (timestamps aside). */
function changedKeys(before, after) {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changed = [...keys].filter((key) => !["createdAt", "updatedAt"].includes(key) &&
    JSON.stringify(before?.[key]) !== JSON.stringify(after?.[key]));
  return changed.length ? changed.join(", ") : "no content change";
}

function button(label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

// --- downloads ---------------------------------------------------------------------------

async function downloadPdf() {
  try {
    const blob = await state.layer.pdf(state.viewing !== null ? { revision: state.viewing } : {});
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `${state.documentId}${state.layerName ? "-" + state.layerName : ""}` +
      `${state.viewing !== null ? "-revision-" + state.viewing : ""}.pdf`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    note(`download refused: ${error.reason ?? error.message}`);
  }
}

// --- wiring ------------------------------------------------------------------------------

function signOut() {
  state.session?.close();
  sessionStorage.removeItem(STORAGE_KEY);
  location.hash = "";
  location.reload();
}

function wire() {
  $("#login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const credential = $("#credential").value.trim();
    $("#login-error").textContent = "";
    try {
      await signIn(credential);
      if ($("#remember").checked) sessionStorage.setItem(STORAGE_KEY, credential);
      $("#credential").value = "";
    } catch (error) {
      $("#login-error").textContent = `Not signed in: ${error.reason ?? error.message}`;
    }
  });
  $("#documents").addEventListener("change", (event) => fillLayers(event.target.value, ""));
  $("#layers").addEventListener("change", (event) =>
    openLayer(state.documentId, event.target.value));
  $("#new-layer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("#new-layer-name").value.trim();
    if (!name) return;
    try {
      await state.client.document(state.documentId).createLayer(name);
      $("#new-layer-name").value = "";
      await fillLayers(state.documentId, name);
    } catch (error) {
      note(`layer not created: ${error.reason ?? error.message}`);
    }
  });
  $("#pdf-password").addEventListener("change", () =>
    openLayer(state.documentId, state.layerName));
  $("#download").addEventListener("click", downloadPdf);
  $("#sign-out").addEventListener("click", signOut);
  $("#timeline").addEventListener("input", onTimeline);
  $("#back-to-live").addEventListener("click", backToLive);
  $("#restore").addEventListener("click", restoreShown);
  for (const element of document.querySelectorAll("#tools button[data-tool]")) {
    element.addEventListener("click", () => setTool(element.dataset.tool));
  }
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
    if (!typing && event.key === "Delete" && state.selected && mayChange()) remove(state.selected);
  });
  const kept = sessionStorage.getItem(STORAGE_KEY);
  if (kept) signIn(kept).catch(() => sessionStorage.removeItem(STORAGE_KEY));
}

wire();

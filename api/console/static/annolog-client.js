// annolog-client: the open client of annolog's HTTP API and live sync protocol.
// One ES module, no dependencies, no build step: import it from the server
// (`/console/annolog-client.js`) or copy it. Works in browsers and in Node.js >= 22
// (Node 20 with --experimental-websocket). Docs: docs/client.md.
//
//   import { AnnologClient } from "/console/annolog-client.js";
//   const client = new AnnologClient({ token: "secret" });      // or { jwt }
//   const layer = client.document("doc-1").layer("review");     // "" is the default layer
//   const session = layer.sync({ revision: 0 });
//   session.addEventListener("change", (e) => console.log(e.detail));
//   session.addEventListener("comment", (e) => console.log(e.detail)); // threads' changes
//   await session.create({ type: "pspdfkit/note", ... });       // resolves once persisted

/** @typedef {{id: string, content: object, createdBy: ?string, updatedBy: ?string,
 *             group: ?string}} AnnotationRecord */
/** @typedef {{revision: number, id: string, version: number,
 *             kind: "created"|"updated"|"recreated"|"deleted", at: string,
 *             user_id: ?string, record: AnnotationRecord, of?: "comment"}} Change */
/** @typedef {{clientId: string, userId: ?string}} PresentClient */

/** Close codes the server uses on a sync socket. */
export const CLOSE_CODES = Object.freeze({
  TOKEN_EXPIRED: 4001, // reconnect with a fresh JWT
  TOKEN_REVOKED: 4003, // the JWT was revoked: do not reconnect with it
  BEHIND: 4008, // the client read too slowly: reconnect from the last revision
});

/** An answer other than 2xx: `status`, and the server's `reason` and `description`. */
export class AnnologError extends Error {
  /** @param {number} status @param {string} reason @param {object} [body] */
  constructor(status, reason, body) {
    super(`${status}: ${reason}`);
    this.name = "AnnologError";
    this.status = status;
    this.reason = reason;
    this.body = body;
  }
}

/** A change sent over sync that the server refused: `reason`, and `current` (the stored
 * record) when it was based on an old version. */
export class ChangeRejected extends Error {
  /** @param {object} reply */
  constructor(reply) {
    super(reply.reason);
    this.name = "ChangeRejected";
    this.reason = reply.reason;
    this.current = reply.current ?? null;
    this.changeId = reply.changeId;
  }
}

const encodeSegment = (s) => encodeURIComponent(s);

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The claims of a JWT, read without checking its signature (the server checks it). */
export function jwtClaims(jwt) {
  const part = String(jwt).split(".")[1];
  if (!part) throw new Error("not a JWT: it has no payload part");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

let changeCounter = 0;
const newChangeId = () => `c${Date.now().toString(36)}-${(changeCounter++).toString(36)}`;

/** A fresh annotation id (a ULID-like, time-ordered string). */
export function newAnnotationId() {
  const time = Date.now().toString(32).padStart(10, "0");
  const random = Array.from(crypto.getRandomValues(new Uint8Array(10)),
    (b) => (b % 32).toString(32)).join("");
  return (time + random).toUpperCase();
}

export class AnnologClient {
  /**
   * @param {{baseUrl?: string, token?: string, jwt?: string, password?: string,
   *          fetch?: typeof fetch, WebSocket?: typeof WebSocket}} options
   *   `baseUrl` defaults to the page's origin; give the server token or a client JWT;
   *   `password` for password-protected documents.
   */
  constructor({ baseUrl, token, jwt, password, fetch: fetchImpl, WebSocket: wsImpl } = {}) {
    if (!token && !jwt) throw new Error("give the server token or a client JWT");
    this.baseUrl = (baseUrl ?? globalThis.location?.origin ?? "").replace(/\/$/, "");
    this.token = token ?? null;
    this.jwt = jwt ?? null;
    this.password = password ?? null;
    this._fetch = fetchImpl ?? globalThis.fetch.bind(globalThis);
    this._WebSocket = wsImpl ?? globalThis.WebSocket;
  }

  /** The Authorization header value this client sends. */
  get authorization() {
    return this.jwt ? `Bearer ${this.jwt}` : `Token token="${this.token}"`;
  }

  /** The JWT's claims (document_id, layer, permissions, …), or null for the server token. */
  get claims() {
    return this.jwt ? jwtClaims(this.jwt) : null;
  }

  /**
   * One request. JSON bodies from `json`; anything else from `body`. Throws AnnologError
   * for an answer other than 2xx.
   * @returns {Promise<Response>}
   */
  async request(method, path, { json, body, headers = {}, query } = {}) {
    const url = new URL(this.baseUrl + path, globalThis.location?.href ?? this.baseUrl);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const sent = { Authorization: this.authorization, ...headers };
    if (this.password) sent["pspdfkit-pdf-password"] = this.password;
    if (json !== undefined) {
      sent["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    const response = await this._fetch(url, { method, headers: sent, body });
    if (!response.ok) {
      let detail = null;
      try { detail = await response.json(); } catch { /* not JSON */ }
      const error = detail?.error;
      const reason = error?.description ?? error?.reason ?? response.statusText;
      throw new AnnologError(response.status, reason, detail ?? undefined);
    }
    return response;
  }

  async json(method, path, options) {
    const response = await this.request(method, path, options);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /** Documents, one page at a time: `{data: {documents, next_cursor}}` (server token). */
  listDocuments({ pageSize, cursor, title } = {}) {
    return this.json("GET", "/api/documents", {
      query: { page_size: pageSize, cursor, title },
    });
  }

  /** Upload a PDF (a Blob, ArrayBuffer or Uint8Array); returns the answer's `data`. */
  async uploadDocument(pdf, { documentId, title } = {}) {
    const form = new FormData();
    form.append("file", pdf instanceof Blob ? pdf : new Blob([pdf], { type: "application/pdf" }),
      "document.pdf");
    if (documentId) form.append("document_id", documentId);
    if (title) form.append("title", title);
    return (await this.json("POST", "/api/documents", { body: form })).data;
  }

  /** @param {string} documentId */
  document(documentId) {
    return new DocumentHandle(this, documentId);
  }
}

export class DocumentHandle {
  constructor(client, documentId) {
    this.client = client;
    this.id = documentId;
    this.path = `/api/documents/${encodeSegment(documentId)}`;
  }

  properties() { return this.client.json("GET", `${this.path}/properties`); }
  async info() { return (await this.client.json("GET", `${this.path}/document_info`)).data; }
  delete() { return this.client.json("DELETE", this.path); }

  /** Names of the named layers (the default layer is "" and not listed). */
  async layers() { return (await this.client.json("GET", `${this.path}/layers`)).data; }

  /** Create a named layer, optionally as a copy of another as it was at a revision. */
  async createLayer(name, { sourceLayerName, revision, at } = {}) {
    const json = { name };
    if (sourceLayerName !== undefined) json.source_layer_name = sourceLayerName;
    if (revision !== undefined) json.revision = revision;
    if (at !== undefined) json.at = at;
    return (await this.client.json("POST", `${this.path}/layers`, { json })).data;
  }

  /** The uploaded PDF itself, as an ArrayBuffer. */
  async sourcePdf() {
    const response = await this.client.request("GET", `${this.path}/pdf`,
      { query: { source: "true" } });
    return response.arrayBuffer();
  }

  /** @param {string} [name] "" (default) for the default layer */
  layer(name = "") {
    return new LayerHandle(this, name);
  }
}

export class LayerHandle {
  constructor(document, name) {
    this.client = document.client;
    this.document = document;
    this.name = name;
    this.path = name ? `${document.path}/layers/${encodeSegment(name)}` : document.path;
  }

  /** Every live annotation of the layer (NDJSON, so no 1,000 limit). */
  async annotations() {
    const response = await this.client.request("GET", `${this.path}/annotations`,
      { headers: { Accept: "application/x-ndjson" } });
    return parseNdjson(await response.text());
  }

  annotation(id) {
    return this.client.json("GET", `${this.path}/annotations/${encodeSegment(id)}`);
  }

  /** Create one annotation; returns its id. */
  async create(content, { id, group, userId } = {}) {
    const json = { content };
    if (id !== undefined) json.id = id;
    if (group !== undefined) json.group = group;
    if (userId !== undefined) json.user_id = userId;
    return (await this.client.json("POST", `${this.path}/annotations`, { json })).data
      .annotation_id;
  }

  /** Replace one annotation's content; `baseVersion` refuses (412) if it changed since. */
  async update(id, content, { baseVersion, group, userId } = {}) {
    const json = { content };
    if (group !== undefined) json.group = group;
    if (userId !== undefined) json.user_id = userId;
    const headers = baseVersion !== undefined ? { "If-Match": `"${baseVersion}"` } : {};
    return (await this.client.json("PUT", `${this.path}/annotations/${encodeSegment(id)}`,
      { json, headers })).data;
  }

  async delete(id, { baseVersion } = {}) {
    const headers = baseVersion !== undefined ? { "If-Match": `"${baseVersion}"` } : {};
    await this.client.request("DELETE", `${this.path}/annotations/${encodeSegment(id)}`,
      { headers });
  }

  /** Every version of one annotation, deletions included (`data`: a list of changes). */
  async history(id) {
    return (await this.client.json("GET",
      `${this.path}/annotations/${encodeSegment(id)}/history`)).data;
  }

  /** The comments of a thread's root annotation, oldest first. */
  async comments(rootId) {
    return (await this.client.json("GET",
      `${this.path}/annotations/${encodeSegment(rootId)}/comments`)).data.comments;
  }

  /** Reply to a thread: `text` (plain), or a comment's `content`; resolves to its id. */
  async reply(rootId, text, { id, group, userId } = {}) {
    const content = typeof text === "string" ? { text: { format: "plain", value: text } } : text;
    const body = await this.client.json("POST",
      `${this.path}/annotations/${encodeSegment(rootId)}/comments`, { json: { comments: [
        { content, ...(id && { id }), ...(group !== undefined && { group }),
          ...(userId && { user_id: userId }) }] } });
    return body.data.comments[0].id;
  }

  /** The layer's changes after revision `since`, its comments' marked `of: "comment"`.
   * @returns {Promise<Change[]>} */
  async changes(since = 0) {
    const response = await this.client.request("GET", `${this.path}/changes`,
      { query: { since } });
    return parseNdjson(await response.text());
  }

  /** Instant JSON of the layer, now or as it was at a `revision` or time (`at`):
   * `{document, revision}` (the revision the export shows). */
  async instantJson({ revision, at } = {}) {
    const response = await this.client.request("GET", `${this.path}/document.json`,
      { query: { revision, at } });
    return { document: await response.json(),
      revision: Number(response.headers.get("Annolog-Revision") ?? 0) };
  }

  /** Apply an Instant JSON document, all or nothing. */
  applyInstantJson(document) {
    const form = new FormData();
    form.append("instant.json", new Blob([JSON.stringify(document)],
      { type: "application/json" }), "instant.json");
    return this.client.json("POST", `${this.path}/apply_instant_json`, { body: form });
  }

  /** The PDF with the layer's annotations written in, as a Blob. Options: flatten,
   * annotations, comments, revision, at. */
  async pdf(options = {}) {
    const response = await this.client.request("POST", `${this.path}/pdf`, { json: options });
    return response.blob();
  }

  async xfdf(options = {}) {
    const response = await this.client.request("GET", `${this.path}/document.xfdf`,
      { query: options });
    return response.text();
  }

  /** Revert the layer to a revision (appends events; server token only). */
  restore(revision) {
    return this.client.json("POST", `${this.path}/restore`, { json: { revision } });
  }

  /** Undelete one annotation (server token only). */
  restoreAnnotation(id) {
    return this.client.json("POST", `${this.path}/annotations/${encodeSegment(id)}/restore`);
  }

  /** Wait until changes accepted before the call are persisted; the latest records. */
  async confirmations(annotationIds, { timeout } = {}) {
    const json = { annotationIds };
    if (timeout !== undefined) json.timeout = timeout;
    return (await this.client.json("POST", `${this.path}/confirmations`, { json })).data;
  }

  /** A live sync session from `revision` (0: the whole layer). See SyncSession. */
  sync(options = {}) {
    return new SyncSession(this, options);
  }
}

function parseNdjson(text) {
  return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
}

/**
 * A live sync session. Events (each a CustomEvent with `detail`):
 * - `hello` {clientId}; `caughtup` {revision}: every change up to it was delivered;
 * - `change` Change: a change of the layer, in revision order, never twice;
 * - `presence` PresentClient[]: who is connected to the layer;
 * - `state` {state: "connecting"|"open"|"reconnecting"|"closed", code?, reason?};
 * - `error` {reason}: the server could not read a message.
 * Dropped connections are resumed from the last revision received (no gap, no repeat),
 * with backoff; a revoked or expired JWT ends the session (`state` closed with its code).
 */
export class SyncSession extends EventTarget {
  /** @param {LayerHandle} layer
   *  @param {{revision?: number, reconnect?: boolean, maxBackoffMs?: number}} options */
  constructor(layer, { revision = 0, reconnect = true, maxBackoffMs = 5000 } = {}) {
    super();
    this.layer = layer;
    this.client = layer.client;
    this.revision = revision; // the last revision received
    this.clientId = null;
    this.presence = [];
    this.state = "connecting";
    this.reconnect = reconnect;
    this.maxBackoffMs = maxBackoffMs;
    this._pending = new Map(); // changeId -> {resolve, reject}
    this._attempt = 0;
    this._closedByUs = false;
    this._caughtUp = null;
    this.caughtUp = new Promise((resolve) => { this._caughtUp = resolve; });
    this._open();
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit("state", { state, ...extra });
  }

  _url() {
    const url = new URL(this.client.baseUrl + this.layer.path + "/sync",
      globalThis.location?.href ?? this.client.baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("revision", String(this.revision));
    return url.toString();
  }

  _open() {
    // The credentials travel as a subprotocol, not in the URL that proxies log.
    const protocols = ["annolog", `annolog.auth.${base64url(this.client.authorization)}`];
    const ws = new this.client._WebSocket(this._url(), protocols);
    this._ws = ws;
    ws.addEventListener("message", (event) => {
      if (this._ws === ws) this._receive(JSON.parse(event.data));
    });
    ws.addEventListener("close", (event) => {
      if (this._ws === ws) this._closed(event.code, event.reason);
    });
    // A refused handshake (a bad token is a 401) fires error; browsers then fire close,
    // some runtimes do not: close it here if nothing else did.
    ws.addEventListener("error", () => setTimeout(() => {
      if (this._ws === ws) this._closed(1006, "could not connect (refused or unreachable)");
    }, 0));
  }

  _receive(message) {
    switch (message.type) {
      case "hello":
        this.clientId = message.clientId;
        this._attempt = 0;
        this._setState("open");
        this._emit("hello", message);
        break;
      case "change":
        if (message.revision <= this.revision) return; // never twice
        this.revision = message.revision;
        // a comment's change is not an annotation's: its own event, so that a viewer
        // keeping annotations by id never mistakes one for the other
        this._emit(message.of === "comment" ? "comment" : "change", message);
        break;
      case "caught_up":
        this.revision = Math.max(this.revision, message.revision);
        this._emit("caughtup", message);
        this._caughtUp(message.revision);
        break;
      case "clients":
        this.presence = message.clients;
        this._emit("presence", message.clients);
        break;
      case "confirmed":
      case "rejected": {
        const waiter = this._pending.get(message.changeId);
        if (!waiter) return;
        this._pending.delete(message.changeId);
        if (message.type === "confirmed") waiter.resolve(message);
        else waiter.reject(new ChangeRejected(message));
        break;
      }
      case "error":
        this._emit("error", message);
        break;
      default:
        break; // a newer server's message: ignore it
    }
  }

  _closed(code, reason) {
    this._ws = null;
    for (const waiter of this._pending.values()) {
      // It may or may not have been stored: the caller reads it back (confirmations).
      waiter.reject(new ChangeRejected({ reason: "connection lost before an answer; read " +
        "the annotation back to know whether it was stored" }));
    }
    this._pending.clear();
    const final = this._closedByUs || !this.reconnect ||
      code === CLOSE_CODES.TOKEN_REVOKED || code === CLOSE_CODES.TOKEN_EXPIRED;
    if (final) {
      this._setState("closed", { code, reason });
      return;
    }
    this._setState("reconnecting", { code, reason });
    const delay = Math.min(this.maxBackoffMs, 100 * 2 ** this._attempt++);
    this._timer = setTimeout(() => this._open(), delay);
  }

  /**
   * Send changes: each `{op: "create"|"update"|"delete", id, content?, group?,
   * baseVersion?}`. Returns one promise per change: resolved with the confirmation
   * `{changeId, id, revision, version, record}` once persisted, rejected with
   * ChangeRejected (its `current` holds the stored record after a conflict).
   * @returns {Promise<object>[]}
   */
  send(changes) {
    if (!this._ws || this._ws.readyState !== 1) {
      return changes.map(() => Promise.reject(new ChangeRejected(
        { reason: "not connected; wait for the session's state to be open" })));
    }
    const sent = changes.map((change) => ({ changeId: newChangeId(), ...change }));
    const promises = sent.map((change) => new Promise((resolve, reject) => {
      this._pending.set(change.changeId, { resolve, reject });
    }));
    this._ws.send(JSON.stringify({ type: "changes", changes: sent }));
    return promises;
  }

  /** Create one annotation (its id is made here unless the content's or `id` gives one). */
  create(content, { id, group } = {}) {
    const change = { op: "create", id: id ?? content.id ?? newAnnotationId(), content };
    if (group !== undefined) change.group = group;
    return this.send([change])[0];
  }

  update(id, content, { baseVersion, group } = {}) {
    const change = { op: "update", id, content };
    if (baseVersion !== undefined) change.baseVersion = baseVersion;
    if (group !== undefined) change.group = group;
    return this.send([change])[0];
  }

  delete(id, { baseVersion } = {}) {
    const change = { op: "delete", id };
    if (baseVersion !== undefined) change.baseVersion = baseVersion;
    return this.send([change])[0];
  }

  /** Drop the connection as a network failure would (the session resumes). For tests. */
  drop() {
    this._ws?.close(4000, "dropped by the client");
  }

  close() {
    this._closedByUs = true;
    clearTimeout(this._timer);
    if (this._ws) this._ws.close(1000, "closed by the client");
    else this._setState("closed", { code: 1000, reason: "closed by the client" });
  }
}

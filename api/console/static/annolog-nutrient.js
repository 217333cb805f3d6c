// annolog-nutrient.js: the Nutrient Web SDK in Standalone mode, with annolog as its server.
// One dependency-free ES module, served by annolog at /console/annolog-nutrient.js; the SDK
// itself is the page's (annolog never bundles it). Save mode: load the PDF and the layer's
// Instant JSON into the viewer, save the viewer's export as the layer's whole state. Live
// mode (sync over WebSocket) is not here yet. Guide: docs/nutrient.md.

/** An answer of annolog that is neither a save nor a conflict. */
export class AnnologError extends Error {
  constructor(status, reason) {
    super(`annolog answered ${status}: ${reason}`);
    this.status = status;
    this.reason = reason;
  }
}

/** One document (and layer) of annolog, as a viewer page loads and saves it. */
export class AnnologDocument {
  /**
   * @param {object} options
   * @param {string} options.server annolog's base URL, e.g. "https://annolog.example"
   * @param {string} options.documentId
   * @param {string} [options.layer] a named layer; the default layer when left out
   * @param {string} options.authorization the Authorization header: `Bearer <client JWT>`
   *   (with `read-document`, and `write` to save), or `Token token="…"` (the server token)
   */
  constructor({ server, documentId, layer = "", authorization, fetch: fetcher }) {
    const path = `/api/documents/${encodeURIComponent(documentId)}`;
    this.api = server.replace(/\/$/, "") + path +
      (layer ? `/layers/${encodeURIComponent(layer)}` : "");
    this.documentUrl = server.replace(/\/$/, "") + path;
    this.headers = { Authorization: authorization };
    this.fetch = fetcher ?? globalThis.fetch.bind(globalThis);
    this.revision = null; // what the viewer shows: the base of the next save
  }

  /**
   * The PDF and the layer's annotations, for NutrientViewer.load:
   * `NutrientViewer.load({ container, baseUrl, ...(await doc.load()) })`. With a client JWT
   * it also gives `isEditableAnnotation`, from what its collaboration permissions allow on
   * each record (an annotation the user makes in the viewer is theirs to edit).
   */
  async load() {
    const [pdf, state, editable] = await Promise.all([
      this.#request(`${this.documentUrl}/pdf?source=true`),
      this.#request(`${this.api}/document.json`),
      this.#editable(),
    ]);
    this.revision = state.headers.get("Annolog-Revision");
    const loaded = { document: await pdf.arrayBuffer(), instantJSON: await state.json() };
    if (editable) loaded.isEditableAnnotation = (a) => editable.get(a.id) ?? true;
    return loaded;
  }

  /** For a client JWT: each visible record's isEditable, from annolog's record list. */
  async #editable() {
    if (!/^bearer /i.test(this.headers.Authorization ?? "")) return null;  // the server token
    const response = await this.#request(`${this.api}/annotations`,
                                         { Accept: "application/x-ndjson" });
    const editable = new Map();
    for (const line of (await response.text()).split("\n")) {
      if (!line) continue;
      const record = JSON.parse(line);
      editable.set(record.id, record.isEditable !== false);
    }
    return editable;
  }

  /**
   * Save the viewer's annotations as the layer's whole state: annolog records only what
   * differs, and merges what others saved since this page loaded. Resolves to
   * `{ counts, conflicts, refused, revision, reload }`; `reload` is true when the layer now
   * differs from what the viewer shows (others' work merged or kept over a conflict, or a
   * change the JWT's permissions refused): load again before editing further.
   */
  async save(instance) {
    const exported = await instance.exportInstantJSON();
    const headers = { ...this.headers, "Content-Type": "application/json" };
    if (this.revision !== null) headers["Annolog-Base-Revision"] = this.revision;
    const response = await this.fetch(`${this.api}/document.json`, {
      method: "PUT", headers, body: JSON.stringify(exported),
    });
    const body = await response.json();
    if (!response.ok && response.status !== 409) {
      throw new AnnologError(response.status, body?.error?.reason ?? response.statusText);
    }
    const { conflicts, refused, ...counts } = body.data;
    const reload = conflicts.length > 0 || refused.length > 0 || counts.merged > 0;
    if (!reload && body.revision !== null) this.revision = String(body.revision);
    return { counts, conflicts, refused, revision: body.revision, reload };
  }

  async #request(url, headers = {}) {
    const response = await this.fetch(url, { headers: { ...this.headers, ...headers } });
    if (!response.ok) {
      const reason = await response.json().then((b) => b?.error?.reason, () => null);
      throw new AnnologError(response.status, reason ?? response.statusText);
    }
    return response;
  }
}

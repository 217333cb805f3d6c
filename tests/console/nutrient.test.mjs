// The Web SDK adapter's own tests (api/console/static/annolog-nutrient.js), against a real
// annolog serve: what load() gives, what save() sends and answers, and its errors. The real
// SDK drives it in tests/websdk; here a stand-in viewer gives the exports.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import { AnnologDocument, AnnologError } from "../../api/console/static/annolog-nutrient.js";

const server = process.env.ANNOLOG_URL;
const authorization = `Token token="${process.env.ANNOLOG_TOKEN}"`;
const note = (text) => ({ v: 2, type: "pspdfkit/note", pageIndex: 0, bbox: [1, 2, 30, 30],
                          opacity: 1, text: { format: "plain", value: text } });

async function uploaded() {
  const response = await fetch(`${server}/api/documents`, {
    method: "POST", body: await readFile(process.env.ANNOLOG_PDF),
    headers: { Authorization: authorization, "Content-Type": "application/pdf" } });
  return (await response.json()).data.document_id;
}

const viewer = (exported) => ({ exportInstantJSON: async () => exported });

test("load gives the PDF and the layer, and remembers the revision", async () => {
  const documentId = await uploaded();
  const doc = new AnnologDocument({ server, documentId, authorization });
  const { document, instantJSON } = await doc.load();
  assert.equal(new TextDecoder().decode(document.slice(0, 5)), "%PDF-");
  assert.deepEqual(instantJSON, { format: "https://pspdfkit.com/instant-json/v1" });
  assert.match(doc.revision, /^[0-9]+$/);
});

test("save records the difference and moves the base on", async () => {
  const documentId = await uploaded();
  const doc = new AnnologDocument({ server, documentId, authorization });
  const { instantJSON } = await doc.load();
  const before = doc.revision;
  const saved = await doc.save(viewer({ ...instantJSON,
                                        annotations: [{ id: "a", ...note("hi") }] }));
  assert.equal(saved.counts.created, 1);
  assert.deepEqual(saved.conflicts, []);
  assert.equal(saved.reload, false);
  assert.equal(doc.revision, String(saved.revision));
  assert.notEqual(doc.revision, before);
  const again = await doc.save(viewer({ ...instantJSON,
                                        annotations: [{ id: "a", ...note("hi") }] }));
  assert.equal(again.revision, null);  // nothing differed
  assert.equal(again.counts.unchanged, 1);
});

test("a stale tab learns of conflicts and keeps its base until it loads again", async () => {
  const documentId = await uploaded();
  const one = new AnnologDocument({ server, documentId, authorization });
  const two = new AnnologDocument({ server, documentId, authorization });
  const { instantJSON } = await one.load();
  await one.save(viewer({ ...instantJSON, annotations: [{ id: "a", ...note("one") }] }));
  await two.load();
  const base = two.revision;
  await one.save(viewer({ ...instantJSON, annotations: [{ id: "a", ...note("one, again") }] }));
  const saved = await two.save(viewer({ ...instantJSON,
                                        annotations: [{ id: "a", ...note("two") }] }));
  assert.equal(saved.conflicts.length, 1);
  assert.equal(saved.conflicts[0].current.text.value, "one, again");
  assert.equal(saved.reload, true);
  assert.equal(two.revision, base);
});

test("a refused save rejects with the reason, and nothing is saved", async () => {
  const documentId = await uploaded();
  const doc = new AnnologDocument({ server, documentId, authorization });
  const { instantJSON } = await doc.load();
  await assert.rejects(
    doc.save(viewer({ ...instantJSON, annotations: [{ id: "b", ...note("x"), bbox: [1] }] })),
    (error) => error instanceof AnnologError && error.status === 422 &&
      /bbox/.test(error.reason));
  const missing = new AnnologDocument({ server, documentId: "nope", authorization });
  await assert.rejects(missing.load(), (error) => error.status === 404);
});

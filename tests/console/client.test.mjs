// The client library's protocol tests, run by node's test runner against a real
// `annolog serve` (tests/console/test_client_library.py starts it and runs this file).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";

import { AnnologClient, AnnologError, ChangeRejected } from
  "../../api/console/static/annolog-client.js";

const baseUrl = process.env.ANNOLOG_URL;
const token = process.env.ANNOLOG_TOKEN;
const pdf = readFileSync(process.env.ANNOLOG_PDF);
const client = new AnnologClient({ baseUrl, token });
const sessions = [];

const note = (text, page = 0) => ({
  v: 2, type: "pspdfkit/note", pageIndex: page, bbox: [10, 10, 32, 32], opacity: 1,
  text: { format: "plain", value: text }, icon: "comment", color: "#FFD83F",
});

function open(layer, options) {
  const session = layer.sync(options);
  sessions.push(session);
  return session;
}

function collect(session) {
  const seen = [];
  session.addEventListener("change", (event) => seen.push(event.detail));
  return seen;
}

async function until(predicate, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let documentId;
before(async () => {
  documentId = (await client.uploadDocument(pdf, { title: "client tests" })).document_id;
});
after(() => sessions.forEach((s) => s.close()));

test("REST: create, read, update with a version guard, history, delete", async () => {
  const layer = client.document(documentId).layer("rest");
  const id = await layer.create(note("one"), { id: "rest-1" });
  assert.equal(id, "rest-1");
  assert.equal((await layer.annotation(id)).content.text.value, "one");
  await layer.update(id, note("two"), { baseVersion: 1 });
  await assert.rejects(layer.update(id, note("stale"), { baseVersion: 1 }),
    (error) => error instanceof AnnologError && error.status === 412);
  const history = await layer.history(id);
  assert.deepEqual(history.map((c) => c.kind), ["created", "updated"]);
  const { document, revision } = await layer.instantJson({ revision: history[0].revision });
  assert.equal(revision, history[0].revision);
  assert.equal(document.annotations[0].text.value, "one");
  await layer.delete(id);
  assert.deepEqual(await layer.annotations(), []);
  await assert.rejects(layer.annotation(id), (error) => error.status === 404);
});

test("a bad token is an AnnologError with the server's reason", async () => {
  const wrong = new AnnologClient({ baseUrl, token: "not-the-token" });
  await assert.rejects(wrong.listDocuments(), (error) =>
    error instanceof AnnologError && error.status === 401 && /token/.test(error.reason));
});

test("sync: a change is confirmed to its sender and reaches the other client", async () => {
  const layer = client.document(documentId).layer("live");
  const a = open(layer);
  const b = open(layer);
  const seenByB = collect(b);
  await Promise.all([a.caughtUp, b.caughtUp]);
  const confirmed = await a.create(note("hi"), { id: "live-1" });
  assert.equal(confirmed.version, 1);
  assert.equal(confirmed.record.content.text.value, "hi");
  await until(() => seenByB.some((c) => c.id === "live-1"), "b to see the change");
  const change = seenByB.find((c) => c.id === "live-1");
  assert.equal(change.kind, "created");
  assert.equal(change.revision, confirmed.revision);
});

test("sync: a dropped connection resumes with no gap and no repeat", async () => {
  const layer = client.document(documentId).layer("resume");
  const watcher = open(layer, { maxBackoffMs: 200 });
  const seen = collect(watcher);
  const states = [];
  watcher.addEventListener("state", (event) => states.push(event.detail.state));
  await watcher.caughtUp;
  for (let i = 0; i < 10; i++) await layer.create(note(`n${i}`), { id: `r${i}` });
  await until(() => seen.length === 10, "the first ten");
  watcher.drop();
  await until(() => watcher.state === "reconnecting", "the drop");
  // Written while the watcher is away: it must get each once, after it comes back.
  for (let i = 10; i < 20; i++) await layer.create(note(`n${i}`), { id: `r${i}` });
  await layer.delete("r3");
  await until(() => seen.length === 21, "the changes made while away", 10000);
  const revisions = seen.map((c) => c.revision);
  assert.equal(new Set(revisions).size, revisions.length, "no change delivered twice");
  assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
  const server = (await layer.changes(0)).map((c) => c.revision);
  assert.deepEqual(revisions, server, "exactly the server's changes, none missing");
  assert.ok(states.includes("reconnecting") && states.at(-1) === "open");
});

test("sync: a change based on an old version is rejected with the current record", async () => {
  const layer = client.document(documentId).layer("conflict");
  const a = open(layer);
  const b = open(layer);
  await Promise.all([a.caughtUp, b.caughtUp]);
  const created = await a.create(note("base"), { id: "k" });
  const fromB = await b.update("k", note("b wins"), { baseVersion: created.version });
  assert.equal(fromB.version, 2);
  await assert.rejects(a.update("k", note("a is stale"), { baseVersion: created.version }),
    (error) => error instanceof ChangeRejected && error.current.version === 2 &&
      error.current.content.text.value === "b wins");
  await assert.rejects(a.delete("k", { baseVersion: 1 }), ChangeRejected);
  const deleted = await a.delete("k", { baseVersion: 2 });
  assert.equal(deleted.version, 3);
});

test("sync: presence lists every client of the layer and drops one that leaves", async () => {
  const layer = client.document(documentId).layer("presence");
  const a = open(layer);
  await a.caughtUp;
  const b = open(layer);
  await b.caughtUp;
  await until(() => a.presence.length === 2, "a to see b");
  const ids = a.presence.map((c) => c.clientId).sort();
  assert.deepEqual(ids, [a.clientId, b.clientId].sort());
  b.close();
  await until(() => a.presence.length === 1, "a to see b leave");
  assert.equal(b.state, "closed");
});

test("sync: a bad token never opens a session", async () => {
  const wrong = new AnnologClient({ baseUrl, token: "not-the-token" });
  const session = wrong.document(documentId).layer().sync({ reconnect: false });
  sessions.push(session);
  await until(() => session.state === "closed", "the refusal");
  assert.equal(session.clientId, null);
});

test("sync: a comment reaches sessions as a comment, never as an annotation change", async () => {
  const layer = client.document(documentId).layer("threads");
  const watcher = open(layer);
  const changes = collect(watcher);
  const comments = [];
  watcher.addEventListener("comment", (event) => comments.push(event.detail));
  await watcher.caughtUp;
  await layer.create({ v: 2, type: "pspdfkit/comment-marker", pageIndex: 0,
                       bbox: [5, 5, 20, 20], opacity: 1 }, { id: "thread-root" });
  const id = await layer.reply("thread-root", "first!", { id: "c-1" });
  assert.equal(id, "c-1");
  await until(() => comments.length === 1, "the comment over sync");
  assert.equal(comments[0].record.content.text.value, "first!");
  assert.equal(comments[0].of, "comment");
  assert.deepEqual(changes.map((c) => c.id), ["thread-root"]);
  assert.deepEqual((await layer.comments("thread-root")).map((c) => c.id), ["c-1"]);
  const feed = await layer.changes(0);
  assert.deepEqual(feed.map((c) => [c.id, c.of]), [["thread-root", undefined], ["c-1", "comment"]]);
});

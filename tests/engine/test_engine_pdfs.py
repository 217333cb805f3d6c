"""PDFs both ways against the engine (issue 26, sections 6 and 7), over one document of every
annotation type with its fields (`tests/fixtures/instant-json/engine-parity.json`), compared
field by field, ids included:

- a PDF the engine wrote, read by annolog, gives what the engine itself reads from it;
- annolog's annotated PDF, read by the engine, gives the records annolog holds.

What may differ is listed here and in docs/api.md, each with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.conftest import AUTH, ROOT, make_pdf
from tests.engine.oracle import Engine
from tests.engine.records import differences
from tests.live import Live

PARITY = ROOT / "tests" / "fixtures" / "instant-json" / "engine-parity.json"
# The engine names an image read from a PDF by its object number and says JPEG whatever it
# holds; annolog names an attachment by its bytes' SHA-256 and says what they are.
IMAGE_NAMING = {"imageAttachmentId", "contentType"}
# A thread's root holds its first comment in a PDF (the engine's way): read back, the root's
# author and time are the comment's.
THREAD_ROOT = {"creatorName", "updatedAt"}


def parity_document() -> dict[str, Any]:
    return orjson.loads(PARITY.read_bytes())


def known(found: list[str], allowed: set[str]) -> list[str]:
    """The differences but those of the keys in ``allowed``."""
    return [d for d in found if d.split(":")[0] not in allowed]


async def stored(live: Live, pdf: bytes, document: dict[str, Any] | None = None
                 ) -> tuple[dict[str, Any], bytes]:
    """Upload ``pdf`` (and apply ``document``); the layer's document.json and its
    annotated PDF with the comment threads."""
    client = live.client
    upload = await client.post("/api/documents", data=pdf,
                               headers={**AUTH, "Content-Type": "application/pdf"})
    assert upload.status == 200, await upload.text()
    base = f"/api/documents/{(await upload.json())['data']['document_id']}"
    if document is not None:
        applied = await client.post(f"{base}/apply_instant_json", json=document, headers=AUTH)
        assert applied.status == 200, await applied.text()
    exported = await (await client.get(f"{base}/document.json", headers=AUTH)).json()
    annotated = await client.get(f"{base}/pdf", headers=AUTH, params={"comments": "true"})
    return exported, await annotated.read()


def test_annolog_reads_an_engine_pdf_as_the_engine_reads_it(
        engine: Engine, live: Live, tmp_path: Path) -> None:
    blank, made = tmp_path / "blank.pdf", tmp_path / "engine.pdf"
    blank.write_bytes(make_pdf(2))
    document = parity_document()
    written = engine.load(blank, document=document, pdf_out=made)
    assert written["ok"], written.get("error")
    theirs = [a for a in engine.load(made, read=True)["annotations"] if "type" in a]
    exported, _ = live.run(stored(live, made.read_bytes()))
    ours = {r["id"]: r for r in exported["annotations"]}
    assert sorted(ours) == sorted(r["id"] for r in theirs)  # the engine's ids, every one
    found = {r["id"]: known(differences(ours[r["id"]], r), IMAGE_NAMING)
             for r in theirs}
    assert found == dict.fromkeys(ours, [])
    # The threads: the engine's own export of the document says what they hold.
    expected = {c["id"]: (c["rootId"], c["text"], c.get("creatorName"), c["createdAt"])
                for c in written["instantJSON"]["comments"]}
    assert {c["id"]: (c["rootId"], c["text"], c.get("creatorName"), c["createdAt"])
            for c in exported["comments"]} == expected


def test_the_engine_reads_annolog_pdf_as_annolog_holds_it(
        engine: Engine, live: Live, tmp_path: Path) -> None:
    exported, annotated = live.run(stored(live, make_pdf(2), parity_document()))
    path = tmp_path / "annolog.pdf"
    path.write_bytes(annotated)
    answer = engine.load(path, read=True)
    assert answer["ok"], answer.get("error")
    theirs = {r["id"]: r for r in answer["annotations"] if "type" in r}
    ours = {r["id"]: r for r in exported["annotations"]}
    assert sorted(theirs) == sorted(ours)
    roots = {c["rootId"] for c in exported["comments"]}
    found = {i: known(differences(r, theirs[i]),
                      IMAGE_NAMING | (THREAD_ROOT if i in roots else set()))
             for i, r in ours.items()}
    assert found == dict.fromkeys(ours, [])

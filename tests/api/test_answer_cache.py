"""Cached list answers (``api.answers``): never stale, never another caller's."""

from __future__ import annotations

import random
from typing import Any

import aiohttp
import orjson

from api.services import SERVICES
from tests.api.test_jwt import DOC, bearer
from tests.api.test_jwt import client as jwt_client  # noqa: F401  (a fixture)
from tests.conftest import AUTH, make_pdf, note


async def _list(client: Any, base: str, page: int | None, headers: dict = AUTH) -> list[dict]:
    url = f"{base}/annotations" if page is None else f"{base}/pages/{page}/annotations"
    response = await client.get(url, headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["data"]["annotations"]


def _expected(model: dict[str, dict], page: int | None) -> list[dict]:
    return [{"id": i, "content": c} for i, c in model.items()
            if page is None or c["pageIndex"] == page]


async def _write(client: Any, method: str, url: str, **kwargs: Any) -> None:
    response = await client.request(method, url, headers=AUTH, **kwargs)
    assert response.status == 200, await response.text()


async def test_cached_lists_follow_every_kind_of_change(client, document):
    """A seeded run of creates, moves between pages, edits, deletes and re-creations,
    with every page and the whole list read twice after each (the second read served from
    the cache): each answer equals the records written, in creation order."""
    base = f"/api/documents/{document}"
    answers = client.server.app[SERVICES].answers
    rng = random.Random(16)
    model: dict[str, dict] = {}  # id -> content, in creation order
    written = 0
    for step in range(120):
        kind = rng.choice(["create", "create", "move", "edit", "delete"]) if model else "create"
        if kind == "create":
            annotation_id = f"a{rng.randrange(12)}"
            if annotation_id in model:
                continue
            content = note(rng.randrange(2), f"step {step}")
            await _write(client, "POST", f"{base}/annotations",
                         json={"annotations": [{"id": annotation_id, "content": content}]})
            model[annotation_id] = content
        elif kind in ("move", "edit"):
            annotation_id = rng.choice(list(model))
            content = dict(model[annotation_id])
            if kind == "move":
                content["pageIndex"] = 1 - content["pageIndex"]
            else:
                content["text"] = {"format": "plain", "value": f"edited at {step}"}
            await _write(client, "PUT", f"{base}/annotations",
                         json={"annotations": [{"id": annotation_id, "content": content}]})
            model[annotation_id] = content
        else:
            annotation_id = rng.choice(list(model))
            await _write(client, "DELETE", f"{base}/annotations/{annotation_id}")
            del model[annotation_id]
        written += 1
        for page in (0, 1, None):
            for _ in range(2):
                found = await _list(client, base, page)
                assert [{"id": r["id"], "content": r["content"]} for r in found] == \
                    _expected(model, page), (step, kind, page)
    # every second read was served from the cache, and no first read after a write was
    assert answers.hits == 3 * written > 250


async def test_a_replaced_document_and_a_new_layer_are_not_served_old_answers(client, document):
    base = f"/api/documents/{document}"
    await _write(client, "POST", f"{base}/annotations",
                 json={"annotations": [{"id": "old", "content": note(0)}]})
    assert [r["id"] for r in await _list(client, base, 0)] == ["old"]
    assert await _list(client, f"{base}/layers/L", 0) == []  # the base: the upload's state
    await _write(client, "POST", f"{base}/layers/L/annotations",
                 json={"annotations": [{"id": "mine", "content": note(0)}]})
    assert [r["id"] for r in await _list(client, f"{base}/layers/L", 0)] == ["mine"]
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="b.pdf", content_type="application/pdf")
    form.add_field("document_id", document)
    form.add_field("overwrite_existing_document", "true")
    await _write(client, "POST", "/api/documents", data=form)
    assert await _list(client, base, 0) == []
    assert await _list(client, base, None) == []


async def test_a_jwt_caller_never_gets_the_server_tokens_cached_answer(jwt_client):  # noqa: F811
    client = jwt_client
    base = f"/api/documents/{DOC}"
    await _write(client, "POST", f"{base}/annotations", json={"annotations": [
        {"id": "alices", "user_id": "alice", "content": note(0)},
        {"id": "bobs", "user_id": "bob", "content": note(0)}]})
    for _ in range(2):  # cached for the server token
        assert [r["id"] for r in await _list(client, base, 0)] == ["alices", "bobs"]
    own = bearer(user_id="alice", collaboration_permissions=["annotations:view:self"])
    for _ in range(2):
        found = await _list(client, base, 0, own)
        assert [r["id"] for r in found] == ["alices"]
        assert found[0]["isEditable"] is False  # a JWT's decorated record, not the cache's
    full = bearer(user_id="carol", collaboration_permissions=["annotations:view:all"])
    assert all("isEditable" in r for r in await _list(client, base, 0, full))
    assert orjson.dumps(await _list(client, base, 0)).count(b"isEditable") == 0


async def test_each_writer_reads_its_own_writes_while_others_write_and_read(client, document):
    """Read-your-writes through the cache under concurrency: eight callers create, read,
    delete and read again on one page, each answer cached for the others in between."""
    import asyncio

    base = f"/api/documents/{document}"

    async def caller(number: int) -> None:
        for round_ in range(15):
            annotation_id = f"c{number}-{round_}"
            await _write(client, "POST", f"{base}/annotations",
                         json={"annotations": [{"id": annotation_id, "content": note(0)}]})
            assert annotation_id in [r["id"] for r in await _list(client, base, 0)]
            await _write(client, "DELETE", f"{base}/annotations/{annotation_id}")
            assert annotation_id not in [r["id"] for r in await _list(client, base, 0)]

    await asyncio.gather(*(caller(n) for n in range(8)))
    assert await _list(client, base, 0) == []
    assert client.server.app[SERVICES].answers.hits > 0


def test_the_cache_keeps_one_answer_per_question_the_latest():
    from api.answers import AnswerCache

    one, two = (0, 1), (0, 2)
    cache = AnswerCache(max_bytes=100, max_answer=60)
    cache.put("page 0", one, b"x" * 40)
    cache.put("page 0", two, b"y" * 40)  # a write moved the generation
    cache.put("page 0", one, b"z" * 40)  # a slow reader of the old generation, too late
    assert (len(cache), cache.bytes) == (1, 40)
    assert cache.get("page 0", one) is None and cache.get("page 0", two) == b"y" * 40
    cache.put("page 1", two, b"w" * 40)
    cache.get("page 0", two)  # used: page 1 is now the least recent
    cache.put("page 2", two, b"v" * 40)
    assert cache.get("page 1", two) is None and cache.bytes == 80
    cache.put("all", two, b"u" * 61)  # over the largest answer kept
    assert cache.get("all", two) is None


def test_generations_start_again_under_a_new_epoch_and_never_repeat(monkeypatch, tmp_path):
    from projections import read_model_writer
    from projections.schema import open_read_model

    monkeypatch.setattr(read_model_writer, "GENERATIONS_KEPT", 2)
    writer = read_model_writer.ReadModelWriter(open_read_model(tmp_path / "model.sqlite"))
    seen = {}
    for document_id in ["a", "b", "a", "c", "a", "b"]:
        before = writer.generation(document_id)
        writer._documents_written.add(document_id)
        writer._move_generations()
        after = writer.generation(document_id)
        assert after > before and after not in seen.get(document_id, set())
        seen.setdefault(document_id, set()).add(after)
    assert writer.generations[0] == 2 and len(writer.generations[1]) <= 2

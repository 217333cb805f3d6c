"""Live sync over WebSocket, conflicts, and persistence confirmations."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from api.app import create_app
from api.hub import HUB, LayerFeed
from api.presence import Presence
from api.settings import Settings
from tests.api.test_jwt import PUBLIC, token
from tests.conftest import AUTH, TOKEN, make_pdf, note, postgres_schema


class SyncClient:
    """A simulated client: applies what the server sends to its own copy of the layer."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.state: dict[str, dict] = {}
        self.revisions: list[int] = []
        self.replies: dict[Any, dict] = {}
        self.presence: list[list] = []
        self.caught_up = asyncio.Event()

    async def pump(self) -> None:
        async for message in self.ws:
            data = orjson.loads(message.data)
            if data["type"] == "change":
                self.revisions.append(data["revision"])
                if data["kind"] == "deleted":
                    self.state.pop(data["id"], None)
                else:
                    self.state[data["id"]] = data["record"]
            elif data["type"] in ("confirmed", "rejected"):
                self.replies[data["changeId"]] = data
            elif data["type"] == "clients":
                self.presence.append(data["clients"])
            elif data["type"] == "caught_up":
                self.caught_up.set()

    async def send(self, *changes: dict) -> None:
        await self.ws.send_str(orjson.dumps({"type": "changes", "changes": list(changes)})
                               .decode())

    @property
    def last(self) -> int:
        return self.revisions[-1] if self.revisions else 0


async def connect(client: Any, document: str, revision: int = 0, headers: Any = None,
                  path: str = "") -> tuple[SyncClient, asyncio.Task]:
    ws = await client.ws_connect(f"/api/documents/{document}{path}/sync?revision={revision}",
                                 headers=headers or AUTH)
    sync = SyncClient(ws)
    task = asyncio.create_task(sync.pump())
    await asyncio.wait_for(sync.caught_up.wait(), 10)
    return sync, task


async def until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def server_state(client: Any, document: str) -> dict[str, dict]:
    body = await (await client.get(f"/api/documents/{document}/annotations",
                                   headers=AUTH)).json()
    return {r["id"]: r for r in body["data"]["annotations"]}


async def test_a_change_is_confirmed_to_its_sender_and_reaches_the_others(client, document):
    a, a_task = await connect(client, document)
    b, b_task = await connect(client, document)
    await until(lambda: len(a.presence[-1]) == 2)
    await a.send({"changeId": "c1", "op": "create", "id": "x", "content": note()},
                 {"changeId": "c2", "op": "update", "id": "nope", "content": note()})
    await until(lambda: "c2" in a.replies and "x" in b.state)
    assert a.replies["c1"]["type"] == "confirmed" and a.replies["c1"]["version"] == 1
    assert a.replies["c2"]["type"] == "rejected"
    assert b.state == await server_state(client, document)
    await a.ws.close()
    await until(lambda: len(b.presence[-1]) == 1)
    await b.ws.close()
    await asyncio.gather(a_task, b_task)


async def test_concurrent_edits_converge_to_the_log(client, document):
    clients = [await connect(client, document) for _ in range(3)]
    for n, (sync, _) in enumerate(clients):
        await sync.send(*[{"changeId": f"{n}-{i}", "op": "create", "id": f"{n}-{i}",
                           "content": note()} for i in range(5)],
                        {"changeId": f"{n}-u", "op": "update", "id": "0-0",
                         "content": note(text=str(n))})
    await until(lambda: all(len(s.replies) == 6 for s, _ in clients))
    expected = await server_state(client, document)
    await until(lambda: all(s.state == expected for s, _ in clients))
    for sync, task in clients:
        await sync.ws.close()
        await task


async def test_a_reconnect_misses_nothing_and_repeats_nothing(client, document):
    watcher, task = await connect(client, document)
    base = f"/api/documents/{document}/annotations"

    async def burst(start: int) -> None:
        for i in range(start, start + 20):
            await client.post(base, headers=AUTH, json={"annotations": [
                {"id": f"b{i}", "content": note()}]})
    await burst(0)
    await until(lambda: len(watcher.state) == 20)
    await watcher.ws.close()
    await task
    await burst(20)
    await client.delete(f"{base}/b3", headers=AUTH)
    again, task = await connect(client, document, revision=watcher.last)
    assert len(set(again.revisions)) == len(again.revisions) == 21
    assert min(again.revisions) > watcher.last
    merged = {**watcher.state, **again.state}
    merged.pop("b3")
    assert merged == await server_state(client, document)
    await again.ws.close()
    await task


async def test_a_stale_change_is_rejected_with_the_current_record(client, document):
    base = f"/api/documents/{document}/annotations"
    await client.post(base, headers=AUTH, json={"annotations": [{"id": "v", "content": note()}]})
    response = await client.get(f"{base}/v", headers=AUTH)
    assert response.headers["ETag"] == '"1"'
    await client.put(f"{base}/v", headers=AUTH, json={"content": note(text="2")})
    response = await client.put(f"{base}/v", headers={**AUTH, "If-Match": '"1"'},
                                json={"content": note(text="stale")})
    assert response.status == 412
    error = (await response.json())["error"]
    assert error["current"]["version"] == 2 and error["current"]["content"]["text"]["value"] == "2"
    response = await client.put(f"{base}/v", headers={**AUTH, "If-Match": '"2"'},
                                json={"content": note(text="3")})
    assert response.status == 200 and response.headers["ETag"] == '"3"'
    body = await (await client.put(base, headers=AUTH, json={"annotations": [
        {"id": "v", "baseVersion": 1, "content": note()}]})).json()
    assert body["failing_paths"][0]["current"]["version"] == 3
    sync, task = await connect(client, document)
    await sync.send({"changeId": "s", "op": "delete", "id": "v", "baseVersion": 1})
    await until(lambda: "s" in sync.replies)
    assert sync.replies["s"]["type"] == "rejected" and sync.replies["s"]["current"]["version"] == 3
    await sync.ws.close()
    await task


async def test_confirmations_return_the_latest_persisted_state(client, document):
    base = f"/api/documents/{document}/annotations"
    await client.post(base, headers=AUTH, json={"annotations": [
        {"id": "p", "content": note(text="first")}, {"id": "q", "content": note()}]})
    await client.put(f"{base}/p", headers=AUTH, json={"content": note(text="later")})
    await client.delete(f"{base}/q", headers=AUTH)
    body = await (await client.post(f"/api/documents/{document}/confirmations", headers=AUTH,
                                    json={"annotationIds": ["p", "q", "r"]})).json()
    confirmed = {c["id"]: c for c in body["data"]}
    assert confirmed["p"]["record"]["content"]["text"]["value"] == "later"
    assert (confirmed["p"]["version"], confirmed["p"]["deleted"]) == (2, False)
    assert confirmed["q"]["deleted"] is True
    assert body["missing"] == ["r"]
    response = await client.post(f"/api/documents/{document}/confirmations", headers=AUTH,
                                 json={"annotationIds": ["p"], "timeout": -1})
    assert response.status == 422


@pytest.fixture
async def jwt_client(aiohttp_client: Any, tmp_path: Any) -> Any:
    settings = Settings(data_dir=tmp_path / "data", api_token="test-token",
                        jwt_public_key=PUBLIC.decode(), jwt_algorithm="ES256",
                        sync_queue_size=5)
    client = await aiohttp_client(create_app(settings))
    await client.post("/api/documents", data=make_pdf(), headers={
        **AUTH, "Content-Type": "application/pdf", "X-Request-Id": "upload"})
    return client


async def doc_id(client: Any) -> str:
    return (await (await client.get("/api/documents", headers=AUTH)).json()
            )["data"][0]["document_id"]


async def test_subscribers_see_only_what_they_may_view(jwt_client):
    document = await doc_id(jwt_client)
    headers = {"Authorization": "Bearer " + token(
        document_id=document, user_id="alice",
        collaboration_permissions=["annotations:view:self", "annotations:edit:self"])}
    alice, task = await connect(jwt_client, document, headers=headers)
    await jwt_client.post(f"/api/documents/{document}/annotations", headers=AUTH, json={
        "annotations": [{"id": "bobs", "user_id": "bob", "content": note()},
                        {"id": "hers", "user_id": "alice", "content": note()}]})
    await alice.send({"changeId": "c", "op": "update", "id": "bobs", "content": note()})
    await until(lambda: "hers" in alice.state and "c" in alice.replies)
    assert set(alice.state) == {"hers"}
    assert alice.replies["c"]["type"] == "rejected"
    assert "no annotation with id 'bobs'" in alice.replies["c"]["reason"]
    await alice.ws.close()
    await task


async def test_a_slow_client_is_dropped_with_where_to_resume(jwt_client):
    document = await doc_id(jwt_client)
    ws = await jwt_client.ws_connect(f"/api/documents/{document}/sync", headers=AUTH)
    base = f"/api/documents/{document}/annotations"
    await jwt_client.post(base, headers=AUTH, json={"annotations": [
        {"id": f"s{i}", "content": note()} for i in range(50)]})
    received, reason = [], ""
    while True:  # read only now: far more than the 5 queued messages allowed are waiting
        message = await ws.receive()
        if message.type.name == "TEXT":
            data = orjson.loads(message.data)
            if data["type"] == "change":
                received.append(data["revision"])
        else:
            reason = message.extra or ""
            break
    assert ws.close_code == 4008
    assert reason == f"too far behind; reconnect with revision={max(received, default=0)}"
    assert len(received) < 50
    again, task = await connect(jwt_client, document, revision=max(received, default=0))
    assert not set(again.revisions) & set(received)
    assert len(received) + len(again.revisions) == 50
    await again.ws.close()
    await task


async def test_clients_connected_to_other_processes_are_listed(aiohttp_client, tmp_path):
    """Two processes (apps) on one PostgreSQL log: each lists the other's clients, learns
    of a departure at once, and forgets a process that went quiet."""
    with postgres_schema() as url:
        def app(name: str) -> Any:
            return aiohttp_client(create_app(Settings(data_dir=tmp_path / name,
                                                      api_token=TOKEN, database_url=url)))
        apps = [await app("a")]
        response = await apps[0].post("/api/documents", data=make_pdf(), headers={
            **AUTH, "Content-Type": "application/pdf"})
        document = (await response.json())["data"]["document_id"]
        a, a_task = await connect(apps[0], document)
        apps.append(await app("b"))  # started after a's announcement: it must ask
        await apps[1].get(f"/api/documents/{document}/properties", headers={
            **AUTH, "Annolog-Min-Revision": str((await response.json())["revision"])})
        b, b_task = await connect(apps[1], document)
        # well before a heartbeat: b asked, a answered
        await until(lambda: b.presence and len(b.presence[-1]) == 2, timeout=5)
        await until(lambda: a.presence and len(a.presence[-1]) == 2, timeout=5)
        assert {c["clientId"] for c in a.presence[-1]} == {c["clientId"] for c in b.presence[-1]}
        c, c_task = await connect(apps[1], document)
        await until(lambda: len(a.presence[-1]) == 3, timeout=5)
        await c.ws.close()
        await until(lambda: len(a.presence[-1]) == 2, timeout=5)
        hub_a = apps[0].server.app[HUB]
        hub_a.presence.remote.clear()  # as if b had gone quiet and expired
        hub_a.show_clients(hub_a.feeds[(document, "")])
        await until(lambda: len(a.presence[-1]) == 1)
        for sync in (a, b):
            await sync.ws.close()
        await asyncio.gather(a_task, b_task, c_task)


@pytest.mark.parametrize("count", [1, 150])
async def test_a_long_presence_list_goes_in_parts(aiohttp_client, tmp_path, count):
    with postgres_schema() as url:
        app = await aiohttp_client(create_app(Settings(
            data_dir=tmp_path / "a", api_token=TOKEN,
            database_url=url)))
        presence = app.server.app[HUB].presence
        sent: list[str] = []
        presence.channel = type("Channel", (), {"publish": lambda self, p: sent.append(p)})()
        feed = LayerFeed("d", "", 0)
        feed.local_clients = lambda: [{"clientId": f"{i:026d}", "userId": "u" * 40}
                                      for i in range(count)]
        presence.announce(feed)
        await until(lambda: len(sent) == (count + presence.PART - 1) // presence.PART)
        assert all(len(p.encode()) < 7900 for p in sent)
        receiving = Presence.__new__(Presence)
        receiving.process, receiving.remote, receiving._parts = "other", {}, {}
        receiving.hub = type("NoHub", (), {"feeds": {}})()
        for payload in reversed(sent):  # parts may arrive in any order
            receiving.received(payload)
        [(_, clients)] = receiving.remote[("d", "")].values()
        assert len(clients) == count


async def test_a_revoked_token_closes_its_open_sockets_at_once(jwt_client):
    """Regression (issue 12): an open socket kept receiving and storing changes after its
    JWT was revoked, while plain HTTP refused the same token."""
    document = await doc_id(jwt_client)
    revoked = token(document_id=document, jti="gone")
    sync, task = await connect(jwt_client, document,
                               headers={"Authorization": f"Bearer {revoked}"})
    other, other_task = await connect(jwt_client, document, headers={
        "Authorization": "Bearer " + token(document_id=document, jti="kept")})
    response = await jwt_client.post("/api/revoke", headers=AUTH, json={"jwts": [revoked]})
    assert response.status == 200
    await asyncio.wait_for(task, 10)
    assert sync.ws.close_code == 4003
    await jwt_client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                          json={"annotations": [{"id": "after", "content": note()}]})
    await until(lambda: "after" in other.state)  # the other token's socket lives on
    assert "after" not in sync.state
    await other.ws.close()
    await other_task


async def test_an_expiring_token_closes_its_socket_and_may_not_write_meanwhile(
        jwt_client, monkeypatch):
    from api import clients, hub
    monkeypatch.setattr(clients, "LEEWAY_SECONDS", 0)
    monkeypatch.setattr(hub, "LEEWAY_SECONDS", 0)
    document = await doc_id(jwt_client)
    short = {"Authorization": "Bearer " + token(document_id=document,
                                                 exp=int(time.time()) + 2)}
    closing, task = await connect(jwt_client, document, headers=short)
    await asyncio.wait_for(task, 10)
    assert closing.ws.close_code == 4001
    # While a socket outlives its token (between expiry and its close), nothing it sends
    # is stored.
    monkeypatch.setattr(hub.Hub, "open", lambda feed_hub, subscriber: None)
    lingering, task = await connect(jwt_client, document, headers={
        "Authorization": "Bearer " + token(document_id=document, exp=int(time.time()) + 1)})
    await asyncio.sleep(2.1)
    await lingering.send({"changeId": "late", "op": "create", "id": "late",
                          "content": note()})
    await until(lambda: "late" in lingering.replies)
    assert lingering.replies["late"]["type"] == "rejected"
    assert "expired" in lingering.replies["late"]["reason"]
    assert "late" not in await server_state(jwt_client, document)
    await lingering.ws.close()
    await task


async def test_a_revocation_closes_sockets_on_every_process_of_a_cluster(tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    with postgres_schema() as url:
        clients = []
        for name in "ab":
            settings = Settings(data_dir=tmp_path / name, api_token=TOKEN, database_url=url,
                                jwt_public_key=PUBLIC.decode(), jwt_algorithm="ES256")
            clients.append(TestClient(TestServer(create_app(settings))))
            await clients[-1].start_server()
        a, b = clients
        try:
            response = await a.post("/api/documents", data=make_pdf(), headers={
                **AUTH, "Content-Type": "application/pdf"})
            body = await response.json()
            document = body["data"]["document_id"]
            await b.get(f"/api/documents/{document}/properties", headers={
                **AUTH, "Annolog-Min-Revision": str(body["revision"])})
            revoked = token(document_id=document, jti="cluster")
            sync, task = await connect(b, document,
                                       headers={"Authorization": f"Bearer {revoked}"})
            assert (await a.post("/api/revoke", headers=AUTH,
                                 json={"jwts": [revoked]})).status == 200
            await asyncio.wait_for(task, 10)
            assert sync.ws.close_code == 4003
        finally:
            for client in clients:
                await client.close()


async def test_each_message_of_a_socket_is_a_write_of_its_own_for_time_travel(client, document):
    """Time travel counts consecutive events sharing a request id as one write: a socket's
    messages must not share one, or the layer at the first message's revision is empty."""
    sync, task = await connect(client, document)
    await sync.send({"changeId": "a", "op": "create", "id": "first", "content": note()})
    await until(lambda: "a" in sync.replies)
    await sync.send({"changeId": "b", "op": "create", "id": "second", "content": note()})
    await until(lambda: "b" in sync.replies)
    first = sync.replies["a"]["revision"]
    response = await client.get(f"/api/documents/{document}/document.json?revision={first}",
                                headers=AUTH)
    assert [a["id"] for a in (await response.json())["annotations"]] == ["first"]
    await sync.ws.close()
    await task


def offered(authorization: str) -> list[str]:
    """The subprotocols a browser offers: its Authorization value, base64url encoded."""
    import base64

    encoded = base64.urlsafe_b64encode(authorization.encode()).decode().rstrip("=")
    return ["annolog", f"annolog.auth.{encoded}"]


async def test_a_browser_offers_its_credentials_as_a_subprotocol(client, document):
    path = f"/api/documents/{document}/sync?revision=0"
    ws = await client.ws_connect(path, protocols=offered(AUTH["Authorization"]))
    assert ws.protocol == "annolog"
    assert (await ws.receive_json())["type"] == "hello"
    await ws.close()
    for protocols, reason in ((offered('Token token="wrong"'), "invalid API token"),
                              (["annolog", "annolog.auth.%%%"], "malformed credentials"),
                              (["annolog"], "missing Authorization")):
        response = await client.get(path, headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol": ", ".join(protocols)})
        assert response.status == 401
        assert reason in (await response.json())["error"]["reason"]
    # The header, when there is one, wins over an offered subprotocol.
    response = await client.get(f"/api/documents/{document}/annotations", headers={
        **AUTH, "Sec-WebSocket-Protocol": ", ".join(offered('Token token="wrong"'))})
    assert response.status == 200

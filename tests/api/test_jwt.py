"""Client JWTs and collaboration permissions through the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import time
from typing import Any

import aiohttp
import jwt
import orjson
import pikepdf
import pytest

from api.app import create_app
from api.settings import Settings
from tests.conftest import AUTH, make_pdf, note
from tools.jwt_tools import generate_keys
from tools.samples import make_png

PRIVATE, PUBLIC = generate_keys("ES256")
OTHER_PRIVATE, _ = generate_keys("ES256")
DOC = "doc"


def token(*, key: bytes = PRIVATE, algorithm: str = "ES256", **claims: Any) -> str:
    payload = {"document_id": DOC, "permissions": ["read-document", "write", "download"],
               "exp": int(time.time()) + 600, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key,
                      algorithm=algorithm)


def bearer(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(**claims)}"}


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Any, database_url: str | None) -> Any:
    settings = Settings(data_dir=tmp_path / "data", api_token="test-token",
                        jwt_public_key=PUBLIC.decode(), jwt_algorithm="ES256",
                        database_url=database_url)
    client = await aiohttp_client(create_app(settings))
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", DOC)
    assert (await client.post("/api/documents", headers=AUTH, data=form)).status == 200
    return client


async def seed(client: Any, records: list[dict], layer: str = "") -> None:
    base = f"/api/documents/{DOC}" + (f"/layers/{layer}" if layer else "")
    response = await client.post(f"{base}/annotations", headers=AUTH,
                                 json={"annotations": records})
    assert (await response.json())["result"] == "success"


RECORDS = [
    {"id": "mine", "user_id": "alice", "group": None, "content": note(text="mine")},
    {"id": "bobs", "user_id": "bob", "group": None, "content": note(text="bobs")},
    {"id": "team", "user_id": "bob", "group": "team", "content": note(text="team")},
]


# ---- the token itself ----------------------------------------------------------------------

def unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def tampered() -> str:
    header, payload, signature = token(permissions=["read-document"]).split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["permissions"] = ["read-document", "write"]
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("make, reason", [
    (lambda: unsigned({"document_id": DOC, "permissions": ["read-document"],
                       "exp": int(time.time()) + 600}), "not signed with ES256"),
    (lambda: jwt.encode({"document_id": DOC, "permissions": ["read-document"],
                         "exp": int(time.time()) + 600}, "x" * 32, algorithm="HS256"),
     "not signed with ES256"),
    (lambda: token(exp=int(time.time()) - 600), "Expiration time is in the past"),
    (lambda: token(nbf=int(time.time()) + 600), "not valid yet"),
    (lambda: token(exp=None), "no `exp` claim"),
    (lambda: token(document_id=None), "no `document_id` claim"),
    (lambda: token(key=OTHER_PRIVATE), "signature does not verify"),
    (tampered, "signature does not verify"),
    (lambda: token(permissions=["read-document", "everything"]), "unknown"),
    (lambda: token(user_id="u", collaboration_permissions=["annotations:view"]),
     "collaboration_permissions"),
    (lambda: token(user_id="u", collaboration_permissions=["annotations:fly:all"]),
     "no action 'fly'"),
    (lambda: "not.a.jwt", "invalid JWT"),
])
async def test_bad_tokens_are_401_with_a_reason(client, make, reason):
    response = await client.get(f"/api/documents/{DOC}/annotations",
                                headers={"Authorization": f"Bearer {make()}"})
    assert response.status == 401
    assert reason in (await response.json())["error"]["reason"]


async def test_an_hs256_token_signed_with_the_public_key_is_refused(client):
    # the classic key-confusion attack: an HMAC made with the server's public key as the
    # secret; annolog never lets the token choose its algorithm
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = (part(orjson.dumps({"alg": "HS256", "typ": "JWT"})) + "." + part(
        orjson.dumps({"document_id": DOC, "permissions": ["read-document"],
                      "exp": int(time.time()) + 600})))
    signature = hmac.new(PUBLIC, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{part(signature)}"
    response = await client.get(f"/api/documents/{DOC}/annotations",
                                headers={"Authorization": f"Bearer {forged}"})
    assert response.status == 401
    assert "not signed with ES256" in (await response.json())["error"]["reason"]


async def test_the_token_may_come_as_a_query_parameter(client):
    response = await client.get(f"/api/documents/{DOC}/annotations?jwt={token()}")
    assert response.status == 200


@pytest.mark.parametrize("method, path, claims, reason", [
    ("GET", "/api/documents/other/annotations", {}, "another document"),
    ("GET", f"/api/documents/{DOC}/layers/x/annotations", {}, "default layer"),
    ("GET", f"/api/documents/{DOC}/annotations", {"layer": "x"}, "layer 'x'"),
    ("POST", f"/api/documents/{DOC}/annotations", {"permissions": ["read-document"]},
     "'write' permission"),
    ("GET", f"/api/documents/{DOC}/pdf", {"permissions": ["read-document"]},
     "'download' permission"),
    ("GET", f"/api/documents/{DOC}/pdf?source=true", {"permissions": ["download"]},
     "'read-document' permission"),
    ("GET", f"/api/documents/{DOC}/annotations", {"permissions": ["download"]},
     "'read-document'"),
    ("GET", "/api/documents", {}, "server token"),
    ("DELETE", f"/api/documents/{DOC}", {}, "server token"),
    ("POST", f"/api/documents/{DOC}/apply_instant_json", {}, "server token"),
    ("POST", f"/api/documents/{DOC}/layers", {}, "server token"),
    ("POST", "/api/revoke", {}, "server token"),
])
async def test_valid_tokens_reach_only_what_they_allow(client, method, path, claims, reason):
    response = await client.request(method, path, headers=bearer(**claims),
                                    json={"annotations": [{"content": note()}]})
    assert response.status == 403
    assert reason in (await response.json())["error"]["reason"]


async def test_a_revoked_jti_is_refused_from_then_on(client):
    revoked = token(jti="t-1")
    assert (await client.get(f"/api/documents/{DOC}/annotations",
                             headers={"Authorization": f"Bearer {revoked}"})).status == 200
    response = await client.post("/api/revoke", headers=AUTH, json={"jwts": [
        token(jti="t-1", exp=int(time.time()) - 10), token(), "garbage"]})
    body = await response.json()
    assert body["data"] == [{"jti": "t-1"}] and body["result"] == "partial_failure"
    assert [f["path"] for f in body["failing_paths"]] == ["$.jwts[1]", "$.jwts[2]"]
    response = await client.get(f"/api/documents/{DOC}/annotations",
                                headers={"Authorization": f"Bearer {revoked}"})
    assert response.status == 401 and "revoked" in (await response.json())["error"]["reason"]
    assert (await client.get(f"/api/documents/{DOC}/annotations",
                             headers=bearer(jti="t-2"))).status == 200


# ---- claims --------------------------------------------------------------------------------

async def test_the_jwt_user_creates_and_cannot_claim_another(client):
    headers = bearer(user_id="alice", creator_name="Alice A.", default_group="class")
    base = f"/api/documents/{DOC}/annotations"
    response = await client.post(base, headers=headers, json={"annotations": [
        {"id": "a", "content": note()}, {"id": "b", "user_id": "mallory", "content": note()}]})
    body = await response.json()
    assert body["result"] == "partial_failure"
    assert "must be the JWT's `user_id`" in body["failing_paths"][0]["details"]
    record = body["data"][0]
    assert (record["createdBy"], record["group"]) == ("alice", "class")
    assert record["content"]["creatorName"] == "Alice A."
    assert record["isEditable"] and record["isDeletable"] and record["canSetGroup"]
    response = await client.put(f"{base}/a", headers=headers,
                                json={"user_id": "mallory", "content": note()})
    assert response.status == 403


async def test_the_password_claim_opens_a_protected_pdf(client):
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(user_password="pw"), filename="a.pdf",
                   content_type="application/pdf")
    form.add_field("document_id", "locked")
    await client.post("/api/documents", headers=AUTH, data=form)
    url = "/api/documents/locked/document_info"
    assert (await client.get(url, headers=bearer(document_id="locked"))).status == 403
    response = await client.get(url, headers=bearer(document_id="locked", password="pw"))
    assert (await response.json())["data"]["pageCount"] == 2


# ---- collaboration permissions -------------------------------------------------------------

GRANTS = {
    "all": "annotations:{action}:all",
    "self": "annotations:{action}:self",
    "createdBy=bob": "annotations:{action}:createdBy=bob",
    "group=team": "annotations:{action}:group=team",
}
# which of RECORDS each scope covers, for user alice
COVERED = {"all": {"mine", "bobs", "team"}, "self": {"mine"},
           "createdBy=bob": {"bobs", "team"}, "group=team": {"team"}}


@pytest.mark.parametrize("scope", list(GRANTS))
async def test_view_filters_every_read(client, scope):
    await seed(client, RECORDS)
    headers = bearer(user_id="alice",
                     collaboration_permissions=[GRANTS[scope].format(action="view")])
    base = f"/api/documents/{DOC}"
    listed = await (await client.get(f"{base}/annotations", headers=headers)).json()
    assert {r["id"] for r in listed["data"]["annotations"]} == COVERED[scope]
    lines = (await (await client.get(f"{base}/annotations", headers={
        **headers, "Accept": "application/x-ndjson"})).read()).splitlines()
    assert {orjson.loads(line)["id"] for line in lines} == COVERED[scope]
    page = await (await client.get(f"{base}/pages/0/annotations", headers=headers)).json()
    assert {r["id"] for r in page["data"]["annotations"]} == COVERED[scope]
    exported = await (await client.get(f"{base}/document.json", headers=headers)).json()
    assert {a["id"] for a in exported.get("annotations", [])} == COVERED[scope]
    for record in RECORDS:
        single = await client.get(f"{base}/annotations/{record['id']}", headers=headers)
        history = await client.get(f"{base}/annotations/{record['id']}/history",
                                   headers=headers)
        expected = 200 if record["id"] in COVERED[scope] else 404
        assert (single.status, history.status) == (expected, expected)
    changes = (await (await client.get(f"{base}/changes", headers=headers)).read()).splitlines()
    assert {orjson.loads(c)["id"] for c in changes} == COVERED[scope]
    pdf = await (await client.get(f"{base}/pdf", headers=headers)).read()
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        written = {str(a["/PSPDF:Id"]) for a in opened.pages[0].obj.get("/Annots", [])}
    assert written == COVERED[scope]


@pytest.mark.parametrize("scope", list(GRANTS))
async def test_an_export_holds_only_the_comments_of_annotations_the_caller_sees(client, scope):
    await seed(client, [{**r, "content": {**r["content"], "type": "pspdfkit/comment-marker"}}
                        for r in RECORDS])  # roots that hold threads
    comments = [{"v": 2, "type": "pspdfkit/comment", "id": f"on-{r['id']}", "rootId": r["id"],
                 "text": {"format": "plain", "value": "c"}} for r in RECORDS]
    form = aiohttp.FormData()
    form.add_field("instant.json", orjson.dumps({
        "format": "https://pspdfkit.com/instant-json/v1", "comments": comments}),
        filename="instant.json", content_type="application/json")
    response = await client.post(f"/api/documents/{DOC}/apply_instant_json", headers=AUTH,
                                 data=form)
    assert response.status == 200, await response.text()
    headers = bearer(user_id="alice", collaboration_permissions=[
        GRANTS[scope].format(action="view"), "comments:view:all"])
    exported = await (await client.get(f"/api/documents/{DOC}/document.json",
                                       headers=headers)).json()
    assert {c["rootId"] for c in exported.get("comments", [])} == COVERED[scope]


@pytest.mark.parametrize("action", ["edit", "delete"])
@pytest.mark.parametrize("scope", list(GRANTS))
async def test_edit_and_delete_are_checked_per_record(client, action, scope):
    await seed(client, RECORDS)
    grants = ["annotations:view:all", GRANTS[scope].format(action=action)]
    headers = bearer(user_id="alice", collaboration_permissions=grants)
    base = f"/api/documents/{DOC}/annotations"
    for record in RECORDS:
        if action == "edit":
            response = await client.put(f"{base}/{record['id']}", headers=headers,
                                        json={"content": note(text="changed")})
        else:
            response = await client.delete(f"{base}/{record['id']}", headers=headers)
        allowed = record["id"] in COVERED[scope]
        assert response.status == (200 if allowed else 403), (record["id"], response.status)
    if action == "edit":  # a batch reports the forbidden items and saves the rest
        body = await (await client.put(base, headers=headers, json={"annotations": [
            {"id": r["id"], "content": note(text="again")} for r in RECORDS]})).json()
        assert {d["id"] for d in body["data"]} == COVERED[scope]
        assert len(body["failing_paths"]) == 3 - len(COVERED[scope])


async def test_flags_follow_the_grants(client):
    await seed(client, RECORDS)
    headers = bearer(user_id="alice", collaboration_permissions=[
        "annotations:view:all", "annotations:edit:self", "annotations:delete:group=team",
        "annotations:set-group:group=team"])
    listed = await (await client.get(f"/api/documents/{DOC}/annotations",
                                     headers=headers)).json()
    flags = {r["id"]: (r["isEditable"], r["isDeletable"], r["canSetGroup"])
             for r in listed["data"]["annotations"]}
    assert flags == {"mine": (True, False, False), "bobs": (False, False, False),
                     "team": (False, True, True)}


async def test_set_group_governs_groups_on_create_and_update(client):
    await seed(client, RECORDS)
    grants = ["annotations:view:all", "annotations:edit:all",
              "annotations:set-group:group=team"]
    headers = bearer(user_id="alice", default_group="class",
                     collaboration_permissions=grants)
    base = f"/api/documents/{DOC}/annotations"
    body = await (await client.post(base, headers=headers, json={"annotations": [
        {"id": "n1", "content": note()}, {"id": "n2", "group": "team", "content": note()},
        {"id": "n3", "group": "secret", "content": note()}]})).json()
    assert {d["id"]: d["group"] for d in body["data"]} == {"n1": "class", "n2": "team"}
    assert "group 'secret'" in body["failing_paths"][0]["details"]
    moved = await client.put(f"{base}/mine", headers=headers,
                             json={"group": "team", "content": note()})
    assert moved.status == 200
    refused = await client.put(f"{base}/bobs", headers=headers,
                               json={"group": "secret", "content": note()})
    assert refused.status == 403


async def test_without_a_user_id_collaboration_permissions_are_off(client):
    await seed(client, RECORDS)
    headers = bearer(collaboration_permissions=[])
    listed = await (await client.get(f"/api/documents/{DOC}/annotations",
                                     headers=headers)).json()
    assert len(listed["data"]["annotations"]) == 3


# ---- broken object level authorisation -----------------------------------------------------

async def test_a_hidden_record_cannot_be_read_changed_or_discovered(client):
    png = make_png(seed=9)
    sha = hashlib.sha256(png).hexdigest()
    secret = {"v": 1, "type": "pspdfkit/image", "pageIndex": 0, "bbox": [1, 1, 1, 1],
              "opacity": 1, "contentType": "image/png", "imageAttachmentId": sha}
    form = aiohttp.FormData()
    form.add_field("annotation", orjson.dumps({"annotations": [
        {"id": "secret", "user_id": "bob", "group": "staff", "content": secret}]}),
        content_type="application/json", filename="a.json")
    form.add_field(sha, png, filename="a.png", content_type="image/png")
    await client.post(f"/api/documents/{DOC}/annotations", headers=AUTH, data=form)
    headers = bearer(user_id="alice", collaboration_permissions=[
        "annotations:view:self", "annotations:edit:all", "annotations:delete:all"])
    base = f"/api/documents/{DOC}/annotations"
    missing = await client.get(f"{base}/never-existed", headers=headers)
    for response in [
        await client.get(f"{base}/secret", headers=headers),
        await client.put(f"{base}/secret", headers=headers, json={"content": note()}),
        await client.delete(f"{base}/secret", headers=headers),
        await client.get(f"{base}/secret/history", headers=headers),
        await client.get(f"/api/documents/{DOC}/attachments/{sha}", headers=headers),
    ]:
        assert response.status == missing.status == 404
    body = await (await client.put(base, headers=headers, json={"annotations": [
        {"id": "secret", "content": note()}]})).json()
    assert "no annotation with id 'secret'" in body["failing_paths"][0]["details"]
    body = await (await client.post(base, headers=headers, json={"annotations": [
        {"id": "secret", "content": note()}]})).json()
    assert "already exists" not in body["failing_paths"][0]["details"]
    assert (await client.delete(base, headers=headers, json={"annotationIds": ["secret"]}
                                )).status == 200
    assert (await client.delete(base, headers=headers, json={"annotationIds": "all"}
                                )).status == 200
    exported = await (await client.get(f"/api/documents/{DOC}/document.json",
                                       headers=headers)).json()
    assert "attachments" not in exported
    still = await client.get(f"{base}/secret", headers=AUTH)
    assert (await still.json())["group"] == "staff"


async def test_batch_deletes_by_a_client_are_all_or_nothing(client):
    await seed(client, RECORDS)
    headers = bearer(user_id="alice", collaboration_permissions=[
        "annotations:view:all", "annotations:delete:self"])
    base = f"/api/documents/{DOC}/annotations"
    response = await client.delete(base, headers=headers,
                                   json={"annotationIds": ["mine", "bobs"]})
    assert response.status == 403
    assert (await client.get(f"{base}/mine", headers=AUTH)).status == 200
    await client.delete(base, headers=headers, json={"annotationIds": "all"})
    listed = await (await client.get(base, headers=AUTH)).json()
    assert {r["id"] for r in listed["data"]["annotations"]} == {"bobs", "team"}


async def test_a_client_jwt_may_not_delete_documents_in_bulk(client):
    response = await client.delete("/api/documents", headers=bearer(), params={"title": "x"})
    assert response.status in (401, 403)
    assert (await client.get(f"/api/documents/{DOC}/properties", headers=AUTH)).status == 200


async def test_a_viewer_may_load_the_pdf_it_displays_without_download(client):
    """``download`` governs downloading the layer's PDF (and printing), as in Document
    Engine; the source PDF a viewer displays needs only ``read-document``."""
    response = await client.get(f"/api/documents/{DOC}/pdf?source=true",
                                headers=bearer(permissions=["read-document"]))
    assert response.status == 200, await response.text()
    assert (await response.read()).startswith(b"%PDF")


# ---- whole-document saves --------------------------------------------------------------------

async def test_a_jwt_saves_as_its_user(client):
    headers = bearer(user_id="alice")
    exported = await (await client.get(f"/api/documents/{DOC}/document.json",
                                       headers=headers)).json()
    exported["annotations"] = [{"id": "new", **note(text="by alice")}]
    response = await client.put(f"/api/documents/{DOC}/document.json", headers=headers,
                                json=exported)
    assert response.status == 200, await response.text()
    record = await (await client.get(f"/api/documents/{DOC}/annotations/new",
                                     headers=AUTH)).json()
    assert record["createdBy"] == "alice"
    response = await client.put(f"/api/documents/{DOC}/document.json", json=exported,
                                headers=bearer(permissions=["read-document"]))
    assert response.status == 403


async def test_a_jwt_save_changes_only_what_its_grants_allow(client):
    await seed(client, RECORDS)
    headers = bearer(user_id="alice", collaboration_permissions=[
        "annotations:view:all", "annotations:edit:self", "annotations:delete:self"])
    exported = await (await client.get(f"/api/documents/{DOC}/document.json",
                                       headers=headers)).json()
    by_id = {a["id"]: a for a in exported["annotations"]}
    changed = [{**by_id["mine"], "text": {"format": "plain", "value": "mine, edited"}},
               {**by_id["bobs"], "text": {"format": "plain", "value": "bob's, edited"}}]
    response = await client.put(f"/api/documents/{DOC}/document.json", headers=headers,
                                json={**exported, "annotations": changed})  # 'team' left out
    assert response.status == 409
    body = await response.json()
    refused = {r["id"]: r["reason"] for r in body["data"]["refused"]}
    assert set(refused) == {"bobs", "team"} and "may not edit" in refused["bobs"]
    assert body["data"]["updated"] == 1 and body["data"]["deleted"] == 0
    state = {r["id"]: r["content"]["text"]["value"] for r in
             (await (await client.get(f"/api/documents/{DOC}/annotations",
                                      headers=AUTH)).json())["data"]["annotations"]}
    assert state == {"mine": "mine, edited", "bobs": "bobs", "team": "team"}


async def test_a_jwt_save_neither_keeps_nor_deletes_what_it_cannot_see(client):
    await seed(client, RECORDS)
    headers = bearer(user_id="alice", collaboration_permissions=[
        "annotations:view:self", "annotations:edit:self", "annotations:delete:self"])
    exported = await (await client.get(f"/api/documents/{DOC}/document.json",
                                       headers=headers)).json()
    assert [a["id"] for a in exported["annotations"]] == ["mine"]
    response = await client.put(f"/api/documents/{DOC}/document.json", headers=headers,
                                json={**exported, "annotations": []})
    assert response.status == 200, await response.text()
    assert (await response.json())["data"]["deleted"] == 1
    state = (await (await client.get(f"/api/documents/{DOC}/annotations",
                                     headers=AUTH)).json())["data"]["annotations"]
    assert {r["id"] for r in state} == {"bobs", "team"}

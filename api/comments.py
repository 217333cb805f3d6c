"""Comment threads (Instant Comments) for the default layer and under /layers/:layer_name/:
a root annotation's comments, listed and posted; a root with its first comments in one
write; and (extensions) one comment's update, deletion and history.

A comment is a record of its own (``eventstore.domain.Comment``), the same one Instant JSON
imports and exports carry, so every route, export and replay sees the same comments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from ulid import ULID

from api.auth import client_of
from api.bodies import read_json
from api.clients import Client
from api.context import (
    as_client,
    create_command,
    document_and_layer,
    materialise,
    shown_layer,
    write_all,
)
from api.errors import ApiError
from api.parsing import AnnotationInput, json_object, optional_string, parse_item
from api.responses import json_response
from api.services import Services
from eventstore.commands import HIDDEN, CreateComment, DeleteComment, Guard, UpdateComment
from eventstore.errors import ForbiddenError
from eventstore.names import check_annotation_id
from eventstore.times import utc_second_text
from eventstore.validation import THREAD_ROOT_TYPES, ContentError
from projections.sections import check_comment

COMMENT = "pspdfkit/comment"
MAX_COMMENTS = 1000  # per request


async def list_comments(request: web.Request) -> web.Response:
    """``GET …/annotations/:annotation_id/comments``: the thread, oldest first."""
    services, access, layer = await document_and_layer(request)
    shown, base = await shown_layer(services, access, layer, None)
    root = await _root(request, services, access.row.document_id, shown, base)
    if base is None:
        comments = await services.run(services.read_model.thread, access.row.document_id,
                                      shown, root["id"])
    else:  # a named layer never written: the base layer's thread
        comments = [c for c in await services.run(services.read_model.comment_state,
                                                   access.row.document_id, shown, base)
                    if c["content"].get("rootId") == root["id"]]
    client = client_of(request)
    if client is not None:
        comments = [client.decorated(c, "comments") for c in comments
                    if client.sees(c, "comments")]
    return json_response({"data": {"comments": comments}})


async def post_comments(request: web.Request) -> web.Response:
    """``POST …/annotations/:annotation_id/comments``: replies, all or none."""
    services, access, layer = await document_and_layer(request)
    await materialise(request, services, access, layer)
    root = await _root(request, services, access.row.document_id, layer)
    body = json_object(await read_json(request, services))
    client = client_of(request)
    comments = _comments_or_refuse(body, root, access.page_count, client)
    guard = client.reply_guard() if client is not None else None
    revision = await write_all(request, services, [
        _create(access.row.document_id, layer, c, guard) for c in comments])
    return json_response({"data": {"comments": [{"id": c.annotation_id} for c in comments]},
                          "revision": revision}, revision=revision)


async def create_thread(request: web.Request) -> web.Response:
    """``POST …/comments``: a root annotation and its first comments, in one write."""
    services, access, layer = await document_and_layer(request, creating=True)
    await materialise(request, services, access, layer)
    body = json_object(await read_json(request, services))
    client = client_of(request)
    errors: dict[str, Any] = {}
    root = _root_item(body.get("annotation"), access.page_count, client, errors)
    comments: list[AnnotationInput] = []
    if root is not None:
        found = _parse_comments(body.get("comments"), _record_of(root), access.page_count,
                                client)
        if any(found.errors):
            errors["comments"] = found.errors
        comments = found.items
    elif not isinstance(body.get("comments"), list):
        errors["comments"] = ["must be a list of comments"]
    if errors:
        raise ApiError(422, "", body=errors)
    assert root is not None
    revision = await write_all(request, services, [
        create_command(access.row.document_id, layer, root, client),
        *(_create(access.row.document_id, layer, c, None) for c in comments)])
    return json_response({"data": {"annotation": {"id": root.annotation_id},
                                   "comments": [{"id": c.annotation_id} for c in comments]},
                          "revision": revision}, revision=revision)


async def update_comment(request: web.Request) -> web.Response:
    """``PUT …/annotations/:annotation_id/comments/:comment_id`` (extension): new content
    (and group) for one comment; its creator and thread stay."""
    services, access, layer = await document_and_layer(request)
    await materialise(request, services, access, layer)
    root = await _root(request, services, access.row.document_id, layer)
    body = json_object(await read_json(request, services))
    comment_id = request.match_info["comment_id"]
    client = client_of(request)
    current = await _comment(services, access.row.document_id, layer, comment_id)
    found = _parse_comments([{**body, "id": comment_id}], root, access.page_count, client,
                            creating=False, created_at=(current or {}).get(
                                "content", {}).get("createdAt"))
    if any(found.errors):
        raise ApiError(422, "", body={"comments": found.errors})
    [item] = found.items
    edit = client.edit_guard(item.group, item.has_group, "comments") if client else None
    command = UpdateComment(access.row.document_id, layer, comment_id, item.content,
                            item.user_id, item.group, keep_group=not item.has_group,
                            guard=_in_thread(root["id"], edit))
    revision = await write_all(request, services, [command])
    record = await _comment(services, access.row.document_id, layer, comment_id)
    shown = client.decorate(record, "comments") if client else record
    return json_response({"data": shown, "revision": revision or None}, revision=revision)


async def delete_comment(request: web.Request) -> web.Response:
    """``DELETE …/annotations/:annotation_id/comments/:comment_id`` (extension); the last
    comment of a comment marker takes the marker with it."""
    services, access, layer = await document_and_layer(request)
    await materialise(request, services, access, layer)
    root = await _root(request, services, access.row.document_id, layer)
    client = client_of(request)
    guard = _in_thread(root["id"], client.delete_guard("comments") if client else None)
    command = DeleteComment(access.row.document_id, layer, request.match_info["comment_id"],
                            client.user_id if client else None, guard=guard)
    revision = await write_all(request, services, [command])
    return json_response({"data": {"id": command.comment_id}, "revision": revision},
                         revision=revision)


async def comment_history(request: web.Request) -> web.Response:
    """``GET …/annotations/:annotation_id/comments/:comment_id/history`` (extension): who
    wrote, changed and deleted the comment, when, and each version."""
    services, access, layer = await document_and_layer(request)
    root = await _root(request, services, access.row.document_id, layer)
    comment_id = request.match_info["comment_id"]
    changes = await services.run(services.read_model.comment_history,
                                 access.row.document_id, layer, comment_id)
    client = client_of(request)
    changes = [c for c in changes if c["record"]["content"].get("rootId") == root["id"]
               and (client is None or client.sees(c["record"], "comments"))]
    if not changes:
        raise ApiError(404, f"comment {comment_id!r} has no history in this thread")
    return json_response({"data": changes})


async def _root(request: web.Request, services: Services, document_id: str, layer: str,
                upto: int | None = None) -> dict[str, Any]:
    """The path's root annotation (now, or at revision ``upto``): 404 when the caller cannot
    see it, 400 when it holds no thread."""
    root_id = request.match_info["annotation_id"]
    found = await services.run(services.read_model.annotation_version, document_id, layer,
                               root_id, upto)
    record = orjson.loads(found[0]) if found else None
    client = client_of(request)
    if record is None or (client is not None and not client.sees(record)):
        raise ApiError(404, f"no annotation with id {root_id!r} in this layer")
    kind = record["content"].get("type")
    if kind not in THREAD_ROOT_TYPES:
        raise ApiError(400, f"annotation {root_id!r} is a {kind}, which holds no comments: "
                            "the root must be a markup annotation (highlight, underline, "
                            "squiggly, strikeout) or a pspdfkit/comment-marker")
    return record


async def _comment(services: Services, document_id: str, layer: str, comment_id: str
                   ) -> dict[str, Any] | None:
    history = await services.run(services.read_model.comment_history, document_id, layer,
                                 comment_id)
    return history[-1]["record"] if history else None


def _in_thread(root_id: str, then: Guard | None) -> Guard:
    """A comment of another thread is as unknown here as a missing one."""
    def guard(record: dict[str, Any]) -> str | None:
        if record["content"].get("rootId") != root_id:
            return HIDDEN
        return then(record) if then is not None else None
    return guard


def _create(document_id: str, layer: str, item: AnnotationInput, guard: Guard | None
            ) -> CreateComment:
    return CreateComment(document_id, layer, item.annotation_id, item.content, item.group,
                         item.user_id, guard)


def _record_of(root: AnnotationInput) -> dict[str, Any]:
    return {"id": root.annotation_id, "content": root.content}


def _root_item(item: Any, page_count: int | None, client: Client | None,
               errors: dict[str, Any]) -> AnnotationInput | None:
    """The new thread's root annotation, or None with its field errors in ``errors``."""
    if not isinstance(item, dict):
        errors["annotation"] = {"content": ["is required"]} if item is None else \
            {"annotation": ["must be an object"]}
        return None
    try:
        root = parse_item(item, page_count=page_count, id_required=False)
        if client is not None:
            root = as_client(client, root, creating=True)
    except ContentError as error:
        errors["annotation"] = {_field_of(str(error), "content"): [str(error)]}
        return None
    except ForbiddenError as error:
        raise ApiError(403, str(error)) from None
    if root.content.get("type") not in THREAD_ROOT_TYPES:
        raise ApiError(400, f"the root annotation is a {root.content.get('type')}, which "
                            "holds no comments: it must be a markup annotation (highlight, "
                            "underline, squiggly, strikeout) or a pspdfkit/comment-marker")
    return root


class Parsed:
    """The comments of a request that passed, and one field-error map per comment (empty
    for those that passed), in the request's order."""

    def __init__(self) -> None:
        self.items: list[AnnotationInput] = []
        self.errors: list[dict[str, list[str]]] = []


def _comments_or_refuse(body: dict[str, Any], root: dict[str, Any], page_count: int | None,
                        client: Client | None) -> list[AnnotationInput]:
    found = _parse_comments(body.get("comments"), root, page_count, client)
    if any(found.errors):
        raise ApiError(422, "", body={"comments": found.errors})
    return found.items


def _parse_comments(items: Any, root: dict[str, Any], page_count: int | None,
                    client: Client | None, *, creating: bool = True,
                    created_at: str | None = None) -> Parsed:
    """Comment items as records of the root; an update keeps the comment's ``createdAt``
    unless it sends one."""
    now = utc_second_text(datetime.now(UTC))
    times = {"createdAt": created_at or now, "updatedAt": now}
    if not isinstance(items, list) or not items:
        raise ApiError(422, "", body={"comments": ["must be a non-empty list of comments"]})
    if len(items) > MAX_COMMENTS:
        raise ApiError(413, f"{len(items)} comments in one request; the limit is "
                            f"{MAX_COMMENTS}")
    parsed, seen = Parsed(), set()
    for item in items:
        errors: dict[str, list[str]] = {}
        comment = _parse_comment(item, root, page_count, client, errors, creating, times)
        if comment is not None and comment.annotation_id in seen:
            errors["id"] = [f"{comment.annotation_id!r} appears more than once"]
        elif comment is not None:
            seen.add(comment.annotation_id)
            parsed.items.append(comment)
        parsed.errors.append(errors)
    return parsed


def _parse_comment(item: Any, root: dict[str, Any], page_count: int | None,
                   client: Client | None, errors: dict[str, list[str]], creating: bool,
                   times: dict[str, str]) -> AnnotationInput | None:
    """One comment item ``{"id"?, "user_id"?, "group"?, "content": {"text", …}}`` as the
    record it makes: an Instant JSON comment of the root, checked as an import checks it."""
    if not isinstance(item, dict):
        errors["comment"] = ["must be an object with a 'content' object"]
        return None
    content = item.get("content")
    if content is None:
        errors["content"] = ["is required"]
    elif not isinstance(content, dict):
        errors["content"] = ["must be an object"]
    try:
        comment_id = check_annotation_id(item["id"], new=creating) \
            if item.get("id") is not None else str(ULID())
    except ContentError as error:
        errors["id"] = [str(error)]
    for key in ("user_id", "group"):
        try:
            optional_string(item, key)
        except ContentError as error:
            errors[key] = [str(error)]
    if errors or not isinstance(content, dict):
        return None
    record = {**times, **content, "v": 2, "type": COMMENT, "id": comment_id,
              "rootId": root["id"]}
    return _checked(item, record, root, page_count, client, errors, creating)


def _checked(item: dict[str, Any], record: dict[str, Any], root: dict[str, Any],
             page_count: int | None, client: Client | None, errors: dict[str, list[str]],
             creating: bool) -> AnnotationInput | None:
    content, comment_id = item["content"], record["id"]
    if content.get("rootId", root["id"]) != root["id"]:
        errors["content"] = [f"'rootId' must be the thread's root {root['id']!r} (or left "
                             "out)"]
        return None
    if "pageIndex" not in content and root["content"].get("pageIndex") is not None:
        record["pageIndex"] = root["content"]["pageIndex"]
    try:
        checked = check_comment(record, page_count, {root["id"]})
    except ContentError as error:
        errors["content"] = [str(error)]
        return None
    del checked["id"]
    comment = AnnotationInput(comment_id, checked, item.get("user_id"), item.get("group"),
                              "group" in item)
    if client is None:
        return comment
    try:
        return as_client(client, comment, creating=creating, content_type="comments")
    except ForbiddenError as error:  # the user_id or group it may not claim
        errors[_field_of(str(error), "group")] = [str(error)]
        return None


def _field_of(reason: str, default: str) -> str:
    """The field a reason is about, for the engine's field-keyed 422 bodies."""
    for name in ("user_id", "group", "id"):
        if f"'{name}'" in reason:
            return name
    return default

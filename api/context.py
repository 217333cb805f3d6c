"""What most routes start from: the document their path names (with a protected PDF's
password), its layer, the revision their query asks for, what a JWT caller may send, and
writes that are all or nothing."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from api.clients import CLIENT, Client
from api.errors import ApiError, request_id, status_of
from api.parsing import AnnotationInput, layer_name, whole_number
from api.services import SERVICES, Services
from eventstore.commands import (
    Command,
    CreateAnnotation,
    NewAttachment,
    Rejected,
    UpdateAnnotation,
)
from eventstore.domain import DEFAULT_LAYER
from eventstore.errors import ForbiddenError, LayerExistsError, NotAppliedError
from eventstore.times import utc, utc_micro_text
from projections.pdfs import PdfPasswordError, pages_with_password
from projections.queries import DocumentRow
from projections.replays import base_layer_commands

PASSWORD_HEADER = "pspdfkit-pdf-password"


@dataclass(frozen=True)
class DocumentAccess:
    """A document the caller may use; a protected PDF's pages are known once it is opened."""

    row: DocumentRow
    opened: list[dict[str, Any]] | None = None  # the pages of a protected PDF, opened
    password: str | None = None

    @property
    def page_count(self) -> int | None:
        return len(self.opened) if self.opened is not None else self.row.page_count

    @property
    def pages(self) -> list[dict[str, Any]] | None:
        return self.opened if self.opened is not None else self.row.pages


async def document_access(request: web.Request, document_id: str) -> DocumentAccess:
    """The document, or 404; for a protected PDF the password header (or the JWT's
    ``password`` claim) must open it, else 403."""
    services = request.app[SERVICES]
    row = await services.document(document_id)
    if row is None:
        raise ApiError(404, f"document {document_id!r} not found")
    if not row.password_protected:
        return DocumentAccess(row)
    password = password_of(request)
    client = request.get(CLIENT)
    if password is None and client is not None:
        password = client.password
    if password is None:
        raise ApiError(403, f"document {document_id!r} is password-protected; send its "
                            f"password in the '{PASSWORD_HEADER}' header", text=True)
    return DocumentAccess(row, await _open_protected(services, row, password), password)


async def _open_protected(services: Services, row: DocumentRow, password: str
                          ) -> list[dict[str, Any]]:
    key = (row.sha256, password)
    pages = services.opened.get(key)
    if pages is None:
        pages = await services.read_pdf(pages_with_password, services.blobs.path(row.sha256),
                                        password)
        if len(services.opened) > 4096:
            services.opened.clear()
        services.opened[key] = pages
    return pages


def password_of(request: web.Request) -> str | None:
    """The ``pspdfkit-pdf-password`` header, with its ``base64:`` form decoded."""
    value = request.headers.get(PASSWORD_HEADER)
    if value is None or not value.startswith("base64:"):
        return value
    try:
        return base64.b64decode(value[len("base64:"):], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise PdfPasswordError(
            f"the '{PASSWORD_HEADER}' header's base64: value is not valid base64 of UTF-8 "
            "text") from None


async def document_and_layer(request: web.Request, *, creating: bool = False
                             ) -> tuple[Services, DocumentAccess, str]:
    """The services, the document (404, or 403 for a protected PDF without its password)
    and the layer of the path; ``creating`` routes may create the layer (see layer_name)."""
    services = request.app[SERVICES]
    layer = layer_name(request, creating=creating)
    access = await document_access(request, request.match_info["document_id"])
    return services, access, layer


async def shown_layer(services: Services, access: DocumentAccess, layer: str,
                      upto: int | None) -> tuple[str, int | None]:
    """What a read of ``layer`` at revision ``upto`` shows, as (layer, revision): a named
    layer never written (or deleted) mirrors the base layer, the default layer as the upload
    left it, as Document Engine's layers do until their first write."""
    if layer == DEFAULT_LAYER or services.read_model.layer_exists(access.row.document_id,
                                                                  layer):
        return layer, upto  # a primary-key lookup, done on the loop
    base = await services.base_revision(access.row)
    return DEFAULT_LAYER, base if upto is None else min(upto, base)


async def materialise(request: web.Request, services: Services, access: DocumentAccess,
                      layer: str, write_id: str | None = None) -> None:
    """A named layer mirrors the base layer until its first write, which copies the base in
    first (Document Engine's rule). Done before the write, under the same request id (time
    travel shows the two as one write unless another came between); a layer that another
    request brought into being meanwhile is left as it is."""
    document_id = access.row.document_id
    if layer == DEFAULT_LAYER or services.read_model.layer_exists(document_id, layer):
        return  # a primary-key lookup, done on the loop
    await services.caught_up()
    if await services.run(services.read_model.layer_exists, document_id, layer):
        return
    commands = await services.run(base_layer_commands, services.read_model, document_id,
                                  layer, await services.base_revision(access.row))
    if len(commands) == 1:  # an empty base: the write creates the layer by itself
        return
    outcomes, _ = await services.write(commands, write_id or request_id(request),
                                       atomic=True)
    refused = next((o.error for o in outcomes if isinstance(o, Rejected)
                    and not isinstance(o.error, NotAppliedError)), None)
    if refused is not None and not isinstance(refused, LayerExistsError):
        raise ApiError(status_of(refused), str(refused))


async def resolve_revision(services: Services, params: Any) -> tuple[int | None, int]:
    """``revision=N`` or ``at=<ISO 8601>`` (extensions), once the read model shows every
    write committed so far (by any process): (the revision to show, None for now; the
    log's current revision). A revision inside a write of many events becomes the end of
    the write before it, so no one is shown a write half applied."""
    revision, at = params.get("revision"), params.get("at")
    if revision is not None and at is not None:
        raise ApiError(400, "give either 'revision' or 'at', not both")
    if revision is not None:  # present but empty is malformed, not absent
        asked = whole_number(revision, "'revision'")
    elif at is not None:
        asked = await services.run(services.read_model.revision_at, _utc_stamp(at))
    else:
        return None, await services.caught_up()
    current = await services.caught_up()
    if asked > current:
        raise ApiError(409, f"revision {asked} is beyond the log's current revision "
                            f"{current}")
    return await services.run(services.log.whole_revision, asked), current


def _utc_stamp(at: Any) -> str:
    """An ISO 8601 time as the read model's ``at`` columns write it."""
    try:
        return utc_micro_text(utc(str(at)))
    except ValueError as error:
        raise ApiError(400, f"'at' must be an ISO 8601 time: {error}") from None


async def write_all(request: web.Request, services: Services, commands: list[Command]) -> int:
    """Write commands all or nothing; the first real failure decides the status."""
    outcomes, revision = await services.write(commands, request_id(request), atomic=True)
    for outcome in outcomes:
        if isinstance(outcome, Rejected) and not isinstance(outcome.error, NotAppliedError):
            raise ApiError(status_of(outcome.error), str(outcome.error))
    return revision


def as_client(client: Client, item: AnnotationInput, *, creating: bool,
              content_type: str = "annotations") -> AnnotationInput:
    """The JWT's user acts (no other may be claimed), its creator_name is forced, and a new
    record's group is its default_group unless set-group allows another."""
    if item.user_id is not None and item.user_id != client.user_id:
        raise ForbiddenError("'user_id' must be the JWT's `user_id` (or left out)")
    content = item.content
    if client.creator_name is not None:
        content = {**content, "creatorName": client.creator_name}
    group, has_group = item.group, item.has_group
    if creating:
        group = group if has_group else client.default_group
        target = {"createdBy": client.user_id, "group": group}
        if group != client.default_group and not client.may_set_group(target, group,
                                                                      content_type):
            raise ForbiddenError(f"you may not create {content_type} in group {group!r}")
        has_group = True
    return replace(item, content=content, user_id=client.user_id, group=group,
                   has_group=has_group)


def create_command(document_id: str, layer: str, item: AnnotationInput, client: Client | None,
                   brought: dict[str, NewAttachment] | None = None) -> CreateAnnotation:
    """The command that creates ``item``; a JWT caller may only create what does not exist."""
    return CreateAnnotation(document_id, layer, item.annotation_id, item.content, item.group,
                            item.user_id, **_attachment_fields(item, brought or {}),
                            guard=client.exists_guard() if client else None)


def update_command(document_id: str, layer: str, item: AnnotationInput, client: Client | None,
                   brought: dict[str, NewAttachment] | None = None) -> UpdateAnnotation:
    """The command that updates ``item``, guarded by what a JWT caller may edit."""
    guard = client.edit_guard(item.group, item.has_group) if client else None
    return UpdateAnnotation(document_id, layer, item.annotation_id, item.content, item.user_id,
                            group=item.group, keep_group=not item.has_group,
                            **_attachment_fields(item, brought or {}), guard=guard,
                            base_version=item.base_version)


def _attachment_fields(item: AnnotationInput, brought: dict[str, NewAttachment]
                       ) -> dict[str, Any]:
    return {"references": item.references,
            "attachments": tuple(brought[r] for r in item.references if r in brought)}

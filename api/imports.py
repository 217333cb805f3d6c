"""Applying an Instant JSON document to a layer, all or nothing: shared by the import route,
layer creation and document upload."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from aiohttp import web

from api.bodies import parse_json, read_body
from api.context import DocumentAccess
from api.errors import ApiError, request_id, status_of
from api.services import Services
from api.uploads import small_form
from eventstore.commands import Command, Outcome, Rejected
from eventstore.domain import DEFAULT_LAYER
from eventstore.errors import NotAppliedError
from projections.instant_json import ImportPlan, plan_import
from projections.pdfs import annotation_numbers, pdf_identifier
from projections.replays import import_commands, import_paths

INSTANT_JSON_PART = "instant.json"


async def read_instant_json(request: web.Request, services: Services) -> Any:
    """The document from a multipart 'instant.json' part, or from a JSON body."""
    if not request.content_type.startswith("multipart/"):
        return await parse_json(await read_body(request, services), services)
    fields = await small_form(request, services, INSTANT_JSON_PART)
    if INSTANT_JSON_PART not in fields:
        raise ApiError(422, "the multipart body has no 'instant.json' part")
    return fields[INSTANT_JSON_PART]


async def plan_for(services: Services, access: DocumentAccess, document: Any,
                   layer: str = DEFAULT_LAYER, before: Sequence[Command] = (), *,
                   whole: bool = False) -> ImportPlan:
    """The import plan of a document for a layer, after the commands ``before``. A
    ``whole`` document (a save) is the layer's whole state: its comments' roots are its own
    annotations, or annotations of the PDF that it leaves as they are."""
    pdf_id = None
    if isinstance(document, dict) and document.get("pdfId") is not None:
        pdf_id = await services.run(pdf_identifier, services.blobs.path(access.row.sha256),
                                    access.password)
    layer_ids: list[str] = [c.annotation_id for c in before if hasattr(c, "annotation_id")]
    if isinstance(document, dict) and document.get("comments"):  # they need their roots
        await services.caught_up()
        read, document_id = services.read_model, access.row.document_id
        if whole:
            layer_ids += (await services.run(read.records_by_pdf_object, document_id,
                                             layer)).values()
        else:
            layer_ids += await services.run(read.live_annotation_ids, document_id, layer)
    numbers: list[int] = []
    recorded: dict[int, str] = {}
    if isinstance(document, dict) and document.get("skippedPdfObjectIds"):
        numbers = await services.run(annotation_numbers, services.blobs.path(access.row.sha256),
                                     access.password)
        await services.caught_up()
        recorded = await services.run(services.read_model.records_by_pdf_object,
                                      access.row.document_id, layer)
    return await services.run(partial(plan_import, document, page_count=access.page_count,
                                      pdf_id=pdf_id, layer_ids=layer_ids,
                                      pdf_annotations=numbers, recorded=recorded))


async def apply_plan(request: web.Request, services: Services, access: DocumentAccess,
                     layer: str, document: Any, before: Sequence[Command] = ()
                     ) -> tuple[int, ImportPlan]:
    """Apply a whole Instant JSON document (after ``before``) in one transaction."""
    plan = await plan_for(services, access, document, layer, before)
    if plan.problems:
        raise refuse(plan.problems)
    commands = list(before) + await services.run(
        import_commands, services.blobs, plan, access.row.document_id, layer)
    outcomes, revision = await services.write(commands, request_id(request), atomic=True)
    for outcome in outcomes[:len(before)]:  # what the import comes after decides (409, ...)
        if isinstance(outcome, Rejected) and not isinstance(outcome.error, NotAppliedError):
            raise ApiError(status_of(outcome.error), str(outcome.error))
    raise_rejections(outcomes[len(before):], import_paths(plan))
    return revision, plan


def raise_rejections(outcomes: list[Outcome], paths: list[str]) -> None:
    """A 422 naming every command that failed an all-or-nothing import, by its place in
    the document; nothing when none failed."""
    problems = [{"path": path, "details": str(outcome.error)}
                for path, outcome in zip(paths, outcomes, strict=True)
                if isinstance(outcome, Rejected)
                and not isinstance(outcome.error, NotAppliedError)]
    if problems:
        raise refuse(problems)


def refuse(problems: list[dict[str, str]]) -> ApiError:
    return ApiError(422, "the Instant JSON document was not applied; nothing was changed: "
                         + "; ".join(f"{p['path']}: {p['details']}" for p in problems),
                    records=problems)

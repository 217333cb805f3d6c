"""Replays of the read model that the API and the CLI share (blocking; run them off the event
loop): a layer as Instant JSON at a revision, the commands that copy a layer, revert one to
an earlier state or delete it, and the commands of an import plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from eventstore.blobs import BlobStore
from eventstore.commands import (
    Command,
    CopyAnnotation,
    CreateLayer,
    DeleteAnnotation,
    DeleteLayer,
    NewAttachment,
    PutAnnotation,
    SetSections,
)
from eventstore.domain import SECTIONS
from eventstore.names import attachment_references
from projections.instant_json import (
    ImportPlan,
    canonical_timestamp,
    export_annotation,
    export_document,
)
from projections.queries import ReadModel
from projections.sections import export_sections


def instant_json_of(read_model: ReadModel, blobs: BlobStore, document_id: str, layer: str,
                    upto: int | None = None, annotation_version: int | None = None,
                    sees: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """A layer as Instant JSON at a revision (now when None), with only the records
    ``sees`` allows and the attachments they name; the PDF's own annotations that became
    records since deleted (or that the caller may not see) are listed as skipped, so that
    a viewer of the source PDF shows exactly this state."""
    records = (orjson.loads(r) for r in read_model.layer_state(document_id, layer, upto))
    annotations = [export_annotation(r, annotation_version) for r in records
                   if sees is None or sees(r)]
    sections = export_sections(read_model.sections(document_id, layer, upto),
                               canonical_timestamp,
                               None if sees is None else {a["id"] for a in annotations})
    attachments: dict[str, tuple[str, bytes]] = {}
    for annotation in annotations:
        for attachment_id in attachment_references(annotation):
            row = read_model.attachment(document_id, attachment_id)
            if row is not None and attachment_id not in attachments:
                attachments[attachment_id] = (row.content_type,
                                              blobs.path(row.sha256).read_bytes())
    shown = {a["pdfObjectId"] for a in annotations if isinstance(a.get("pdfObjectId"), int)}
    skipped = sorted(read_model.pdf_object_ids(document_id, layer, upto) - shown)
    return export_document(annotations, attachments, sections, skipped)


def import_commands(blobs: BlobStore, plan: ImportPlan, document_id: str, layer: str
                    ) -> list[Command]:
    """Store the plan's attachments and turn its records into commands."""
    brought: dict[str, NewAttachment] = {}
    for attachment in plan.attachments.values():
        blobs.put_bytes(attachment.data)
        brought[attachment.attachment_id] = NewAttachment(
            attachment.attachment_id, attachment.content_type, len(attachment.data),
            attachment.sha256)
    commands: list[Command] = [
        PutAnnotation(document_id, layer, annotation_id, content, None, None,
                      references=references,
                      attachments=tuple(brought[r] for r in references if r in brought))
        for annotation_id, content, references in plan.annotations]
    if plan.sections:
        commands.append(SetSections(document_id, layer, plan.sections))
    commands += [DeleteAnnotation(document_id, layer, record_id, missing_ok=True)
                 for _, record_id in plan.removed]
    return commands


def import_paths(plan: ImportPlan) -> list[str]:
    """Where each of ``import_commands``' commands comes from in the document."""
    return [f"$.annotations[{i}]" for i in range(len(plan.annotations))] + (
        ["$"] if plan.sections else []) + [path for path, _ in plan.removed]


def import_counts(plan: ImportPlan) -> dict[str, int]:
    """How many records of each kind an applied import brought."""
    return {"annotations": len(plan.annotations), "attachments": len(plan.attachments),
            **{name: len(plan.sections.get(name, ())) for name in SECTIONS}}


def layer_copy_commands(read_model: ReadModel, document_id: str, source: str, name: str,
                        upto: int | None) -> list[Command]:
    """Commands creating layer ``name`` as a copy of ``source`` at revision ``upto`` (now
    when None): its records, with their creators, and its other sections."""
    records = read_model.layer_state(document_id, source, upto)
    commands: list[Command] = [CreateLayer(document_id, name)]
    commands += [copy_command(document_id, name, orjson.loads(r)) for r in records]
    sections = read_model.sections(document_id, source, upto)
    if sections:
        commands.append(SetSections(document_id, name, sections, replace=True))
    return commands


def copy_command(document_id: str, layer: str, record: dict[str, Any]) -> CopyAnnotation:
    """A record brought back or copied as it was, with its creator and last editor."""
    return CopyAnnotation(document_id, layer, record["id"], record["content"],
                          record["group"], record["createdBy"], record["updatedBy"])


def document_copy_commands(read_model: ReadModel, source: str, target: str,
                           upto: int | None) -> list[Command]:
    """Commands giving the new document ``target`` the state of every layer of ``source``
    at revision ``upto``: its records, with their creators, the attachments they name (the
    same blobs, now held by the copy too) and the layers' other sections. The upload that
    creates ``target`` goes before them, in the same write."""
    commands: list[Command] = []
    held: dict[str, NewAttachment] = {}
    for layer in ["", *read_model.layers(source)]:
        if layer:
            commands.append(CreateLayer(target, layer))
        for text in read_model.layer_state(source, layer, upto):
            record = orjson.loads(text)
            references = attachment_references(record["content"])
            for attachment_id in references:
                if attachment_id not in held:
                    row = read_model.attachment(source, attachment_id)
                    if row is not None:
                        held[attachment_id] = NewAttachment(
                            attachment_id, row.content_type, row.byte_size,
                            row.sha256 if row.sha256 != attachment_id else "")
            commands.append(CopyAnnotation(
                target, layer, record["id"], record["content"], record["group"],
                record["createdBy"], record["updatedBy"], references,
                tuple(held[a] for a in references if a in held)))
        sections = read_model.sections(source, layer, upto)
        if sections:
            commands.append(SetSections(target, layer, sections, replace=True))
    return commands


def layer_delete_commands(read_model: ReadModel, document_id: str, layer: str
                          ) -> list[Command]:
    """Commands deleting a layer with every record and section it holds."""
    commands: list[Command] = [
        DeleteAnnotation(document_id, layer, i, missing_ok=True)
        for i in read_model.live_annotation_ids(document_id, layer)]
    commands.append(SetSections(document_id, layer, {}, replace=True))
    commands.append(DeleteLayer(document_id, layer))
    return commands


def layer_revert_commands(read_model: ReadModel, document_id: str, layer: str, upto: int
                          ) -> list[Command]:
    """Commands that bring a layer back to its state at revision ``upto``."""
    then = read_model.layer_state(document_id, layer, upto)
    now = read_model.layer_state(document_id, layer, None)
    commands = revert_commands(document_id, layer, [orjson.loads(r) for r in then],
                               [orjson.loads(r) for r in now])
    sections_then = read_model.sections(document_id, layer, upto)
    if sections_then != read_model.sections(document_id, layer, None):
        commands.append(SetSections(document_id, layer, sections_then, replace=True))
    return commands


def revert_commands(document_id: str, layer: str, then: list[dict[str, Any]],
                    now: list[dict[str, Any]]) -> list[Command]:
    """Commands that turn the records ``now`` into the records ``then``."""
    wanted = {r["id"]: r for r in then}
    current = {r["id"]: r for r in now}
    commands: list[Command] = [DeleteAnnotation(document_id, layer, i)
                               for i in current if i not in wanted]
    for annotation_id, record in wanted.items():
        present = current.get(annotation_id)
        if present == record:
            continue
        if present is not None and present["createdBy"] != record["createdBy"]:
            commands.append(DeleteAnnotation(document_id, layer, annotation_id))
            present = None
        if present is None:
            commands.append(copy_command(document_id, layer, record))
        else:
            commands.append(PutAnnotation(document_id, layer, annotation_id, record["content"],
                                          record["group"], record["updatedBy"]))
    return commands

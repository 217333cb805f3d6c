"""Replays of the read model that the API and the CLI share (blocking; run them off the event
loop): a layer as Instant JSON at a revision, the commands that copy a layer, revert one to
an earlier state or delete it, and the commands of an import plan."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from eventstore.blobs import BlobStore
from eventstore.commands import (
    Command,
    CopyAnnotation,
    CopyComment,
    CreateLayer,
    DeleteAnnotation,
    DeleteComment,
    DeleteLayer,
    NewAttachment,
    PutAnnotation,
    PutComment,
    SetSections,
)
from eventstore.domain import DEFAULT_LAYER, SECTIONS
from eventstore.names import attachment_references
from projections.instant_json import (
    ImportPlan,
    canonical_timestamp,
    export_annotation,
    export_document,
)
from projections.queries import ReadModel, instant_comment
from projections.sections import export_sections

Sees = Callable[[dict[str, Any], str], bool]  # (record, content type): may the caller view it


def instant_json_of(read_model: ReadModel, blobs: BlobStore, document_id: str, layer: str,
                    upto: int | None = None, annotation_version: int | None = None,
                    sees: Sees | None = None) -> dict[str, Any]:
    """A layer as Instant JSON at a revision (now when None), with only the records
    ``sees`` allows and the attachments they name; the PDF's own annotations that became
    records since deleted (or that the caller may not see) are listed as skipped, so that
    a viewer of the source PDF shows exactly this state."""
    records = (orjson.loads(r) for r in read_model.layer_state(document_id, layer, upto))
    annotations = [export_annotation(r, annotation_version) for r in records
                   if sees is None or sees(r, "annotations")]
    sections = read_model.sections(document_id, layer, upto, comments=False)
    comments = visible_comments(read_model.comment_state(document_id, layer, upto), sees)
    if comments:
        sections["comments"] = comments
    if sees is not None:
        sections = {name: [r for r in found if sees(r, "form-fields")]
                    if name in FORM_SECTIONS else found for name, found in sections.items()}
    sections = export_sections(sections, canonical_timestamp,
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


FORM_SECTIONS = ("formFields", "formFieldValues")  # what ``form-fields`` permissions cover


def visible_comments(records: list[dict[str, Any]], sees: Sees | None
                     ) -> list[dict[str, Any]]:
    """Comment records as Instant JSON, only those the caller may view."""
    return [instant_comment(r) for r in records if sees is None or sees(r, "comments")]


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
    commands += [PutComment(document_id, layer, c["id"], comment_content(c), None, None)
                 for c in plan.sections.get("comments", ())]
    others = _other_sections(plan.sections)
    if others:
        commands.append(SetSections(document_id, layer, others))
    commands += [DeleteAnnotation(document_id, layer, record_id, missing_ok=True)
                 for _, record_id in plan.removed]
    return commands


def comment_content(comment: dict[str, Any]) -> dict[str, Any]:
    """An Instant JSON comment as a record's content: all but its id."""
    return {k: v for k, v in comment.items() if k != "id"}


def _other_sections(sections: dict[str, list[dict[str, Any]]]
                    ) -> dict[str, list[dict[str, Any]]]:
    return {name: records for name, records in sections.items() if name != "comments"}


def import_paths(plan: ImportPlan) -> list[str]:
    """Where each of ``import_commands``' commands comes from in the document."""
    return [f"$.annotations[{i}]" for i in range(len(plan.annotations))] + [
        f"$.comments[{i}]" for i in range(len(plan.sections.get("comments", ())))] + (
        ["$"] if _other_sections(plan.sections) else []) + [path for path, _ in plan.removed]


def import_counts(plan: ImportPlan) -> dict[str, int]:
    """How many records of each kind an applied import brought."""
    return {"annotations": len(plan.annotations), "attachments": len(plan.attachments),
            **{name: len(plan.sections.get(name, ())) for name in SECTIONS}}


def layer_copy_commands(read_model: ReadModel, document_id: str, source: str, name: str,
                        upto: int | None) -> list[Command]:
    """Commands creating layer ``name`` as a copy of ``source`` at revision ``upto`` (now
    when None): its records, with their creators, and its other sections."""
    records = [orjson.loads(r) for r in read_model.layer_state(document_id, source, upto)]
    commands: list[Command] = [CreateLayer(document_id, name)]
    commands += [copy_command(document_id, name, r) for r in records]
    commands += comment_copy_commands(read_model, document_id, source, document_id, name,
                                      upto, {r["id"] for r in records})
    sections = read_model.sections(document_id, source, upto, comments=False)
    if sections:
        commands.append(SetSections(document_id, name, sections, replace=True))
    return commands


def base_layer_commands(read_model: ReadModel, document_id: str, name: str, base: int
                        ) -> list[Command]:
    """Commands creating layer ``name`` from the base layer: the default layer as the
    upload left it (revision ``base``, the end of the upload's write)."""
    return layer_copy_commands(read_model, document_id, DEFAULT_LAYER, name, base)


def comment_copy_commands(read_model: ReadModel, source_document: str, source: str,
                          target_document: str, target: str, upto: int | None,
                          roots: set[str]) -> list[Command]:
    """Commands copying the comments of layer ``source`` at ``upto`` whose roots are
    among ``roots`` (the records copied), with their creators."""
    return [comment_copy(target_document, target, c)
            for c in read_model.comment_state(source_document, source, upto)
            if c["content"].get("rootId") in roots]


def comment_copy(document_id: str, layer: str, record: dict[str, Any]) -> CopyComment:
    return CopyComment(document_id, layer, record["id"], record["content"], record["group"],
                       record["createdBy"], record["updatedBy"])


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
        roots: set[str] = set()
        for text in read_model.layer_state(source, layer, upto):
            record = orjson.loads(text)
            roots.add(record["id"])
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
        commands += comment_copy_commands(read_model, source, layer, target, layer, upto, roots)
        sections = read_model.sections(source, layer, upto, comments=False)
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
    # after the annotations, so that roots brought back are there for their comments;
    # a comment whose root was deleted went with it (missing_ok)
    commands += revert_commands(document_id, layer,
                                read_model.comment_state(document_id, layer, upto),
                                read_model.comment_state(document_id, layer, None),
                                comments=True)
    sections_then = read_model.sections(document_id, layer, upto, comments=False)
    if sections_then != read_model.sections(document_id, layer, None, comments=False):
        commands.append(SetSections(document_id, layer, sections_then, replace=True))
    return commands


def revert_commands(document_id: str, layer: str, then: list[dict[str, Any]],
                    now: list[dict[str, Any]], *, comments: bool = False) -> list[Command]:
    """Commands that turn the records ``now`` into the records ``then`` (annotations, or
    with ``comments`` comment records)."""
    delete: Any = partial(DeleteComment, missing_ok=True) if comments else DeleteAnnotation
    copy = comment_copy if comments else copy_command
    put = PutComment if comments else PutAnnotation
    wanted = {r["id"]: r for r in then}
    current = {r["id"]: r for r in now}
    commands: list[Command] = [delete(document_id, layer, i)
                               for i in current if i not in wanted]
    for record_id, record in wanted.items():
        present = current.get(record_id)
        if present == record:
            continue
        if present is not None and present["createdBy"] != record["createdBy"]:
            commands.append(delete(document_id, layer, record_id))
            present = None
        if present is None:
            commands.append(copy(document_id, layer, record))
        else:
            commands.append(put(document_id, layer, record_id, record["content"],
                                record["group"], record["updatedBy"]))
    return commands

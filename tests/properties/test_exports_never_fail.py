"""Every record the API accepts exports through every format without a 5xx (issue 26,
section 5): records of all 17 types with any of their fields (the engine property's
generator) and the edge shapes that used to break a writer (a polyline with no points, ink
with no lines), written through the API, then read back as document.json, XFDF, the annotated
PDF (with and without comment threads), the flattened PDF, pdf_with_instant_json and a copy
of the document and of the layer with the same Instant JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import AUTH, make_pdf
from tests.engine.records import record
from tests.engine.test_engine_round_trip import ATTACHMENTS, DOCUMENTS, FORMAT
from tests.live import Live

EDGES = [
    record("pspdfkit/shape/polyline", "edge-1", points=[]),
    record("pspdfkit/shape/polygon", "edge-2", points=[]),
    record("pspdfkit/shape/polyline", "edge-3", points=[[5, 5]], lineCaps={"start": "openArrow"}),
    record("pspdfkit/ink", "edge-4", lines={"points": [], "intensities": []}),
    record("pspdfkit/ink", "edge-5", lines={"points": [[[5, 5]]], "intensities": [[1]]}),
    record("pspdfkit/markup/highlight", "edge-6", rects=[]),
    record("pspdfkit/shape/line", "edge-7", startPoint=[5, 5], endPoint=[5, 5],
           lineCaps={"start": "circle", "end": "closedArrow"}),
    record("pspdfkit/text", "edge-8", bbox=[0, 0, 0, 0], fontSize=0,
           callout={"start": [1, 1], "end": [1, 1], "innerRectInset": [9, 9, 9, 9]}),
    record("pspdfkit/stamp", "edge-9", bbox=[0, 0, 0, 0]),
    record("pspdfkit/note", "edge-10", bbox=[600, 800, 0, 0]),
]
EXPORTS = ["document.json", "document.xfdf", "pdf", "pdf?flatten=true", "pdf?comments=true",
           "pdf?flatten=true&comments=true"]


async def export_everything(live: Live, records: list[dict[str, Any]]) -> dict[str, int]:
    """The status of each export route for a layer holding ``records``."""
    client = live.client
    upload = await client.post("/api/documents", data=make_pdf(2),
                               headers={**AUTH, "Content-Type": "application/pdf"})
    document = (await upload.json())["data"]["document_id"]
    base = f"/api/documents/{document}"
    instant = {"format": FORMAT, "annotations": records, "attachments": ATTACHMENTS}
    applied = await client.post(f"{base}/apply_instant_json", headers=AUTH, json=instant)
    assert applied.status == 200, await applied.text()
    statuses = {}
    for route in EXPORTS:
        response = await client.get(f"{base}/{route}", headers=AUTH)
        await response.read()
        statuses[route] = response.status
    body = json.dumps(instant).encode()  # any size of integer, as the API takes them
    for route in ("pdf_with_instant_json", "copy_with_instant_json"):
        response = await client.post(f"{base}/{route}", headers={
            **AUTH, "Content-Type": "application/json"}, data=body)
        await response.read()
        statuses[route] = response.status
    copied = await client.post("/api/copy_document", headers=AUTH,
                               json={"document_id": document})
    statuses["copy_document"] = copied.status
    if copied.status == 200:
        copy = (await copied.json())["data"]["document_id"]
        for route in ("document.xfdf", "pdf"):
            response = await client.get(f"/api/documents/{copy}/{route}", headers=AUTH)
            await response.read()
            statuses[f"copy {route}"] = response.status
    return statuses


def test_the_edge_shapes_export_everywhere(live: Live) -> None:
    statuses = live.run(export_everything(live, EDGES))
    assert statuses == dict.fromkeys(statuses, 200)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_records=DOCUMENTS, edges=st.lists(st.sampled_from(EDGES), max_size=3,
                                               unique_by=lambda r: r["id"]))
def test_every_accepted_record_exports_everywhere(live: Live, layer_records: tuple,
                                                  edges: list) -> None:
    statuses = live.run(export_everything(live, [*layer_records, *edges]))
    assert statuses == dict.fromkeys(statuses, 200)

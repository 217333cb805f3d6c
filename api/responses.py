"""Response helpers shared by the route modules."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

REVISION_HEADER = "Annolog-Revision"


def json_response(data: Any, *, revision: int = 0, status: int = 200) -> web.Response:
    """JSON via orjson; writes also name their revision in the ``Annolog-Revision`` header."""
    response = web.Response(status=status, body=orjson.dumps(data),
                            content_type="application/json")
    if revision:
        response.headers[REVISION_HEADER] = str(revision)
    return response


def empty_response(revision: int) -> web.Response:
    """The seed's empty 200 for deletes, naming the revision when something was written."""
    response = web.Response(status=200)
    if revision:
        response.headers[REVISION_HEADER] = str(revision)
    return response

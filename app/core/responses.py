"""JSON responses serialised once, with an ETag computed from the very bytes sent.

Routes return these instead of a model, which spares FastAPI's second validation pass over the
response model (the route still declares ``response_model`` for the OpenAPI document).
"""

from typing import Annotated

from fastapi import Header, Request, Response
from pydantic import BaseModel

from app.core.etag import etag_of_bytes, matches

JSON = "application/json"

IfMatch = Annotated[
    str | None,
    Header(max_length=200, description="An ETag from a previous read; 412 if it is stale."),
]

NOT_MODIFIED: dict[int | str, dict[str, str]] = {
    304: {"description": "Not modified: the ETag sent in If-None-Match is current."}
}


def json_response(model: BaseModel, *, status_code: int = 200) -> Response:
    return Response(model.model_dump_json().encode(), status_code=status_code, media_type=JSON)


def tagged_response(model: BaseModel, request: Request, *, status_code: int = 200) -> Response:
    """A single resource with its ``ETag``; 304 when the caller's If-None-Match is current."""
    body = model.model_dump_json().encode()
    etag = etag_of_bytes(body)
    headers = {"ETag": etag}
    if request.method == "GET" and matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)

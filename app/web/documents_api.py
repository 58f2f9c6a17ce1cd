"""``POST /api/v1/documents/extract``: a file in, its text and token count out.

The file arrives as the raw request body (``?name=report.pdf``) or as the
``file`` field of a multipart form. Both are read into memory, bounded by
:data:`app.chats.documents.MAX_UPLOAD_BYTES`: werkzeug's own form parser
would spool a large upload to a temporary file, and nothing of a document
is to be written to disk.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import FormDataParser

from app.chats import documents
from app.errors import BadRequest, HearthError
from app.web.json_body import PayloadTooLarge, read_body

documents_api = Blueprint("documents_api", __name__)
FORM_OVERHEAD = 64 * 1024
"""Room for a multipart form's boundaries and headers around the file."""


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(documents.MAX_UPLOAD_BYTES, "the file")


def _in_memory(*_args: Any, **_kwargs: Any) -> io.BytesIO:
    return io.BytesIO()


def _read_upload() -> tuple[str | None, bytes]:
    """(the name the client gave, the bytes); the body is read at most to the limit.

    The whole body is read first (a chunked upload has no length to check up
    front), then a multipart form is parsed from memory.
    """
    limit = documents.MAX_UPLOAD_BYTES
    raw = read_body(limit + FORM_OVERHEAD, _too_large())
    if request.mimetype != "multipart/form-data":
        if len(raw) > limit:
            raise _too_large()
        return request.args.get("name"), raw
    parser = FormDataParser(stream_factory=_in_memory, silent=False, max_form_parts=50)
    try:
        _, _, files = parser.parse(
            io.BytesIO(raw), request.mimetype, len(raw), request.mimetype_params
        )
    except (ValueError, HTTPException) as error:
        raise BadRequest(f"the upload is not a well-formed multipart form: {error}") from None
    upload = files.get("file")
    if upload is None:
        raise BadRequest('the form has no "file" field: send the document as "file"')
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large()
    return upload.filename, data


def _token_count(model: str, text: str) -> int | None:
    manager = current_app.extensions.get("hearth")
    count = getattr(manager, "count_tokens", None)
    if not model or count is None:
        return None
    try:
        return count(model, text)
    except HearthError:
        return None  # an unknown model name: the estimate still helps


@documents_api.post("/extract")
def extract() -> Response:
    """The text of one document, with ``tokens`` counted by ``?model=`` when it is loaded."""
    name, data = _read_upload()
    document = documents.extract(name, data)
    exact = _token_count(request.args.get("model", "")[:300], document.text)
    body = document.as_dict()
    body["tokens"] = exact if exact is not None else documents.estimate_tokens(document.text)
    body["tokens_estimated"] = exact is None
    return jsonify(body)

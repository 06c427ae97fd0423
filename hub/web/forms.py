"""Reading a POSTed form within a size limit, for every form of the web app.

The body is read in chunks as it arrives and refused with 413 as soon as it passes
``limit`` bytes (at once when ``Content-Length`` already says so), so a large body is
never held in memory. Only ``application/x-www-form-urlencoded`` is accepted (415).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import HTTPException, Request

__all__ = ["FORM_LIMIT", "read_form", "read_form_lists"]

#: the largest form body (bytes): notes are cut at 4,000 characters
FORM_LIMIT = 32_000


async def read_form(request: Request, limit: int = FORM_LIMIT) -> dict[str, str]:
    """The url-encoded form of ``request``, first value per field."""
    return {k: v[0] for k, v in (await read_form_lists(request, limit)).items()}


async def read_form_lists(request: Request, limit: int = FORM_LIMIT) -> dict[str, list[str]]:
    """The url-encoded form of ``request``, every value per field (checkboxes)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, "The form is too large.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, "The form is too large.")
        chunks.append(chunk)
    body = b"".join(chunks)
    if body and not request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        raise HTTPException(415, "Expected a form.")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

"""CSRF protection: every console POST carries the session's token (the login form, a cookie's)."""

from __future__ import annotations

import hmac

from aiohttp import BodyPartReader, web

MULTIPART = web.RequestKey("console_multipart", object)
FIELD = "csrf"


def _same(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def check(request: web.Request, expected: str) -> None:
    """Raise 403 unless the POST's `csrf` field matches `expected`.

    A multipart form must send the token as its first part; the reader, positioned after it, is left
    in `request[MULTIPART]` for the handler to read the rest from.
    """
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        part = await reader.next()
        given: str = ""
        if isinstance(part, BodyPartReader) and part.name == FIELD:
            given = (await part.read(decode=True)).decode(errors="replace")
        if not _same(given, expected):
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
        request[MULTIPART] = reader
        return
    field = (await request.post()).get(FIELD)
    if not isinstance(field, str) or not _same(field, expected):
        raise web.HTTPForbidden(text="missing or wrong CSRF token")

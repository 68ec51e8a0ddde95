"""What every workbench request passes through: the access token (when one is set), the
Host check, the CSRF check on state changes, and the headers that keep listing text from
running as code.

The CSRF token is one random value per server process, written into every page; a POST
must send it back in the ``X-CSRF-Token`` header, which another site's page cannot set
(a custom header needs a CORS preflight we never grant).
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from starlette.datastructures import URL, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_COOKIE = "brandsweep_token"  # noqa: S105  (a cookie name, not a secret)
CSRF_HEADER = "x-csrf-token"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# pages: our own scripts and styles only, nothing inline; the evidence snapshot is framed
# from our own origin and is itself sandboxed (see SNAPSHOT_CSP)
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "frame-src 'self'; frame-ancestors 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; connect-src 'self'")
# a marketplace page as captured: no script, no request to anywhere, own opaque origin
SNAPSHOT_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "frame-ancestors 'self'")


class Guard:
    """Token, Host and CSRF checks, and the security headers on every response (plain
    ASGI: no task per request, as a ``BaseHTTPMiddleware`` would start)."""

    def __init__(self, app: ASGIApp, *, token: str | None, csrf: str,
                 local_only: bool) -> None:
        self.app = app
        self.token = token
        self.csrf = csrf
        self.local_only = local_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = PAGE_CSP
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                headers["x-frame-options"] = "SAMEORIGIN"
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "no-referrer"
            await send(message)

        refused = self._refusal(Request(scope))
        if refused is not None:
            await refused(scope, receive, hardened)
        else:
            await self.app(scope, receive, hardened)

    def _refusal(self, request: Request) -> Response | None:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if self.local_only and host not in LOCAL_HOSTS:
            # a page on another site that resolves its own name to 127.0.0.1 (DNS
            # rebinding) must not reach the store
            return PlainTextResponse(f"host {host!r} refused: open the workbench at "
                                     "http://127.0.0.1", status_code=403)
        if self.token is not None:
            given = request.query_params.get("token")
            if given is not None and request.method == "GET":
                if not _same(given, self.token):
                    return PlainTextResponse("wrong token: use the URL `brandsweep serve` "
                                             "printed", status_code=403)
                rest = [(k, v) for k, v in request.query_params.multi_items()
                        if k != "token"]
                target = URL(path=request.url.path, query=urlencode(rest))
                login = RedirectResponse(str(target), status_code=303)
                login.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                return login
            if not _same(request.cookies.get(TOKEN_COOKIE, ""), self.token):
                return PlainTextResponse("token required: open the URL `brandsweep serve` "
                                         "printed (it ends in ?token=...)", status_code=403)
        if request.method not in ("GET", "HEAD", "OPTIONS") and \
                not _same(request.headers.get(CSRF_HEADER, ""), self.csrf):
            return PlainTextResponse("CSRF token missing or wrong: reload the page and try "
                                     "again", status_code=403)
        return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())

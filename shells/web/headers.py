"""The browser's security headers, on every response of the web service.

The pages run no script at all and their one inline style block is allowed by its hash (the API docs: one
inline script by its hash), so no policy needs 'unsafe-inline': a value that slipped past escaping could
neither run nor restyle a page. Nothing may frame the service (clickjacking on the case actions), no
response is MIME-sniffed, no address leaks in a Referer header, and nothing but the static files of the
API docs may be kept in a cache: pages and API answers carry case data, IBANs and positions that a shared
or back-button cache must not keep.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "content-security-policy"
# Paths of static files (Swagger UI's bundle): the only responses a cache may keep.
CACHEABLE_PREFIXES = ("/docs-static/",)
ALWAYS = (
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)


def inline_sources(html: str, tag: str) -> list[str]:
    """The CSP hash source of each inline `<tag>` element (written without attributes) of `html`."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
    ]


def page_policy(style_sources: list[str]) -> str:
    """Every response but the API docs: no script, no plugin, styles only by hash, forms to this service."""
    styles = " ".join(style_sources) or "'none'"
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src {styles}",
            "img-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def docs_policy(script_sources: list[str]) -> str:
    """Swagger UI: its bundle and stylesheet, its one inline start-up script (by hash), the OpenAPI document it
    fetches, the data: icons of its stylesheet. It renders without inline styles (checked in Chromium)."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {' '.join(script_sources)}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """ASGI middleware: the headers of ALWAYS, `policy` unless the response set its own, and no-store."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope["path"]).startswith(CACHEABLE_PREFIXES)

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS:
                    headers[name] = value
                headers.setdefault(CSP, self.policy)
                if not cacheable:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_secured)


class SecuredApp(FastAPI):
    """FastAPI with SecurityHeaders outside every other layer, so that even the 500 answer to an unhandled
    error (made by Starlette's outermost error middleware) carries the headers."""

    def __init__(self, policy: str, **settings: Any) -> None:
        super().__init__(**settings)
        self.policy = policy

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.policy)

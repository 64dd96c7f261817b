"""The plain HTTP side of the server: the page from ``web/``, ``/metrics``, ``/healthz``, ``/readyz``."""

from __future__ import annotations

import http
import mimetypes
from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Response

METRICS_PATH, HEALTH_PATH, READY_PATH = "/metrics", "/healthz", "/readyz"


def plain_response(status: http.HTTPStatus, body: bytes, ctype: str = "text/plain; charset=utf-8") -> Response:
    """A complete HTTP response that closes the connection (no WebSocket follows)."""
    headers = Headers(
        [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def static_response(root: Path, url_path: str) -> Response:
    """Serve a file under ``root``; anything outside it (``..``, symlinks out) is a 404."""
    rel = url_path.split("?", 1)[0].lstrip("/") or "index.html"
    try:
        target = (root / rel).resolve()
        inside = target.is_relative_to(root.resolve()) and target.is_file()
    except (OSError, ValueError):
        inside = False
    if not inside:
        return plain_response(http.HTTPStatus.NOT_FOUND, b"not found\n")
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith("javascript"):
        ctype += "; charset=utf-8"
    return plain_response(http.HTTPStatus.OK, target.read_bytes(), ctype)

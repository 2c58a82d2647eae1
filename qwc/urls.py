"""URL helpers for .qwc files."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def sibling_url(url: str, path: str) -> str:
    """``url`` with its last path segment replaced by ``path`` (query and fragment dropped).

    ``https://h/prod/qbwc`` and ``support/x`` give ``https://h/prod/support/x``.
    """
    parts = urlsplit(url)
    base = parts.path.rstrip("/")
    base = base[: base.rfind("/") + 1] if "/" in base else "/"
    return urlunsplit((parts.scheme, parts.netloc, base + path.lstrip("/"), "", ""))

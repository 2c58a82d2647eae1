"""The AppSupport page of the .qwc files: served by the local process and by the Lambda handler.

The Web Connector checks that AppSupport answers HTTP 200 when a .qwc file is added
(QBWC1003/QBWC1004), and Intuit's guide suggests landing users there on the last session's
results. Routes:

- ``GET /support``: what this service is and how to read Web Connector errors; no tenant data.
- ``GET /support/<FileID without braces>``: one tenant's last sync time and session summary, and
  the records its company file cannot provide (its QuickBooks edition or preferences lack them).
  The FileID is a random GUID known only to the tenant's .qwc file (and its company file), so a
  tenant cannot find another's page. Unknown or malformed ids answer 404. Nothing secret is shown:
  no password hash, no company-file path, no ZOHO data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html import escape

from qwc import bare_guid, braced_guid

from ..store.ports import SyncStateStore, Tenant, TenantStore
from ..sync.plan import plural

SUPPORT_PATH = "/support"
APP = "qbxml-relay"
# The page is a capability URL: keep it out of caches and out of Referer headers.
HEADERS = (
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
)
HTML = "text/html; charset=utf-8"

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}dt{font-weight:600}dd{margin:0 0 .6rem 0}code{background:#eee;"
    "padding:0 .2rem}"
)

_HELP = """<h2>When the Web Connector reports a problem</h2>
<ul>
<li><strong>Authentication failed / invalid user</strong>: the password typed into the Web
Connector does not match. Ask your administrator for a new one
(<code>qbrelay tenant rotate-password</code>) and enter it in the Password column.</li>
<li><strong>No data exchange required</strong>: nothing is enabled for this company, or the last
sync was too recent. The next scheduled run tries again.</li>
<li><strong>Application busy</strong>: an earlier update of this company is still running or
was interrupted; it expires after 30 minutes.</li>
<li><strong>Could not start QuickBooks</strong>: QuickBooks must be installed, the company file
must exist, and this application must be allowed to access it (in QuickBooks: Edit, Preferences,
Integrated Applications).</li>
</ul>"""


def tenant_support_path(file_id: str) -> str:
    """The tenant's page below the support path, e.g. ``support/90A44FB5-...`` (no leading /)."""
    return f"{SUPPORT_PATH.lstrip('/')}/{bare_guid(file_id)}"


@dataclass(frozen=True, slots=True)
class SupportReply:
    """An HTTP answer: status, content type, body and extra headers."""

    status: int
    body: bytes
    content_type: str = HTML
    headers: tuple[tuple[str, str], ...] = field(default=HEADERS)


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    ).encode()


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def _web_connector(tenant: Tenant) -> str:
    """The Web Connector version last seen for the tenant, e.g. "2.3.0.215 (seen ...)"."""
    if not tenant.qbwc_version:
        return "not seen yet"
    return f"{tenant.qbwc_version} (seen {_when(tenant.qbwc_seen_at)})"


def render_general() -> bytes:
    """The page at ``/support``: no tenant data."""
    return _page(
        f"{APP} support",
        f"<h1>{APP}</h1><p>This service connects QuickBooks Desktop, through the QuickBooks Web "
        "Connector, to ZOHO CRM. Your company's status page is the AppSupport address in its "
        ".qwc file.</p>" + _HELP,
    )


def render_tenant(tenant: Tenant, unsupported: dict[str, str] | None = None) -> bytes:
    """One tenant's page: last sync and last session summary, HTML-escaped, nothing secret.

    ``unsupported``: entity -> why the company file cannot provide it; sessions skip those."""
    entities = ", ".join(tenant.enabled_entities) or "none (syncing is paused)"
    interval = tenant.min_interval_seconds // 60
    rows = [
        ("Company", tenant.name),
        ("Web Connector user", tenant.qbwc_user),
        ("Last completed sync", _when(tenant.last_sync_at)),
        ("Last session", tenant.last_summary or "no session has finished yet"),
        ("Web Connector", _web_connector(tenant)),
        ("Synced records", entities),
        ("Minimum interval", f"{interval} minutes" if interval else "none"),
    ]
    if unsupported:
        lacking = "; ".join(f"{plural(e)}: {why}" for e, why in sorted(unsupported.items()))
        rows.append(("Not available in this company file (skipped)", lacking))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return _page(
        f"{APP}: {tenant.name}",
        f"<h1>{escape(tenant.name)}: sync status</h1><dl>{items}</dl>" + _HELP,
    )


def is_support_path(path: str) -> bool:
    """True for ``.../support`` and ``.../support/<one segment>``."""
    trimmed = path.rstrip("/")
    return trimmed.endswith(SUPPORT_PATH) or trimmed.rpartition("/")[0].endswith(SUPPORT_PATH)


def support_reply(
    path: str, tenants: TenantStore | None, sync_state: SyncStateStore | None = None
) -> SupportReply:
    """The answer for a request path (a 404 page unless ``is_support_path``).

    Anything before the last ``/support`` (a stage or base path) is ignored. ``sync_state``
    adds the entities marked unsupported for the tenant.
    """
    trimmed = path.rstrip("/")
    if trimmed.endswith(SUPPORT_PATH):
        return SupportReply(200, render_general())
    head, _, tail = trimmed.rpartition("/")
    file_id = braced_guid(tail) if head.endswith(SUPPORT_PATH) else None
    tenant = tenants.find_by_file_id(file_id) if file_id and tenants is not None else None
    if tenant is None:
        return SupportReply(
            404, _page("Not found", "<h1>Not found</h1><p>No such support page.</p>")
        )
    unsupported = {
        entity: st.unsupported
        for entity, st in (sync_state.get_all(tenant.name) if sync_state else {}).items()
        if st.unsupported and entity in tenant.enabled_entities
    }
    return SupportReply(200, render_tenant(tenant, unsupported))

"""The console's HTML: a sign-in form and one status page, rendered on the server.

No script at all: every action is a form POST carrying the session's CSRF token. Everything
interpolated goes through ``e`` (HTML-escaped, quotes included). The one inline style sheet is
allowed by its hash in the Content-Security-Policy, which allows nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import time
from html import escape
from typing import Any

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    ".badge{padding:.1rem .45rem;border-radius:.6rem;font-weight:600;color:#fff}"
    ".ok{background:#2e7d32}.warning{background:#b26a00}.error{background:#c62828}"
    ".paused{background:#546e7a}.notice{background:#e8f0fe;padding:.5rem;margin-bottom:1rem}"
    ".muted{color:#666}form{display:inline;margin:0}button,a.button{margin:.1rem}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{STYLE_HASH}'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Headers of every console answer.
HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
# What a POST's redirect may announce (by key: the query carries only the key and numbers).
NOTICES = {
    "redriven": "Re-drove {n} parked record(s) onto the record queue.",
    "held": "{n} record(s) are held for review: tick 'include held records' to send them too.",
    "qbo-off": "QuickBooks Online is not configured for this deployment (QBO_CLIENT_ID).",
    "paused": "Tenant paused.",
    "resumed": "Tenant resumed.",
    "signed-out": "Signed out.",
}


def e(value: Any) -> str:
    """HTML-escaped text of any value (None as a dash)."""
    return "&mdash;" if value is None else escape(str(value), quote=True)


def when(at: float | None) -> str:
    if not at:
        return "&mdash;"
    return e(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at)))


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def login_page(action: str, token: str, message: str = "") -> str:
    """The sign-in form: the API key, once."""
    note = f'<p class="notice">{e(message)}</p>' if message else ""
    return _page(
        "qbxml-relay console: sign in",
        "<h1>qbxml-relay console</h1>"
        f"{note}"
        f'<form method="post" action="{e(action)}">'
        f'<input type="hidden" name="csrf" value="{e(token)}">'
        '<label>API key <input type="password" name="key" autocomplete="off" required '
        'size="60"></label> <button type="submit">Sign in</button></form>'
        '<p class="muted">Create a key with <code>qbrelay apikey create --name NAME</code>.</p>',
    )


def _hidden(csrf: str, **fields: str) -> str:
    out = f'<input type="hidden" name="csrf" value="{e(csrf)}">'
    for name, value in fields.items():
        out += f'<input type="hidden" name="{e(name)}" value="{e(value)}">'
    return out


def _counts(t: dict[str, Any]) -> str:
    c = t["counts"]
    drift = "not audited" if c["drift"] is None else c["drift"]
    more = "" if c["parked_complete"] else "+"
    return (
        f"in flight {e(c['in_flight'])}{'' if c['in_flight_complete'] else '+'}, "
        f"parked {e(c['parked'])}{more}, drift {e(drift)}{_writeback(t.get('writeback'))}"
    )


def _writeback(wb: dict[str, Any] | None) -> str:
    """Write-back counts and recent conflicts (nothing for a tenant without write-back)."""
    if not wb or not (wb["enabled"] or wb["counts"]):
        return ""
    counts = ", ".join(f"{e(s.replace('_', ' '))} {e(n)}" for s, n in wb["counts"].items() if n)
    out = f"<br>write-back {'on' if wb['enabled'] else 'off'} ({e(wb['policy'])})"
    out += f": {counts}" if counts else ": no operations"
    for c in wb["recent_conflicts"]:
        kept = ", ".join(f"{e(f['field'])} kept {e(f['kept'])}" for f in c["fields"])
        out += f"<br>conflict {e(c['zoho_module'])}/{e(c['zoho_id'])}: {kept}"
    return out


def _last_run(run: dict[str, Any] | None) -> str:
    if run is None:
        return '<span class="muted">no session yet</span>'
    entities = ", ".join(
        f"{e(name)} {e(c['received'])}/{e(c['queued'])}/{e(c['errors'])}"
        for name, c in run["entities"].items()
    )
    err = run.get("error")
    problem = f"<br>{e(err['code'])}: {e(err['message'])}" if err else ""
    return (
        f"{when(run['ended_at'] or run['started_at'])}: {e(run['status'])}"
        f"{'<br>' + entities if entities else ''}{problem}"
    )


def _qbo(name: str, conn: dict[str, Any] | None, prefix: str, csrf: str) -> str:
    # A POST (session + CSRF token): it makes a one-time connect link and goes to its page, as
    # a browser cannot send the X-API-Key that GET /qbo/connect takes otherwise.
    connect = (
        f'<form method="post" action="{e(prefix)}/console/qbo-connect">'
        f"{_hidden(csrf, tenant=name)}"
        '<button type="submit">Connect QuickBooks Online</button></form>'
    )
    if conn is None:
        return f'<span class="muted">not connected</span> {connect}'
    days = conn["days_to_reconnect"]
    detail = f"; reconnect within {e(days)} day(s)" if days is not None else ""
    warning = f"<br>{e(conn['warning'])}" if conn["warning"] else ""
    button = connect if conn["status"] != "connected" or conn["warning"] else ""
    return (
        f"{e(conn['status'])}{detail}; last success {when(conn['last_success_at'])}"
        f"{warning} {button}"
    )


def _tenant_row(t: dict[str, Any], conn: dict[str, Any] | None, csrf: str, prefix: str) -> str:
    name = t["tenant"]
    toggle = "resume" if t["paused"] else "pause"
    return (
        "<tr>"
        f'<td class="tenant">{e(name)}</td>'
        f'<td><span class="badge {e(t["health"])}">{e(t["health"])}</span>'
        f"{'<br>' + e(t['paused_reason']) if t['paused'] and t['paused_reason'] else ''}</td>"
        f"<td>{when(t['last_seen_at'])}</td>"
        f"<td>{when(t['last_completed_at'])}</td>"
        f"<td>{_last_run(t['last_run'])}</td>"
        f"<td>{_counts(t)}</td>"
        f"<td>{_qbo(name, conn, prefix, csrf)}</td>"
        f'<td><form method="post" action="{e(prefix)}/console/{toggle}">'
        f"{_hidden(csrf, tenant=name)}"
        f'<button type="submit">{"Resume" if t["paused"] else "Pause"}</button></form></td>'
        "</tr>"
    )


def _parked_rows(parked: list[dict[str, Any]]) -> str:
    rows = []
    for m in parked:
        err = m["error"] or {}
        rows.append(
            "<tr>"
            f"<td>{e(m['tenant'])}</td><td>{e(m['entity'])}</td><td>{e(m['source_id'])}</td>"
            f"<td>{e(err.get('code'))}</td><td>{e(err.get('message'))}</td>"
            f"<td>{e(err.get('user_message'))}</td><td>{when(m['outcome_at'])}</td>"
            "</tr>"
        )
    return "".join(rows)


def _redrive_forms(tenants: list[str], csrf: str, prefix: str) -> str:
    forms = []
    for name in tenants:
        forms.append(
            f'<p><form method="post" action="{e(prefix)}/console/redrive">'
            f"{_hidden(csrf, tenant=name)}"
            '<label><input type="checkbox" name="confirm" value="1"> include held records'
            f'</label> <button type="submit">Re-drive {e(name)}</button></form></p>'
        )
    return "".join(forms)


def status_page(
    overview: dict[str, Any],
    parked: list[dict[str, Any]],
    connections: dict[str, dict[str, Any]],
    csrf: str,
    prefix: str,
    key_name: str,
    notice: str = "",
) -> str:
    """The console: tenants with badges, sessions, counts, drift, QuickBooks Online, parked."""
    tenants = overview["tenants"]
    rows = "".join(_tenant_row(t, connections.get(t["tenant"]), csrf, prefix) for t in tenants)
    parked_tenants = list(dict.fromkeys(m["tenant"] for m in parked))
    note = f'<p class="notice">{e(notice)}</p>' if notice else ""
    table = (
        "<table><thead><tr><th>Tenant</th><th>Health</th><th>Last seen</th>"
        "<th>Last completed</th><th>Last session (received/queued/errors)</th><th>Counts</th>"
        f"<th>QuickBooks Online</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        if tenants
        else '<p class="muted">No tenants yet: qbrelay tenant add.</p>'
    )
    parked_html = (
        "<table><thead><tr><th>Tenant</th><th>Entity</th><th>QuickBooks id</th><th>Code</th>"
        "<th>Message</th><th>What to do</th><th>Parked</th></tr></thead>"
        f"<tbody>{_parked_rows(parked)}</tbody></table>"
        f"{_redrive_forms(parked_tenants, csrf, prefix)}"
        if parked
        else '<p class="muted">No parked records.</p>'
    )
    return _page(
        "qbxml-relay console",
        "<h1>qbxml-relay console</h1>"
        f'<p class="muted">Signed in with key {e(key_name)} &middot; generated '
        f"{when(overview['generated_at'])} "
        f'<form method="post" action="{e(prefix)}/console/logout">{_hidden(csrf)}'
        '<button type="submit">Sign out</button></form></p>'
        f"{note}<h2>Tenants</h2>{table}<h2>Parked records</h2>{parked_html}",
    )

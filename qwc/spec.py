"""What goes into a .qwc file, as one value."""

from __future__ import annotations

from dataclasses import dataclass

QB_TYPE = "QBFS"
# Every edition: SimpleStart 0x1 | Pro 0x2 | Premier 0x4 | Enterprise 0x8 (as Intuit's samples).
ALL_EDITIONS = 0xF
DEFAULT_DESCRIPTION = "Syncs QuickBooks Desktop with ZOHO CRM (qbxml-relay)"
PERSONAL_DATA_PREFS = ("pdpNotNeeded", "pdpOptional", "pdpRequired")
UNATTENDED_MODE_PREFS = ("umpRequired", "umpOptional")


@dataclass(frozen=True, slots=True)
class QwcSpec:
    """The settings of one Web Connector application entry (one tenant's .qwc file).

    ``owner_id`` is one braced GUID per deployment, ``file_id`` one per tenant; both must stay the
    same across re-issued files, so QBWC and the company file's FileID data extension match.
    ``personal_data`` defaults to ``pdpNotNeeded``: a CRM sync has no use for the personal data
    QuickBooks guards (such as credit card numbers), so QuickBooks does not hand it out.
    ``read_only`` False asks for write access (the relay writes CRM changes back).
    ``run_every_seconds`` (a live tenant) writes ``RunEveryNSeconds`` instead of
    ``RunEveryNMinutes`` (the Web Connector shows it as "Real Time").
    """

    app_name: str
    app_url: str
    app_support: str
    user_name: str
    owner_id: str
    file_id: str
    app_description: str = DEFAULT_DESCRIPTION
    app_id: str = ""
    run_every_minutes: int | None = 15
    run_every_seconds: int | None = None
    read_only: bool = False
    auth_flags: int = ALL_EDITIONS
    personal_data: str = "pdpNotNeeded"
    unattended_mode: str = "umpOptional"

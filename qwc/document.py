"""Writing the .qwc document itself."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from .rules import validate
from .spec import QB_TYPE, QwcSpec

ROOT = "QBWCXML"
# The order of Intuit's sample file (Programmer's Guide, listing 4-1), then the optional
# elements after it. QBWC reads any order, but only the first Scheduler child counts.
ELEMENT_ORDER: tuple[str, ...] = (
    "AppName",
    "AppID",
    "AppURL",
    "AppDescription",
    "AppSupport",
    "UserName",
    "OwnerID",
    "FileID",
    "QBType",
    "Scheduler",
    "IsReadOnly",
    "AuthFlags",
    "PersonalDataPref",
    "UnattendedModePref",
)


def _values(spec: QwcSpec) -> dict[str, str | None]:
    return {
        "AppName": spec.app_name,
        "AppID": spec.app_id,
        "AppURL": spec.app_url,
        "AppDescription": spec.app_description,
        "AppSupport": spec.app_support,
        "UserName": spec.user_name,
        "OwnerID": spec.owner_id,
        "FileID": spec.file_id,
        "QBType": QB_TYPE,
        "Scheduler": None,  # an aggregate, filled below
        "IsReadOnly": "true" if spec.read_only else "false",
        "AuthFlags": f"0x{spec.auth_flags:X}",
        "PersonalDataPref": spec.personal_data,
        "UnattendedModePref": spec.unattended_mode,
    }


def build_qwc(spec: QwcSpec, user_exists: Callable[[str], bool]) -> bytes:
    """The .qwc file for ``spec`` as UTF-8 bytes; QwcError if it breaks a rule QBWC enforces."""
    validate(spec, user_exists)
    root = etree.Element(ROOT)
    values = _values(spec)
    for name in ELEMENT_ORDER:
        if name == "Scheduler":
            # Only the first Scheduler child counts, so a file carries one of the two.
            if spec.run_every_seconds is not None:
                scheduler = etree.SubElement(root, "Scheduler")
                etree.SubElement(scheduler, "RunEveryNSeconds").text = str(spec.run_every_seconds)
            elif spec.run_every_minutes is not None:
                scheduler = etree.SubElement(root, "Scheduler")
                etree.SubElement(scheduler, "RunEveryNMinutes").text = str(spec.run_every_minutes)
            continue
        # An empty text (not None) writes <AppID></AppID>, as Intuit's samples do.
        etree.SubElement(root, name).text = values[name] or ""
    body = etree.tostring(root, encoding="utf-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body

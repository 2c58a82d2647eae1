"""README.md and docs/: every link resolves, and the configuration reference is complete.

The README is the path a new user follows and docs/ holds the reference it links to; a moved
section or a new setting must not leave a dead link or an undocumented knob behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.settings import FIELDS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_ENV_NAME = re.compile(r"\bQBRELAY_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
_QBO_ENV_NAME = re.compile(r'"(QBO_[A-Z_]+)"')


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown document outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a document defines: its headings' (numbered when repeated) and ``<a id>``."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(text):
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(_ANCHOR.findall(line))
    return found


def section(text: str, title: str) -> str:
    """The body of the heading ``title`` up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(title)}[ \t]*$", text, re.MULTILINE)
    assert match, f"README.md lost its {title!r} section"
    return re.split(r"^#", text[match.end() :], maxsplit=1, flags=re.MULTILINE)[0]


def test_slugs_follow_github() -> None:
    assert slug("CDK settings (`cdk.json`)") == "cdk-settings-cdkjson"
    assert slug("4. Create the custom fields: `zoho setup`, then `zoho check`") == (
        "4-create-the-custom-fields-zoho-setup-then-zoho-check"
    )
    assert anchors("# A\n```\n# not a heading\n```\n## A\n") == {"a", "a-1"}


def broken_links(document: Path) -> list[str]:
    """The relative links of ``document`` whose file or anchor does not exist."""
    broken = []
    for line in prose_lines(document.read_text(encoding="utf-8")):
        for target in _LINK.findall(line):
            if re.match(r"[a-z]+:", target):
                continue  # an absolute URL: not checked here (no network)
            path, _, fragment = target.partition("#")
            linked = (document.parent / path).resolve() if path else document
            if not linked.is_file():
                broken.append(f"{target}: no such file")
            elif fragment and fragment not in anchors(linked.read_text(encoding="utf-8")):
                broken.append(f"{target}: no such anchor")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_resolves(document: Path) -> None:
    assert not broken_links(document), f"{document.name}: {broken_links(document)}"


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    # The check above must notice what it guards against.
    (tmp_path / "other.md").write_text('# Other\n\n<a id="kept"></a>\n', encoding="utf-8")
    doc = tmp_path / "x.md"
    doc.write_text(
        "# Title\n\n[a](#title) [b](#nowhere) [c](other.md#kept) [d](other.md#gone) "
        "[e](missing.md) [f](https://example.com/#x)\n",
        encoding="utf-8",
    )
    assert broken_links(doc) == [
        "#nowhere: no such anchor",
        "other.md#gone: no such anchor",
        "missing.md: no such file",
    ]


def test_every_cdk_setting_is_in_the_settings_table() -> None:
    table = section(README.read_text(encoding="utf-8"), "CDK settings (`cdk.json`)")
    documented = {
        name
        for line in table.splitlines()
        if line.startswith("|")
        for name in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])
    }
    assert set(FIELDS) <= documented, f"undocumented settings: {set(FIELDS) - documented}"


def product_environment_names() -> set[str]:
    """Every QBRELAY_* name the product's code uses, and the QuickBooks Online app's QBO_* ones."""
    names: set[str] = set()
    for folder in ("lambdas", "infra", "qbxml", "qwc"):
        for source in (ROOT / folder).rglob("*.py"):
            names.update(_ENV_NAME.findall(source.read_text(encoding="utf-8")))
    config = (ROOT / "lambdas" / "qbo" / "config.py").read_text(encoding="utf-8")
    names.update(_QBO_ENV_NAME.findall(config))
    return names


def test_every_environment_variable_is_in_the_reference() -> None:
    names = product_environment_names()
    assert {"QBRELAY_TENANTS_TABLE", "QBRELAY_DATA_DIR", "QBO_CLIENT_ID"} <= names
    table = section(README.read_text(encoding="utf-8"), "Environment variables")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert names <= documented, f"undocumented environment variables: {names - documented}"

"""make audit: findings are listed, and an unreachable advisory database is said so."""

from __future__ import annotations

import urllib.error

import pytest

from infra import audit


def clean(*names: str) -> dict:
    return {"dependencies": [{"name": n, "version": "1.0", "vulns": []} for n in names]}


def test_an_unreachable_database_is_one_line_and_exit_code_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError(OSError("Name or service not known"))

    monkeypatch.setattr(audit.urllib.request, "urlopen", refuse)
    monkeypatch.setattr(audit, "pip_audit", lambda *a: pytest.fail("audited without a database"))
    assert audit.main() == audit.UNREACHABLE
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "cannot be reached" in err and "Name or service not known" in err


def test_packages_the_database_did_not_answer_for_are_not_a_clean_audit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip-audit exits 0 when every lookup comes back 'not found'; the audit must not."""
    skipped = {
        "dependencies": [
            {
                "name": "lxml",
                "skip_reason": "Dependency not found on PyPI and could not be audited: lxml (6.1)",
            },
            {"name": "qbxml-relay", "skip_reason": "distribution marked as editable"},
        ]
    }
    monkeypatch.setattr(audit, "canary", lambda service: None)
    monkeypatch.setattr(audit, "pip_audit", lambda service, *args: skipped)
    assert audit.main() == audit.UNREACHABLE
    assert "no answer for 1 environment packages (lxml)" in capsys.readouterr().err


def test_findings_are_listed_and_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vulnerable = {
        "dependencies": [
            {
                "name": "requests",
                "version": "2.31.0",
                "vulns": [
                    {
                        "id": "GHSA-9hjg-9r4m-mvj7",
                        "aliases": ["CVE-2024-47081"],
                        "fix_versions": ["2.32.4"],
                    },
                ],
            }
        ]
    }
    scans = iter([clean("pip"), vulnerable])
    monkeypatch.setattr(audit, "canary", lambda service: None)
    monkeypatch.setattr(audit, "pip_audit", lambda service, *args: next(scans))
    assert audit.main() == audit.VULNERABLE
    out = capsys.readouterr().out
    assert "environment: 1 packages audited, 0 known vulnerabilities" in out
    assert "requests 2.31.0: GHSA-9hjg-9r4m-mvj7 (CVE-2024-47081); fixed in 2.32.4" in out


def test_a_clean_audit_scans_the_environment_and_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(audit, "canary", lambda service: None)
    monkeypatch.setattr(audit, "pip_audit", lambda service, *a: calls.append(a) or clean("x"))
    assert audit.main() == audit.CLEAN
    assert calls[0] == ("--skip-editable",)
    assert calls[1][:2] == ("--disable-pip", "--requirement")
    assert calls[1][2].endswith("infra/lambda-requirements.lock")


def test_a_database_that_answers_without_advisories_is_not_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Empty:
        def __enter__(self) -> Empty:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self, *args: object) -> bytes:
            return b'{"info": {}, "vulnerabilities": []}'

    monkeypatch.setattr(audit.urllib.request, "urlopen", lambda *a, **k: Empty())
    with pytest.raises(audit.Unreachable, match="no advisories returned"):
        audit.canary("pypi")

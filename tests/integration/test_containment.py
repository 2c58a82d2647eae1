"""Containing a stolen Web Connector password, on both deployments (issue 13, point 3).

Whoever holds the password can answer the relay's requests with anything. Answers to requests
the relay did not send (unknown request ids, more records than asked, another entity's records)
are refused whole, so nothing invented is queued; a session deleting a large share of the
tenant's records, or pushing more records than its cap, reaches the CRM only after a person
confirms with ``qbrelay failures redrive --confirm``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from lambdas.local.cli import main
from lambdas.store.dynamo import DynamoMappingStore
from lambdas.store.ports import HandoffWindow, StoreError
from lambdas.store.sqlite import SqliteMappingStore
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from tests.integration.integrity_rig import (
    PASSWORD,
    TENANT,
    USER,
    Pipeline,
    assert_zoho_matches,
    company,
    rig_for,
)
from tests.integration.zoho_helpers import ZohoEnv

KINDS = ["aws", "local"]


class ForgingCompany(FakeCompany):
    """The company file as a thief's Web Connector answers for it: real answers, tampered."""

    def __init__(self, forge: str, **counts: Any) -> None:
        super().__init__(**counts)
        self.forge = forge

    def process(self, request: str) -> str:
        answer = super().process(request)
        if "CustomerQueryRs" not in answer:
            return answer
        root = etree.fromstring(answer.encode())
        rs = root.find(".//CustomerQueryRs")
        assert rs is not None
        if self.forge == "unknown request":
            extra = etree.fromstring(etree.tostring(rs))
            extra.set("requestID", "forged-1")
            rs.addnext(extra)
        elif self.forge == "more than asked":
            ret = rs.find("CustomerRet")
            assert ret is not None
            for n in range(int(rs.get("iteratorRemainingCount") or 0) + 500):
                copy = etree.fromstring(etree.tostring(ret))
                copy.find("ListID").text = f"FORGED-{n}"
                rs.append(copy)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8").decode()


def _thief_session(rig: Pipeline, books: FakeCompany) -> str | None:
    qbwc = FakeWebConnector(rig.url, owner_id=books.owner_id)
    try:
        return qbwc.run_session(USER, PASSWORD, books).last_error
    finally:
        qbwc.close()


@pytest.mark.parametrize("forge", ["unknown request", "more than asked"])
@pytest.mark.parametrize("kind", KINDS)
def test_answers_to_requests_never_sent_are_refused_whole(
    kind: str, forge: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    books = ForgingCompany(forge, customers=12, items=3, invoices=0, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        error = _thief_session(rig, books)
        rig.settle()
        assert error is not None and "refused" in error, error
        # Items came first, untouched, and went through; no customer, real or forged, did.
        assert len(zoho.fake.all("Products")) == 3
        assert zoho.fake.all("Accounts") == []
        assert rig.depth() == 0 and rig.dead_letters() == []


def _deletable_customers(books: FakeCompany, n: int) -> list[str]:
    gone = []
    for sid in list(books.snapshot("Customer").records):
        if len(gone) == n:
            break
        try:
            books.delete("Customer", sid)
        except Exception:  # in use by a transaction: QuickBooks refuses, try the next
            continue
        gone.append(sid)
    assert len(gone) == n
    return gone


def _active(zoho: ZohoEnv, ids: list[str]) -> list[str]:
    held = {r.get("QB_ListID"): r for r in zoho.fake.all("Accounts")}
    return [sid for sid in ids if held[sid]["QB_Active"] is not False]


@pytest.mark.parametrize("kind", KINDS)
def test_a_mass_deletion_waits_for_confirmation(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("QBRELAY_MASS_DELETION_MIN", "5")
    monkeypatch.setenv("QBRELAY_MASS_DELETION_SHARE", "0.1")
    books = company(customers=40, invoices=8, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        gone = _deletable_customers(books, 12)
        rig.session()
        # Parked, with the reason, and still active in ZOHO.
        reasons = [reason for _, reason in rig.dead_letters()]
        assert len(reasons) == 12 and all("mass deletion" in r for r in reasons), reasons
        assert _active(zoho, gone) == gone
        # A later session reads the same deletions again: they stay parked, once each.
        rig.session()
        assert len(rig.dead_letters()) == 12
        # A re-drive without --confirm leaves them, and says why.
        rig.redrive()
        rig.deliver(2)
        assert len(rig.dead_letters()) == 12 and _active(zoho, gone) == gone
        assert (
            main(["failures", "redrive", "--confirm", "--tenant", TENANT, *rig.target_args()]) == 0
        )
        rig.deliver(2)
        assert rig.dead_letters() == [] and _active(zoho, gone) == []
        assert_zoho_matches(zoho.fake, books)
        assert rig.audit().drift == 0


@pytest.mark.parametrize("kind", KINDS)
def test_records_past_a_sessions_cap_wait_for_confirmation(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("QBRELAY_MAX_SESSION_RECORDS", "15")
    books = company(customers=30, items=10, invoices=0, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        assert len(zoho.fake.all("Products")) == 10 and zoho.fake.all("Accounts") == []
        assert all("session record cap" in r for _, r in rig.dead_letters())
        capsys.readouterr()
        rig.redrive()
        assert re.search(r"held for review", capsys.readouterr().out)
        assert (
            main(["failures", "redrive", "--confirm", "--tenant", TENANT, *rig.target_args()]) == 0
        )
        rig.deliver(2)
        assert rig.dead_letters() == []
        assert_zoho_matches(zoho.fake, books)


class DelayingCompany(FakeCompany):
    """A thief's Web Connector holding the deletion answers back for a few message sets, so the
    records it invents first are mapped before the deletions are weighed."""

    def __init__(self, delay: int, **counts: Any) -> None:
        super().__init__(**counts)
        self.delay = delay

    def process(self, request: str) -> str:
        answer = super().process(request)
        if self.delay <= 0 or "ListDeletedQueryRs" not in answer:
            return answer
        self.delay -= 1
        root = etree.fromstring(answer.encode())
        for rs in root.findall(".//ListDeletedQueryRs") + root.findall(".//TxnDeletedQueryRs"):
            rs.getparent().remove(rs)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8").decode()


@pytest.mark.parametrize("kind", KINDS)
def test_invented_records_do_not_widen_the_mass_deletion_allowance(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("QBRELAY_MASS_DELETION_MIN", "5")
    monkeypatch.setenv("QBRELAY_MASS_DELETION_SHARE", "0.1")
    books = DelayingCompany(0, customers=40, items=0, invoices=0, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        rig.settle()
        # The thief invents 400 customers, deletes 12 real ones, and answers the deletion
        # query only once three pages of its inventions are mapped.
        for n in range(400):
            books.add("Customer", name=f"Invented {n}")
        gone = _deletable_customers(books, 12)
        books.delay = 3
        rig.session()
        rig.settle()
        reasons = [reason for _, reason in rig.dead_letters()]
        assert len(reasons) == 12 and all("mass deletion" in r for r in reasons), reasons
        assert _active(zoho, gone) == gone


@pytest.mark.parametrize("kind", KINDS)
def test_a_mapping_count_the_store_refuses_holds_the_deletions(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    # As the relay function's role lacked Query on the mappings' by_tenant index: the session
    # must go on, and the deletions wait for a person rather than pass unweighed.
    def refused(self: Any, tenant: str) -> int:
        raise StoreError("AccessDeniedException: not authorized to perform dynamodb:Query")

    monkeypatch.setenv("QBRELAY_MASS_DELETION_MIN", "5")
    books = company(customers=40, invoices=0, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        monkeypatch.setattr(DynamoMappingStore, "count", refused)
        monkeypatch.setattr(SqliteMappingStore, "count", refused)
        gone = _deletable_customers(books, 12)
        result = rig.session()
        rig.settle()
        assert result.last_error is None and result.percents[-1] == 100, result
        reasons = [reason for _, reason in rig.dead_letters()]
        assert len(reasons) == 12 and all("mass deletion" in r for r in reasons), reasons
        assert _active(zoho, gone) == gone


@pytest.mark.parametrize("kind", KINDS)
def test_deletions_spread_over_sessions_add_up(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    # closeConnection frees the tenant at once: a thief can run session after session, each
    # under the mass-deletion threshold. The day's deletions are weighed together.
    # About 80 mapped records: 5% of them is under the minimum, so more than 5 is mass.
    monkeypatch.setenv("QBRELAY_MASS_DELETION_MIN", "5")
    monkeypatch.setenv("QBRELAY_MASS_DELETION_SHARE", "0.05")
    books = company(customers=40, invoices=8, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        first = _deletable_customers(books, 4)
        rig.session()
        assert rig.dead_letters() == [] and _active(zoho, first) == []
        second = _deletable_customers(books, 4)
        rig.session()
        reasons = [reason for _, reason in rig.dead_letters()]
        assert len(reasons) == 4 and all("8 deletions in 24 hours" in r for r in reasons), reasons
        assert _active(zoho, second) == second
        assert (
            main(["failures", "redrive", "--confirm", "--tenant", TENANT, *rig.target_args()]) == 0
        )
        rig.deliver(2)
        assert rig.dead_letters() == [] and _active(zoho, second) == []
        assert_zoho_matches(zoho.fake, books)


@pytest.mark.parametrize("kind", KINDS)
def test_records_past_the_daily_cap_wait_for_confirmation(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("QBRELAY_MAX_DAILY_RECORDS", "45")
    books = company(customers=30, items=10, invoices=0, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()  # 40 records: under the day's cap
        assert rig.dead_letters() == [] and rig.handoff_window() == HandoffWindow(40, 0)
        # The next session's answer with 10 changed customers passes the cap: the whole
        # answer waits (records read again unchanged are not counted twice).
        for sid in list(books.snapshot("Customer").records)[:10]:
            books.modify("Customer", sid, phone="555-0100")
        rig.session()
        assert rig.handoff_window() == HandoffWindow(50, 0)
        reasons = [reason for _, reason in rig.dead_letters()]
        assert len(reasons) == 10, reasons
        assert all("more than 45 records in 24 hours" in r for r in reasons), reasons
        assert (
            main(["failures", "redrive", "--confirm", "--tenant", TENANT, *rig.target_args()]) == 0
        )
        rig.deliver(2)
        assert rig.dead_letters() == []
        assert_zoho_matches(zoho.fake, books)


class FutureVersionCompany(FakeCompany):
    """A thief's Web Connector answering for one real customer with forged content and the
    largest EditSequence it can think of, so that every later real change looks older."""

    forge_id: str | None = None

    def process(self, request: str) -> str:
        answer = super().process(request)
        if self.forge_id is None or "CustomerRet" not in answer:
            return answer
        root = etree.fromstring(answer.encode())
        for ret in root.iter("CustomerRet"):
            if ret.findtext("ListID") == self.forge_id:
                ret.find("EditSequence").text = "9999999999"
                ret.find("Name").text = ret.find("FullName").text = "Forged name"
        return etree.tostring(root, xml_declaration=True, encoding="utf-8").decode()


@pytest.mark.parametrize("kind", KINDS)
def test_a_forged_future_version_cannot_freeze_a_record(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    books = FutureVersionCompany(customers=12, items=2, invoices=0, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        victim = next(iter(books.snapshot("Customer").records))
        books.forge_id = victim
        books.modify("Customer", victim, phone="555-0199")  # so the incremental answer has it
        rig.session()
        held = {r["QB_ListID"]: r for r in zoho.fake.all("Accounts")}
        # Forged content goes through (as any forged answer within the limits would), but the
        # relay ordered it by when it read it, not by the thief's EditSequence.
        assert held[victim]["Account_Name"] == "Forged name"
        books.forge_id = None
        # The bookkeeper's next save: QuickBooks stamps it with the (correct) workstation clock.
        books.clock.set(datetime.now(UTC) + timedelta(minutes=1))
        books.modify("Customer", victim, name="Real name after the theft")
        rig.session()
        assert rig.dead_letters() == []
        assert_zoho_matches(zoho.fake, books)
        assert {r["QB_ListID"]: r for r in zoho.fake.all("Accounts")}[victim][
            "Account_Name"
        ] == "Real name after the theft"

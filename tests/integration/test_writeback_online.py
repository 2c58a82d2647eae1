"""Write-back to QuickBooks Online: the OnlineWriter with the real QboClient against the fake
QuickBooks Online on loopback, over the SQLite write-back store, mappings and record queue."""

from __future__ import annotations

import threading

import pytest

from lambdas.qbo.sync import QboSync
from lambdas.store.sqlite import SqliteSyncStateStore
from lambdas.writeback.model import MOD, OpStatus
from lambdas.writeback.online import OnlineWriter, request_id
from lambdas.writeback.online_body import projected
from lambdas.writeback.outcomes import MESSAGE_FIELD, STATUS_FIELD
from lambdas.writeback.targets import DEPENDENCY_FAILED
from sim.fake_qbo import Fault, ManualClock
from tests.integration.qbo_helpers import REALM
from tests.integration.wb_online_rig import TENANT, Rig, make_rig, updates

ACME = {
    "name": "Acme Rockets",
    "company_name": "Acme Rockets Inc",
    "first_name": "Wile",
    "last_name": "Coyote",
    "email": "wile@acme.example",
    "phone": "(555) 010-0001",
    "bill_address.street": "1 Desert Rd, Suite 9",
    "bill_address.city": "Tucson",
    "bill_address.state": "AZ",
    "bill_address.postal_code": "85701",
    "bill_address.country": "United States",
}
ALL_LOST = 5  # the client's first attempt and its 4 retries


@pytest.fixture
def rig(qbo_env) -> Rig:
    return make_rig(qbo_env)


def _status(rig: Rig, op) -> OpStatus:
    return rig.store.get(TENANT, op.op_id).status


def test_an_account_becomes_one_customer_and_is_not_sent_again(rig: Rig) -> None:
    op = rig.enqueue(rig.account_op("z1", ACME))
    report = rig.run()
    assert (report.applied, report.linked, report.not_applied) == (1, 0, 0)
    [made] = rig.customers_named("Acme Rockets")
    assert made["PrimaryEmailAddr"] == {"Address": "wile@acme.example"}
    assert made["BillAddr"]["Line1"] == "1 Desert Rd" and made["BillAddr"]["Line2"] == "Suite 9"
    done = rig.store.get(TENANT, op.op_id)
    assert done.status == OpStatus.APPLIED and done.qb_id == f"qbo:{made['Id']}"
    assert done.result_version == made["SyncToken"] and done.attempts == 1
    assert projected(made) == {**dict.fromkeys(projected(made), ""), **ACME}
    creates = rig.fake.calls["create"]
    assert not rig.store.enqueue(op)  # captured again: the same operation
    assert rig.run().applied == 0
    assert rig.fake.calls["create"] == creates
    messages = rig.messages()
    [record] = [m for m in messages if m.entity == "Customer"]
    assert record.link == "Accounts/z1" and record.source_id == f"qbo:{made['Id']}"
    [update] = updates(messages)
    assert update["zoho_id"] == "z1" and update["fields"][STATUS_FIELD] == "Synced"


def test_the_customer_written_comes_back_unchanged_through_the_sync(rig: Rig) -> None:
    rig.enqueue(rig.account_op("z1", ACME))
    rig.run()
    rig.messages()
    [made] = rig.customers_named("Acme Rockets")
    sync = QboSync({}, rig.client, rig.mappings, rig.queue, SqliteSyncStateStore(rig.env.db))
    report = sync.sync_tenant(TENANT, rig.client(), {"Customer": {made["Id"]}})
    assert (report.read, report.queued, report.unchanged) == (1, 0, 1)  # no echo
    assert rig.messages() == []


def test_a_modification_is_a_sparse_update_with_the_sync_token(rig: Rig) -> None:
    current = rig.company.get("Customer", "3")
    base = projected(current)
    op = rig.enqueue(rig.mod_op("z3", "3", base, phone="(555) 999-0000"))
    assert rig.run().applied == 1
    after = rig.company.get("Customer", "3")
    assert after["PrimaryPhone"] == {"FreeFormNumber": "(555) 999-0000"}
    assert after["SyncToken"] == str(int(current["SyncToken"]) + 1)
    assert after["DisplayName"] == current["DisplayName"]  # sparse: the rest kept
    assert after["BillAddr"] == current["BillAddr"]
    done = rig.store.get(TENANT, op.op_id)
    assert done.result_version == after["SyncToken"] and not done.conflicts
    [record] = [m for m in rig.messages() if m.entity == "Customer"]
    assert record.link is None  # the account already has its customer


def test_a_name_in_use_links_the_existing_customer_instead_of_a_second(rig: Rig) -> None:
    existing = rig.company.get("Customer", "2")
    op = rig.enqueue(rig.account_op("z2", {**ACME, "name": existing["DisplayName"]}))
    before = rig.company.count("Customer")
    report = rig.run()
    assert (report.applied, report.linked) == (1, 1)
    assert rig.company.count("Customer") == before
    done = rig.store.get(TENANT, op.op_id)
    assert done.linked and done.qb_id == "qbo:2"
    [record] = [m for m in rig.messages() if m.entity == "Customer"]
    assert record.link == "Accounts/z2" and record.source_id == "qbo:2"


def test_a_name_a_vendor_holds_is_not_applied_with_the_reason(rig: Rig) -> None:
    rig.company.other_names["Acme Rockets"] = "Vendor"
    op = rig.enqueue(rig.account_op("z1", ACME))
    assert rig.run().not_applied == 1
    done = rig.store.get(TENANT, op.op_id)
    assert done.status == OpStatus.NOT_APPLIED and done.error_code == "6240"
    [update] = updates(rig.messages())
    assert update["fields"][STATUS_FIELD] == "Failed"
    assert "vendor or employee" in update["fields"][MESSAGE_FIELD]


@pytest.mark.parametrize(("policy", "phone"), [("qb_wins", "qb"), ("zoho_wins", "zoho")])
def test_a_stale_sync_token_is_resolved_by_the_policy_and_retried_once(
    qbo_env, policy: str, phone: str
) -> None:
    rig = make_rig(qbo_env, conflict_policy=policy)
    base = projected(rig.company.get("Customer", "4"))
    op = rig.enqueue(rig.mod_op("z4", "4", base, phone="(555) 222-0000", email="new@zoho.example"))
    rig.company.edit("Customer", "4", PrimaryPhone={"FreeFormNumber": "(555) 111-0000"})
    report = rig.run()
    assert report.applied == 1 and report.conflicts == 1
    after = rig.company.get("Customer", "4")
    want = {"qb": "(555) 111-0000", "zoho": "(555) 222-0000"}[phone]
    assert after["PrimaryPhone"]["FreeFormNumber"] == want
    assert after["PrimaryEmailAddr"]["Address"] == "new@zoho.example"  # changed in ZOHO only
    done = rig.store.get(TENANT, op.op_id)
    [conflict] = done.conflicts
    assert (conflict.field, conflict.kept) == ("phone", phone)
    assert rig.fake.calls["update"] == 2  # the stale one and one retry
    [update] = updates(rig.messages())
    assert update["fields"][STATUS_FIELD] == "Conflict"


def test_a_won_deal_becomes_one_invoice_after_its_account(rig: Rig) -> None:
    account = rig.enqueue(rig.account_op("z1", ACME))
    lines = [{"item": "Gadget 2", "description": "two", "quantity": "2", "rate": "10.50"}]
    deal = rig.enqueue(
        rig.deal_op(
            "d1",
            "z1",
            {"txn_date": "2026-03-01", "memo": "Big deal", "amount": "21", "lines": lines},
            depends_on=account.op_id,
        )
    )
    report = rig.run()
    assert report.applied == 2
    [invoice] = rig.invoices_of(deal)
    customer = rig.store.get(TENANT, account.op_id)
    assert f"qbo:{invoice['CustomerRef']['value']}" == customer.qb_id
    assert invoice["TotalAmt"] == 21.0 and invoice["TxnDate"] == "2026-03-01"
    done = rig.store.get(TENANT, deal.op_id)
    assert done.qb_id == f"qbo:{invoice['Id']}" and done.ref_number == invoice["DocNumber"]
    assert invoice["DocNumber"].isdigit()
    messages = rig.messages()
    [record] = [m for m in messages if m.entity == "Invoice"]
    assert record.link is None
    [deal_update] = [u for u in updates(messages) if u["module"] == "Deals"]
    assert deal_update["fields"]["QB_TxnID"] == done.qb_id
    assert deal_update["fields"]["QB_RefNumber"] == invoice["DocNumber"]


def test_an_invoice_is_made_once_when_re_enqueued_and_when_two_writers_race(qbo_env) -> None:
    rig = make_rig(qbo_env)
    rig.fake.latency = 0.05  # calls overlap
    deal = rig.enqueue(rig.deal_op("d1", "z1", {"amount": "99.00", "memo": "Race"}))
    account = rig.account_op("z1", ACME)
    rig.enqueue(account)
    rig.store.mark(TENANT, account.op_id, [OpStatus.PENDING], OpStatus.SENT)
    rig.store.mark(TENANT, account.op_id, [OpStatus.SENT], OpStatus.APPLIED, qb_id="qbo:1")
    reports = []
    barrier = threading.Barrier(2)

    def run() -> None:
        writer = OnlineWriter(rig.store, rig.mappings, rig.queue, rig.client)
        barrier.wait()
        reports.append(writer.run(rig.tenant))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r.applied for r in reports) == 1
    assert len(rig.invoices_of(deal)) == 1
    assert rig.fake.calls["create"] == 1
    assert not rig.store.enqueue(deal)
    assert rig.run().applied == 0
    assert len(rig.invoices_of(deal)) == 1


def test_a_lost_answer_is_recovered_by_the_clients_retry_with_the_same_requestid(
    rig: Rig,
) -> None:
    rig.fake.lose_answers("create", times=1)
    op = rig.enqueue(rig.account_op("z1", ACME))
    assert rig.run().applied == 1
    assert rig.fake.calls["lost"] == 1 and rig.fake.calls["replayed"] == 1
    assert len(rig.customers_named("Acme Rockets")) == 1
    assert rig.store.get(TENANT, op.op_id).message_set_id == request_id(REALM, op.op_id)


def test_a_customer_whose_answers_were_lost_is_unknown_then_reconciled_by_replay(
    rig: Rig,
) -> None:
    rig.fake.lose_answers("create", times=ALL_LOST)
    op = rig.enqueue(rig.account_op("z1", ACME))
    report = rig.run()
    assert report.unknown == 1 and _status(rig, op) == OpStatus.UNKNOWN
    assert len(rig.customers_named("Acme Rockets")) == 1  # applied, the answer lost
    assert rig.messages() == []
    replayed = rig.fake.calls["replayed"]
    assert rig.run().applied == 1
    assert rig.fake.calls["replayed"] == replayed + 1  # Intuit's first answer, again
    assert len(rig.customers_named("Acme Rockets")) == 1
    done = rig.store.get(TENANT, op.op_id)
    assert done.status == OpStatus.APPLIED and not done.linked and done.attempts == 1
    [record] = [m for m in rig.messages() if m.entity == "Customer"]
    assert record.link == "Accounts/z1"


def test_when_the_replay_fails_too_a_read_back_finds_the_customer(rig: Rig) -> None:
    rig.fake.lose_answers("create", times=2 * ALL_LOST)
    op = rig.enqueue(rig.account_op("z1", ACME))
    assert rig.run().unknown == 1
    assert rig.run().applied == 1  # every replay lost too: the query by DisplayName tells
    assert len(rig.customers_named("Acme Rockets")) == 1
    assert rig.store.get(TENANT, op.op_id).status == OpStatus.APPLIED


def test_a_forgotten_requestid_still_makes_no_second_customer(rig: Rig) -> None:
    rig.fake.lose_answers("create", times=ALL_LOST)
    op = rig.enqueue(rig.account_op("z1", ACME))
    assert rig.run().unknown == 1
    rig.fake.forget_request_ids()
    assert rig.run().applied == 1  # served anew: 6240, and the customer is linked
    assert len(rig.customers_named("Acme Rockets")) == 1
    assert (
        rig.store.get(TENANT, op.op_id).qb_id
        == f"qbo:{rig.customers_named('Acme Rockets')[0]['Id']}"
    )


@pytest.mark.parametrize("forget", [False, True])
def test_an_invoice_whose_answers_were_lost_is_found_by_its_marker(rig: Rig, forget: bool) -> None:
    deal = rig.enqueue(rig.deal_op("d1", "z9", {"amount": "40", "memo": "Lost"}))
    _map(rig, "z9", "5")  # the sync brought customer 5 to ZOHO account z9
    rig.fake.lose_answers("create", times=ALL_LOST)
    assert rig.run().unknown == 1
    assert len(rig.invoices_of(deal)) == 1
    if forget:
        rig.fake.forget_request_ids()  # a replay would make a second invoice
    creates = rig.fake.calls["create"]
    assert rig.run().applied == 1
    assert rig.fake.calls["create"] == creates  # found, not sent again
    [invoice] = rig.invoices_of(deal)
    assert rig.store.get(TENANT, deal.op_id).ref_number == invoice["DocNumber"]


def test_unavailable_goes_back_to_pending_and_a_new_attempt_applies(rig: Rig) -> None:
    rig.fake.inject("create", Fault(503), times=ALL_LOST)
    op = rig.enqueue(rig.account_op("z1", ACME))
    assert rig.run().retry == 1
    pending = rig.store.get(TENANT, op.op_id)
    assert pending.status == OpStatus.PENDING and pending.attempts == 1
    assert rig.run().applied == 1
    done = rig.store.get(TENANT, op.op_id)
    assert done.attempts == 2 and done.message_set_id == request_id(REALM, op.op_id, 2)
    assert len(rig.customers_named("Acme Rockets")) == 1


def test_refusals_are_not_applied_with_intuits_message(rig: Rig) -> None:
    _map(rig, "z9", "5")
    no_item = rig.enqueue(
        rig.deal_op("d1", "z9", {"lines": [{"item": "Nope", "quantity": "1", "rate": "1"}]})
    )
    rig.tenant.invoice_item = ""
    no_default = rig.enqueue(rig.deal_op("d2", "z9", {"amount": "5"}))
    rig.fake.inject("create", Fault(400, "6000", message="A business validation error"))
    refused = rig.enqueue(rig.account_op("z1", ACME))
    assert rig.run().not_applied == 3
    assert "no item named 'Nope'" in rig.store.get(TENANT, no_item.op_id).error
    assert "--invoice-item" in rig.store.get(TENANT, no_default.op_id).error
    done = rig.store.get(TENANT, refused.op_id)
    assert done.error_code == "6000" and "business validation" in done.error
    assert [u["fields"][STATUS_FIELD] for u in updates(rig.messages())] == ["Failed"] * 3


def test_a_needed_reconnect_stops_the_run_and_leaves_the_operations(rig: Rig) -> None:
    first = rig.enqueue(rig.account_op("z1", ACME))
    second = rig.enqueue(rig.account_op("z2", {**ACME, "name": "Other"}))
    rig.env.connections.mark(TENANT, "needs_reconnect", "revoked")
    report = rig.run()
    assert report.stopped and report.applied == 0
    assert _status(rig, first) == _status(rig, second) == OpStatus.PENDING
    assert rig.fake.calls["create"] == 0


def _map(rig: Rig, zoho_id: str, customer_id: str) -> None:
    """Record that the forwarder wrote Online customer ``customer_id`` to ZOHO account."""
    from lambdas.store.ports import Claim, DeliveryOutcome, DeliveryStatus

    sid = f"qbo:{customer_id}"
    rig.mappings.claim(Claim(TENANT, "qbo", "Customer", sid, "0", "t"))
    outcome = DeliveryOutcome(
        TENANT,
        "qbo",
        "Customer",
        sid,
        DeliveryStatus.SYNCED,
        "0",
        2.0,
        content_hash="h",
        zoho_module="Accounts",
        zoho_id=zoho_id,
        token="t",
    )
    rig.mappings.record_outcome(outcome)
    assert rig.mappings.find_by_zoho_id(TENANT, "Accounts", zoho_id) is not None


def test_a_writer_that_dies_before_storing_the_outcome_is_reconciled_later(rig: Rig) -> None:
    from lambdas.store.ports import StoreError

    class Failing(type(rig.store)):
        fail = True

        def mark(self, tenant, op_id, expect, status, **kw):
            if status == OpStatus.APPLIED and self.fail:
                self.fail = False
                raise StoreError("the store went away")
            return super().mark(tenant, op_id, expect, status, **kw)

    store = Failing(rig.env.db)
    now = [1_800_000_000.0]
    writer = OnlineWriter(store, rig.mappings, rig.queue, rig.client, clock=lambda: now[0])
    op = rig.enqueue(rig.account_op("z1", ACME))
    assert writer.run(rig.tenant).errors  # applied in QuickBooks; the outcome not stored
    assert _status(rig, op) == OpStatus.SENT
    assert {m.entity for m in rig.messages()} == {"Customer", "ZohoUpdate"}  # sent first
    assert writer.run(rig.tenant).waiting == 1  # as if another writer still waited for it
    now[0] += 1000  # past STALE_SENT_SECONDS: its writer is gone
    assert writer.run(rig.tenant).applied == 1
    assert len(rig.customers_named("Acme Rockets")) == 1
    done = rig.store.get(TENANT, op.op_id)
    assert done.status == OpStatus.APPLIED and done.attempts == 1


def test_an_invoice_refused_for_its_account_is_tried_again_once_the_account_changes(
    rig: Rig,
) -> None:
    """The capture makes a refused invoice again only when the refusal was its account's
    (DEPENDENCY_FAILED); any other code would leave the won deal without an invoice for good."""
    rig.company.other_names["Acme Rockets"] = "Vendor"
    account = rig.enqueue(rig.account_op("z1", ACME))
    deal = rig.enqueue(rig.deal_op("d1", "z1", {"amount": "5"}, depends_on=account.op_id))
    assert rig.run().not_applied == 2  # the account, then its invoice
    done = rig.store.get(TENANT, deal.op_id)
    assert done.status == OpStatus.NOT_APPLIED and done.error_code == DEPENDENCY_FAILED
    assert "vendor or employee" in done.error


def test_a_dead_writers_operation_is_taken_over_by_one_writer_only(rig: Rig) -> None:
    """Two writers find one operation SENT long ago (its writer died). The first takes it over
    and is reconciling (its call in flight); the second, whose list was read before that, must
    leave it: it is SENT again, by a live writer. Otherwise both reconcile at once, and an
    invoice whose requestid Intuit forgot would be made twice."""
    import time

    _map(rig, "z9", "5")
    deal = rig.enqueue(rig.deal_op("d1", "z9", {"amount": "40", "memo": "Race"}))
    rig.store.mark(
        TENANT,
        deal.op_id,
        [OpStatus.PENDING],
        OpStatus.SENT,
        attempts=1,
        sent_at=time.time() - 2000,
        message_set_id=request_id(REALM, deal.op_id),
    )
    rig.fake.forget_request_ids()
    seen_before = rig.store.open_ops(TENANT)  # the second writer's list, read now
    entered, release = threading.Event(), threading.Event()

    class Held:
        """The first writer's client: its create waits while the second writer runs."""

        def __init__(self, inner) -> None:
            self.inner = inner
            self.realm_id = inner.realm_id

        def query(self, statement):
            return self.inner.query(statement)

        def read(self, entity, obj_id):
            return self.inner.read(entity, obj_id)

        def update(self, entity, body, request_id):
            return self.inner.update(entity, body, request_id)

        def create(self, entity, body, request_id):
            entered.set()
            release.wait(10)
            return self.inner.create(entity, body, request_id)

    first = OnlineWriter(rig.store, rig.mappings, rig.queue, lambda t: Held(rig.client(t)))
    reports = []
    thread = threading.Thread(target=lambda: reports.append(first.run(rig.tenant)))
    thread.start()
    try:
        assert entered.wait(10)

        class Stale(type(rig.store)):
            def open_ops(self, tenant, limit=100):
                return seen_before

        second = OnlineWriter(Stale(rig.env.db), rig.mappings, rig.queue, rig.client)
        report = second.run(rig.tenant)
    finally:
        release.set()
        thread.join(30)
    assert (report.applied, report.waiting) == (0, 1)
    assert reports[0].applied == 1
    assert len(rig.invoices_of(deal)) == 1


@pytest.mark.parametrize("trouble", ["throttled", "unavailable", "no_answer"])
def test_intuit_throttling_or_down_past_the_budget_ends_the_tenants_run(
    qbo_env, trouble: str
) -> None:
    """Each further operation would spend the client's whole budget again (60 s pauses for
    429, backoff for 5xx and timeouts) and a Lambda would time out: the rest wait for the
    next run, untouched."""
    clock = ManualClock()  # the realm's 60 s pauses pass at once
    rig = make_rig(qbo_env, env_args={"clock": clock, "sleep": clock.sleep})
    ops = [rig.enqueue(rig.account_op(f"z{n}", {**ACME, "name": f"Acme {n}"})) for n in range(3)]
    if trouble == "no_answer":
        rig.fake.lose_answers("create", times=ALL_LOST)
    else:
        fault = Fault(429, "3001") if trouble == "throttled" else Fault(503)
        rig.fake.inject("create", fault, times=ALL_LOST)
    report = rig.run()
    assert report.stopped and report.applied == 0
    first = rig.store.get(TENANT, ops[0].op_id)
    assert first.status == (OpStatus.UNKNOWN if trouble == "no_answer" else OpStatus.PENDING)
    for op in ops[1:]:
        waiting = rig.store.get(TENANT, op.op_id)
        assert waiting.status == OpStatus.PENDING and waiting.attempts == 0
    assert rig.run().applied == 3  # Intuit serves again
    assert all(len(rig.customers_named(f"Acme {n}")) == 1 for n in range(3))


def test_an_edit_behind_an_add_that_was_refused_adds_the_customer_itself(rig: Rig) -> None:
    """The account was renamed in ZOHO while its Add was unanswered (a MOD depending on it);
    the Add is then refused (a vendor has the old name). The edit is the account's latest
    content and its customer does not exist: it is added, not refused with the Add, or the
    rename that fixes the collision would never reach QuickBooks (the capture sees the same
    content again and makes no new operation)."""
    rig.company.other_names["Acme Rockets"] = "Vendor"
    add = rig.enqueue(rig.account_op("z1", ACME))
    renamed = {**ACME, "name": "Acme Rockets Ltd"}
    mod = rig.enqueue(
        rig.account_op(
            "z1",
            renamed,
            action=MOD,
            base=ACME,
            depends_on=add.op_id,
            zoho_version="2026-03-02T12:00:00+00:00",
        )
    )
    report = rig.run()
    assert (report.applied, report.not_applied) == (1, 1)
    assert rig.store.get(TENANT, add.op_id).status == OpStatus.NOT_APPLIED
    done = rig.store.get(TENANT, mod.op_id)
    [made] = rig.customers_named("Acme Rockets Ltd")
    assert done.status == OpStatus.APPLIED and done.qb_id == f"qbo:{made['Id']}"
    [record] = [m for m in rig.messages() if m.entity == "Customer"]
    assert record.link == "Accounts/z1"


def test_a_name_an_inactive_customer_holds_links_that_customer(rig: Rig) -> None:
    """QuickBooks Online's "delete" of a customer makes it inactive; queries leave inactive
    ones out unless they ask. The 6240 look-up must see it, as the Desktop's query by FullName
    does, instead of blaming a vendor and refusing the account for good."""
    existing = rig.company.get("Customer", "3")
    rig.company.delete("Customer", "3")  # made inactive, its name kept
    op = rig.enqueue(rig.account_op("z3", {**ACME, "name": existing["DisplayName"]}))
    report = rig.run()
    assert (report.applied, report.linked) == (1, 1)
    assert rig.store.get(TENANT, op.op_id).qb_id == "qbo:3"

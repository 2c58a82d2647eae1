"""Interleavings and inputs a review found breaking "nothing lost, nothing duplicated" (each
test is named after the defect it once showed): a change undone while still undelivered, a
forwarder dying between its ZOHO write and its outcome, a conflict mark that failed, a payment's
re-read request lost, a contact's deletion, re-read requests outgrowing an item, expired and
mismatched claim checks. They drive the real hand-off (``HandOff``), forwarder core
(``ZohoForwarder``) and audit over the SQLite stores against the fake ZOHO CRM on loopback (the
refetch store's size under moto), and decide each interleaving step by step; every test asserts
the promise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from lambdas.model.envelope import Envelope
from lambdas.store.payloads import FolderPayloadStore
from lambdas.store.ports import QueueMessage, StoreError
from lambdas.store.sqlite import (
    SqliteDeadLetterQueue,
    SqliteForwarderState,
    SqliteMappingStore,
    SqliteSyncStateStore,
)
from lambdas.sync.handoff import HandOff
from lambdas.zoho.audit import Auditor
from lambdas.zoho.forwarder import Status, ZohoForwarder
from lambdas.zoho.mapping import build_config
from tests.integration.zoho_helpers import ZohoEnv, customer

TENANT = "acme"
SID = customer(1)["list_id"]


class Crash(Exception):
    """The process dies here (a Lambda timeout, an OOM kill): nothing after it runs."""


@dataclass
class ListQueue:
    """The record queue as a list: the test decides when each message is delivered."""

    sent: list[QueueMessage] = field(default_factory=list)

    def send(self, messages: list[QueueMessage]) -> None:
        self.sent.extend(messages)

    def take(self) -> list[QueueMessage]:
        out, self.sent = self.sent, []
        return out


class Mappings:
    """A MappingStore delegating to SQLite, with hooks to fail or crash a given call."""

    def __init__(self, inner: SqliteMappingStore) -> None:
        self.inner = inner
        self.outcome_calls = 0
        self.fail_outcome_call: int | None = None  # 1-based call of record_outcomes to fail
        self.failure: type[Exception] = StoreError

    def record_outcomes(self, outcomes):
        self.outcome_calls += 1
        if self.outcome_calls == self.fail_outcome_call:
            raise self.failure("injected failure of record_outcomes")
        return self.inner.record_outcomes(outcomes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Harness:
    zoho: ZohoEnv
    now: list[float]
    mappings: SqliteMappingStore
    refetch: SqliteSyncStateStore
    queue: ListQueue
    hand_off: HandOff

    def forwarder(self, mappings: Any = None, clients: Any = None, payloads: Any = None):
        return ZohoForwarder(
            mappings or self.mappings,
            SqliteForwarderState(self.zoho.db),
            SqliteDeadLetterQueue(self.zoho.db),
            clients or self.zoho.factory(),
            clock=lambda: self.now[0],
            refetch=self.refetch,
            payloads=payloads,
        )

    def read(self, *records: dict[str, Any]) -> list[QueueMessage]:
        """One relay exchange reading ``records`` from QuickBooks; the messages it queued."""
        self.now[0] += 10
        self.hand_off(TENANT, [list(records)])
        return self.queue.take()

    def forward(self, messages: list[QueueMessage], deliveries: int = 1, fwd: Any = None):
        self.now[0] += 1
        fwd = fwd or self.forwarder()
        batch = [(str(i), m.body) for i, m in enumerate(messages)]
        return fwd.forward(batch, {str(i): deliveries for i in range(len(messages))})

    def phone_in_zoho(self) -> str | None:
        (account,) = self.zoho.fake.by_field("Accounts", "QB_ListID", SID)
        return account.get("Phone")

    def audit(self):
        self.now[0] += 3600  # nothing in flight any more
        auditor = Auditor(self.mappings, self.refetch, lambda: self.now[0])
        return auditor.audit(TENANT, build_config(), self.zoho.client(TENANT))


@pytest.fixture
def h(zoho: ZohoEnv) -> Harness:
    now = [1_780_000_000.0]
    mappings = SqliteMappingStore(zoho.db)
    queue = ListQueue()
    hand_off = HandOff("qbd", mappings, queue, None, lambda: now[0], 900.0)
    return Harness(zoho, now, mappings, SqliteSyncStateStore(zoho.db), queue, hand_off)


def v(edit_sequence: int, phone: str) -> dict[str, Any]:
    """Customer 1 as QuickBooks returns it at this EditSequence."""
    return customer(1, edit_sequence=str(edit_sequence), phone=phone)


# --- F1: a change reverted while the change is still undelivered ------------------------------


def test_f1_change_reverted_while_in_flight_leaves_zoho_on_the_reverted_change(h: Harness) -> None:
    """V1 (phone A) is in ZOHO. V2 (phone B) is handed off but not applied yet (ZOHO 503s, a
    pause, SQS lag). The user changes the phone back: V3 has V1's content. The relay skips V3
    ("ZOHO has it": applied_hash == V3's hash), then V2 lands. ZOHO ends on B, QuickBooks on A,
    handed_hash == applied_hash, so the audit finds no drift."""
    h.forward(h.read(v(1, "555-0001")))
    assert h.phone_in_zoho() == "555-0001"
    in_flight = h.read(v(2, "555-0002"))
    assert len(in_flight) == 1
    reverted = h.read(v(3, "555-0001"))
    h.forward(in_flight)
    h.forward(reverted)
    report = h.audit()
    # QuickBooks says 555-0001. Either ZOHO holds it, or the audit must say it does not.
    assert h.phone_in_zoho() == "555-0001" or report.drift > 0, (
        f"ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0001, audit: {report.to_json()}"
    )


def test_f1b_forwarder_unchanged_path_takes_no_claim_so_an_older_version_lands_after_it(
    h: Harness,
) -> None:
    """Forwarder side of F1: even if the relay does send V3 (here: it is sent as a fresh read
    after the row's outcome), the forwarder answers V3 'unchanged' without claiming V3, so the
    older V2 delivered after it still wins its claim and overwrites ZOHO."""
    h.forward(h.read(v(1, "555-0001")))
    v2 = h.read(v(2, "555-0002"))
    # V3 reaches the queue (e.g. a forced re-read, or a relay fixed for F1): build its message.
    v3 = [
        QueueMessage(
            TENANT,
            Envelope.of(TENANT, "qbd", v(3, "555-0001"), h.now[0] + 5).to_json(),
            "v3",
        )
    ]
    first = h.forward(v3)
    assert first.outcomes["0"].status == Status.UNCHANGED
    h.forward(v2)  # the older version, delivered late (a redelivery)
    report = h.audit()
    assert h.phone_in_zoho() == "555-0001" or report.drift > 0, (
        f"ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0001 (V3), audit: {report.to_json()}"
    )


def test_f1c_redrive_of_an_old_letter_after_a_revert_overwrites_zoho_and_audit_is_stuck(
    h: Harness,
) -> None:
    """V1 (phone A) is in ZOHO. ZOHO refuses V2 (phone too long): parked, dead letter. The user
    undoes the change in QuickBooks (V3 = V1's content). The relay skips V3 ("ZOHO has it"), so
    the row keeps handed_hash = V2: the audit says 'stale' and --repair re-reads it, but the
    forced re-read is skipped again, so the drift never clears. When the operator fixes ZOHO and
    runs `failures redrive`, the old V2 letter wins its claim (nothing claimed V3) and ZOHO ends
    on the undone change, with a clean audit."""
    from sim.fake_zoho import FakeField

    long_phone = "5" * 40
    h.forward(h.read(v(1, "555-0001")))
    parked = h.forward(h.read(v(2, long_phone)))
    assert parked.outcomes["0"].status == Status.PARKED
    # The revert is sent (something newer than ZOHO's content was outstanding) and claims V3;
    # the audit sees no drift.
    reverted = h.forward(h.read(v(3, "555-0001")))
    assert [o.status for o in reverted.outcomes.values()] == [Status.APPLIED]
    assert h.audit().drift == 0
    # The operator widens the field and re-drives the letter.
    h.zoho.fake.modules["Accounts"].fields["Phone"] = FakeField("Phone", "phone", 100)
    (letter,) = SqliteDeadLetterQueue(h.zoho.db).list(limit=10)
    h.forward([QueueMessage(TENANT, letter.body, "redrive")])
    report = h.audit()
    assert h.phone_in_zoho() == "555-0001" or report.drift > 0, (
        f"after the re-drive ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0001; "
        f"audit {report.to_json()}"
    )


# --- F2: the forwarder dies after the ZOHO write, before record_outcomes -----------------------


def _racing_client(h: Harness, run_first: Any):
    """A client factory whose first upsert lets another forwarder run to the end first."""

    def factory(tenant: str):
        client = h.zoho.client(tenant)
        real = client.upsert
        state = {"done": False}

        def upsert(*args: Any, **kw: Any):
            if not state["done"]:
                state["done"] = True
                run_first()
            return real(*args, **kw)

        client.upsert = upsert  # type: ignore[method-assign]
        return client

    return factory


def test_f2_forwarder_crash_after_zoho_write_lets_an_older_version_win_silently(
    h: Harness,
) -> None:
    """Forwarder A claims V2; forwarder B claims V3, writes ZOHO, records SYNCED; A's upsert of
    V2 lands after B's; A dies before record_outcomes (so no conflict is ever marked). SQS
    redelivers V2: its claim loses to V3 -> 'stale', deleted. ZOHO keeps V2; the mapping says
    V3 applied; the audit (hash against hash) sees no drift. Nothing reports it."""
    h.forward(h.read(v(1, "555-0001")))
    v2 = h.read(v(2, "555-0002"))
    h.now[0] += 1  # the relay's next session, while V2 is still with forwarder A
    v3 = h.read(v(3, "555-0003"))
    crashing = Mappings(h.mappings)
    crashing.fail_outcome_call, crashing.failure = 1, Crash
    fwd_a = h.forwarder(mappings=crashing, clients=_racing_client(h, lambda: h.forward(v3)))
    with pytest.raises(Crash):
        h.forward(v2, fwd=fwd_a)
    assert h.phone_in_zoho() == "555-0002"  # A's older write landed after B's
    redelivered = h.forward(v2, deliveries=2)
    assert redelivered.outcomes["0"].status == Status.STALE
    pending = h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])
    report = h.audit()
    assert h.phone_in_zoho() == "555-0003" or SID in pending or report.drift > 0, (
        f"ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0003; no re-read requested "
        f"({pending}); audit: {report.to_json()}"
    )


# --- F3: the conflict mark itself fails -------------------------------------------------------


def test_f3_conflict_mark_failing_acks_the_message_without_a_reread(h: Harness) -> None:
    """As F2, but A lives: its SYNCED outcome loses (conflict detected), then the CONFLICT mark
    write fails (StoreError, throttling). TenantContext._conflicts has already set the message
    to STALE, so it is deleted from the queue; no re-read is requested, the row still says V3
    applied, and the audit sees no drift while ZOHO holds V2."""
    h.forward(h.read(v(1, "555-0001")))
    v2 = h.read(v(2, "555-0002"))
    h.now[0] += 1
    v3 = h.read(v(3, "555-0003"))
    flaky = Mappings(h.mappings)
    flaky.fail_outcome_call = 2  # 1: the outcomes (SYNCED loses), 2: the conflict marks
    fwd_a = h.forwarder(mappings=flaky, clients=_racing_client(h, lambda: h.forward(v3)))
    report_a = h.forward(v2, fwd=fwd_a)
    status = report_a.outcomes["0"].status
    pending = h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])
    audit = h.audit()
    assert (
        h.phone_in_zoho() == "555-0003"
        or status == Status.RETRY
        or SID in pending
        or audit.drift > 0
    ), (
        f"ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0003; message {status}, re-reads "
        f"{pending}, audit {audit.to_json()}"
    )


# --- F5: a claim-checked payload that is gone ------------------------------------------------


def test_f5_expired_claim_check_is_parked_under_unknown_tenant_and_row_untouched(
    h: Harness, tmp_path
) -> None:
    """The envelope names tenant, entity and id; only its payload is gone (expired after 14
    days, e.g. a re-drive of an old letter, or an S3 hiccup). The forwarder treats it as a
    malformed message: the dead letter is filed under '(unknown)' (so `failures redrive
    --tenant acme` never sees it) and the mapping row is not marked parked and no re-read is
    requested, although the relay could simply read the record again."""
    env = Envelope.of(TENANT, "qbd", v(1, "555-0001"), h.now[0]).checked("acme/gone/key.json")
    msg = QueueMessage(TENANT, env.to_json(), env.dedup_id)
    fwd = h.forwarder(payloads=FolderPayloadStore(tmp_path / "payloads"))
    report = h.forward([msg], fwd=fwd)
    assert report.outcomes["0"].status == Status.PARKED
    (letter,) = SqliteDeadLetterQueue(h.zoho.db).list(limit=10)
    pending = h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])
    assert letter.tenant == TENANT or SID in pending, (
        f"dead letter filed under {letter.tenant!r}; re-reads {pending}"
    )


# --- F6: a claim-check key of another tenant --------------------------------------------------


def test_f6_claim_check_payload_is_not_bound_to_the_envelope(h: Harness, tmp_path) -> None:
    """The forwarder takes whatever record the claim key points at: it checks neither that the
    key is the envelope's own (tenant/content_hash/dedup_id) nor that the payload's identity and
    hash match the envelope. A message for tenant acme naming another tenant's payload key writes
    the other tenant's record into acme's ZOHO."""
    payloads = FolderPayloadStore(tmp_path / "payloads")
    other = customer(9, name="Globex secret", full_name="Globex secret")
    other_env = Envelope.of("globex", "qbd", other, h.now[0])
    payloads.put(other_env.claim_key, json.dumps(other).encode())
    mine = Envelope.of(TENANT, "qbd", v(1, "555-0001"), h.now[0]).checked(other_env.claim_key)
    msg = QueueMessage(TENANT, mine.to_json(), mine.dedup_id)
    report = h.forward([msg], fwd=h.forwarder(payloads=payloads))
    leaked = h.zoho.fake.by_field("Accounts", "QB_ListID", other["list_id"])
    assert not leaked, f"acme's ZOHO got globex's record ({report.outcomes['0']})"


# --- F7: a payment's invoice re-reads are requested only after the send ----------------------


@pytest.mark.parametrize("kind", ["local"])
def test_f7_voided_payment_whose_invoice_reread_request_failed_leaves_invoice_paid(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    """A payment is voided: QuickBooks saves the payment (new EditSequence) but not its
    invoices, so only the relay's re-read of the linked invoices (``_follow_links``) can bring
    the invoice's balance back to ZOHO. That request is stored after queue.send and
    record_handoffs. If it fails (a throttled UpdateItem here; a Lambda timeout after the send
    is the same), the engine reports "Nothing was lost", but the payment is already handed off:
    the next session sees it as applied (or in flight), skips it, and never computes its links
    again. ZOHO keeps the invoice 'Paid', QuickBooks says it is owed; the audit sees no drift."""
    from lambdas.store.sqlite import SqliteSyncStateStore as Store
    from sim.fake_qbwc import FakeWebConnector
    from tests.integration.integrity_rig import (
        PASSWORD,
        USER,
        assert_zoho_matches,
        company,
        rig_for,
    )

    books = company(customers=6, items=3, invoices=6, payments=3)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        assert_zoho_matches(zoho.fake, books)
        payment = next(iter(books.snapshot("ReceivePayment").records))
        books.void("ReceivePayment", payment)

        real = Store.request_refetch
        failed: list[str] = []

        def flaky(self, tenant, source, entity, ids):
            if entity == "Invoice" and not failed:
                failed.append(entity)
                raise StoreError("state table throttled (injected)")
            return real(self, tenant, source, entity, ids)

        monkeypatch.setattr(Store, "request_refetch", flaky)
        qbwc = FakeWebConnector(rig.url, owner_id=books.owner_id)
        try:
            qbwc.run_session(USER, PASSWORD, books)  # this one reports the failure
        finally:
            qbwc.close()
        rig.settle()
        assert failed, "the injected failure did not happen"
        rig.session()  # the next Web Connector run: "asks QuickBooks again"
        rig.session()
        report = rig.audit()
        try:
            assert_zoho_matches(zoho.fake, books)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; audit drift {report.drift}: {report.to_json()}") from None


# --- F4: the DynamoDB re-read set is one item, unbounded ------------------------------------


DYNAMO_ITEM_LIMIT = 400 * 1024


def _item_size(item: dict[str, Any]) -> int:
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for kind, v in value.items():
            if kind == "SS":
                size += sum(len(x.encode()) for x in v)
            elif kind in ("S", "N"):
                size += len(str(v).encode())
    return size


def test_f4_dynamo_refetch_requests_outgrow_the_400kb_item_limit(monkeypatch) -> None:
    """All re-read requests of one tenant and entity are one string set in one item
    (``@refetch#tenant#qbd#Invoice``). An audit --repair after a long ZOHO outage of a company
    with 30,000 invoices asks for all of them in one ADD; real DynamoDB refuses any item over
    400 KB (ValidationException), so the repair fails, and while the item sits near the limit
    every conflict's and every payment's re-read request fails too. moto does not enforce the
    limit, so this test measures the item."""
    import boto3
    from moto import mock_aws

    from lambdas.store.dynamo import DynamoSyncStateStore
    from tests.aws_tables import create_pk_table

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb")
        create_pk_table(ddb, "state")
        store = DynamoSyncStateStore(ddb, "state")
        ids = [f"{n:X}-1718833008" for n in range(0x10000, 0x10000 + 30_000)]
        store.request_refetch(TENANT, "qbd", "Invoice", ids)
        items = ddb.scan(TableName="state")["Items"]
        biggest = max(_item_size(i) for i in items)
        assert biggest <= DYNAMO_ITEM_LIMIT, (
            f"one re-read item holds {biggest} bytes, over DynamoDB's {DYNAMO_ITEM_LIMIT}"
        )


# --- F8: a customer deletion whose Contact update fails is never applied to the Contact ------


def test_f8_deletion_parked_for_its_contact_is_unchanged_on_redrive(h: Harness) -> None:
    """ListDeleted for a customer with a person: the Account is marked inactive, the Contact's
    update is refused (a per-record error). The customer row turns DELETED, the message is
    parked (its PARKED write loses to the DELETED one, silently). Re-driving the letter finds
    the customer row DELETED and answers 'unchanged': the Contact stays active in ZOHO for
    good, its row still 'synced', and the audit sees no drift."""
    from lambdas.zoho.client import RecordResult

    h.forward(h.read(v(1, "555-0001")))
    gone = {
        "entity": "ListDeleted",
        "list_del_type": "Customer",
        "list_id": SID,
        "full_name": "Customer 1",
        "time_deleted": "2026-03-01T10:00:00-05:00",
    }
    deletion = h.read(gone)

    def refusing_contacts(tenant: str):
        client = h.zoho.client(tenant)
        real = client.update

        def update(module, records, trigger=()):
            if module == "Contacts":
                return [RecordResult(False, "RECORD_LOCKED", "locked by approval")] * len(records)
            return real(module, records, trigger)

        client.update = update  # type: ignore[method-assign]
        return client

    first = h.forward(deletion, fwd=h.forwarder(clients=refusing_contacts))
    assert first.outcomes["0"].status == Status.PARKED
    (letter,) = SqliteDeadLetterQueue(h.zoho.db).list(limit=10)
    h.forward([QueueMessage(TENANT, letter.body, "redrive")])  # ZOHO accepts it now
    contacts = h.zoho.fake.by_field("Contacts", "QB_ListID", SID)
    report = h.audit()
    assert [c["QB_Active"] for c in contacts] == [False] or report.drift > 0, (
        f"contact of deleted customer: {[c.get('QB_Active') for c in contacts]}; "
        f"audit {report.to_json()}"
    )

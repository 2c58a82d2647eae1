"""The QuickBooks Online writer over SQLite against the fake QuickBooks Online on loopback."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lambdas.model.envelope import Envelope
from lambdas.qbo.client import QboClient
from lambdas.store.ports import Tenant
from lambdas.store.sqlite import SqliteMappingStore, SqliteRecordQueue, SqliteWriteBackStore
from lambdas.writeback.model import ACCOUNTS, ADD, CUSTOMER, DEALS, INVOICE, MOD, WriteOp, op_id
from lambdas.writeback.online import OnlineWriter
from sim.fake_qbo_company import QboCompany
from tests.integration.qbo_helpers import REALM, QboEnv

TENANT = "acme"
ZOHO_TIME = "2026-03-01T12:00:00+00:00"


def no_sleep(_seconds: float) -> None:
    """The client's backoff, skipped (the fake answers at once)."""


@dataclass
class Rig:
    env: QboEnv
    tenant: Tenant
    store: SqliteWriteBackStore = field(init=False)
    mappings: SqliteMappingStore = field(init=False)
    queue: SqliteRecordQueue = field(init=False)
    clients: list[QboClient] = field(default_factory=list)
    seq: int = 0

    def __post_init__(self) -> None:
        db = self.env.db
        self.store = SqliteWriteBackStore(db)
        self.mappings = SqliteMappingStore(db)
        self.queue = SqliteRecordQueue(db)

    @property
    def fake(self):
        return self.env.fake

    @property
    def company(self) -> QboCompany:
        return self.env.fake.companies[REALM]

    def client(self, tenant: str = TENANT) -> QboClient:
        made = self.env.client(tenant, sleep=no_sleep, timeout=(2.0, 5.0))
        self.clients.append(made)
        return made

    def writer(self) -> OnlineWriter:
        return OnlineWriter(self.store, self.mappings, self.queue, self.client)

    def run(self):
        return self.writer().run(self.tenant)

    def enqueue(self, op: WriteOp) -> WriteOp:
        assert self.store.enqueue(op)
        return op

    def account_op(self, zoho_id: str, fields: dict[str, Any], **kw: Any) -> WriteOp:
        self.seq += 1
        kw.setdefault("action", ADD)
        return WriteOp(
            tenant=TENANT,
            op_id=op_id(ACCOUNTS, zoho_id, kw.pop("zoho_version", ZOHO_TIME)),
            seq=self.seq,
            kind=CUSTOMER,
            edition="qbo",
            zoho_module=ACCOUNTS,
            zoho_id=zoho_id,
            zoho_version=ZOHO_TIME,
            fields=fields,
            **kw,
        )

    def mod_op(self, zoho_id: str, qb_id: str, base: dict[str, str], **changes: str) -> WriteOp:
        current = self.company.get("Customer", qb_id)
        assert current is not None
        return self.account_op(
            zoho_id,
            {**base, **changes},
            action=MOD,
            base=base,
            qb_id=f"qbo:{qb_id}",
            qb_version=current["SyncToken"],
            zoho_version="2026-03-02T12:00:00+00:00",
        )

    def deal_op(self, deal_id: str, account_id: str, fields: dict[str, Any], **kw: Any) -> WriteOp:
        self.seq += 1
        return WriteOp(
            tenant=TENANT,
            op_id=op_id(DEALS, deal_id, "invoice"),
            seq=self.seq,
            kind=INVOICE,
            action=ADD,
            edition="qbo",
            zoho_module=DEALS,
            zoho_id=deal_id,
            zoho_version=ZOHO_TIME,
            fields=fields,
            customer_zoho_id=account_id,
            **kw,
        )

    def messages(self) -> list[Envelope]:
        """Every envelope on the record queue (read and deleted)."""
        out: list[Envelope] = []
        for _ in range(50):
            got = self.queue.receive(10)
            if not got:
                return out
            out += [Envelope.from_json(m.message.body) for m in got]
            self.queue.delete([m.receipt for m in got])
        return out

    def customers_named(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.company.all("Customer") if c.get("DisplayName") == name]

    def invoices_of(self, op: WriteOp) -> list[dict[str, Any]]:
        return [i for i in self.company.all("Invoice") if op.op_id in (i.get("PrivateNote") or "")]


def make_rig(qbo_env, env_args: dict[str, Any] | None = None, **tenant_settings: Any) -> Rig:
    env = qbo_env(**(env_args or {}))
    env.fake.add_company(REALM, seed=1)
    env.connect(TENANT)
    settings: dict[str, Any] = {"writeback": True, "invoice_item": "Widget 1"}
    settings.update(tenant_settings)
    tenant = Tenant(name=TENANT, qbwc_user=TENANT, password_hash="x", **settings)
    return Rig(env, tenant)


def updates(messages: list[Envelope]) -> list[dict[str, Any]]:
    """The ZohoUpdate records among ``messages``."""
    return [m.record for m in messages if m.entity == "ZohoUpdate" and m.record]


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)

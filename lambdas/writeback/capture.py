"""Change capture: ZOHO Accounts (with their primary Contact) and won Deals modified since the
capture's cursors become write operations for QuickBooks.

Read with COQL (read-after-write consistent, unlike search) in pages of 200 (one credit each),
in ``Modified_Time, id`` order, a bounded number of pages a run. Each module has a cursor in
the write-back store, the Modified_Time read up to; it moves only once the operations of a page
are stored, and the next run reads from it again inclusively (``>=``): records that share the
cursor's second are read twice, and named the same operation twice (``op_id`` of the record
and version), so none is lost and none doubled. Within a run the pages go on by key
``(Modified_Time, id)``, so any number of records in one second pages through.

What is not a change for QuickBooks is skipped (``echoes_skipped``): the values the forwarder
wrote there itself (the mapping's ``applied_fields``), a projection equal to the latest
operation's, or a version no newer than it. A change of a record whose latest operation is
still pending replaces that operation's content (``supersede``); one already sent waits behind
it (``depends_on``). Values QuickBooks would refuse make an operation stored as NOT_APPLIED,
and its message goes to the ZOHO record through the record queue (``outcome_update``).
Two runs at once on one tenant (the schedule, and the start of a Web Connector session) find
the same operations and store each once: every write is conditional.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..store.ports import ConcurrentUpdate, MappingStore, QueueMessage, RecordQueue, Tenant
from ..store.writeback_ports import WriteBackStore
from ..zoho.client import CoqlTooManyRows, ZohoClient, coql_string
from ..zoho.errors import ZohoRequestError
from .model import (
    ACCOUNTS,
    ADD,
    CUSTOMER,
    DEALS,
    INVOICE,
    MOD,
    OUTCOME_SECONDS,
    OpStatus,
    WriteOp,
    content_op_id,
    op_id,
)
from .outcomes import outcome_update
from .projection import (
    customer_fields,
    invoice_fields,
    primary_contact,
    validate_customer,
    validate_invoice,
)
from .targets import DEPENDENCY_FAILED
from .zoho_fields import ACCOUNT_FIELDS, CONTACT_FIELDS, kept_values, text

log = logging.getLogger(__name__)

# A cursor names the last record read ("time|id") once its second is this far behind the
# relay's clock: ZOHO cannot save more records in it (with room for the clocks' difference).
SETTLED_SECONDS = 120.0
CURSOR_SEP = "|"

CONTACTS = "Contacts"
PAGE = 200  # COQL rows a page: the most one credit buys
MAX_PAGES = 10  # pages a module a run
IN_VALUES = 50  # COQL's limit of values in ``in (...)``
MAX_CONTACTS = 2000  # contacts read for one batch of accounts
INVALID = "VALIDATION"  # error_code of an operation QuickBooks would refuse
RETRIES = 3  # re-evaluations of a record after losing a race to another run

ACCOUNT_COLUMNS = ("Modified_Time", "QB_ListID", *ACCOUNT_FIELDS)
CONTACT_COLUMNS = ("Modified_Time", "Created_Time", "Account_Name", "QB_ListID", *CONTACT_FIELDS)
DEAL_COLUMNS = ("Modified_Time", "Deal_Name", "Account_Name", "Stage", "Amount", "Closing_Date")
DEAL_COLUMNS += ("QB_TxnID",)
PRODUCT_COLUMNS = ("Product_Name", "Unit_Price", "Description")


@dataclass(slots=True)
class CaptureReport:
    """What one run of the capture did for one tenant."""

    accounts_seen: int = 0
    deals_seen: int = 0
    ops_added: int = 0
    ops_superseded: int = 0
    echoes_skipped: int = 0
    invalid: int = 0
    more: bool = False  # a module had more pages than a run reads: the next run goes on
    cursors: dict[str, str] = field(default_factory=dict)  # where each module's cursor is now


def _instant(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


def _cursor(value: str) -> tuple[str, str | None]:
    """(time, id) of a stored cursor; the id is None for a cursor of the time alone."""
    time_part, sep, rid = value.partition(CURSOR_SEP)
    return (time_part, rid) if sep and rid else (value, None)


def _cursor_after(new: str, old: str) -> bool:
    """Whether cursor ``new`` is past cursor ``old`` (by time, then id)."""
    (nt, nid), (ot, oid) = _cursor(new), _cursor(old)
    if _newer(nt, ot):
        return True
    if _newer(ot, nt):
        return False
    return nid is not None and (oid is None or (len(nid), nid) > (len(oid), oid))


def _newer(version: str, than: str) -> bool:
    """Whether ZOHO time ``version`` is after ``than`` (an unreadable ``than`` is older)."""
    a, b = _instant(version), _instant(than)
    if a is None:
        return False
    return b is None or a > b


def _latest_time(*values: str) -> str:
    known = [(t, v) for v in values if (t := _instant(v)) is not None]
    return max(known)[1] if known else ""


def _lookup_id(value: Any) -> str:
    return str(value.get("id") or "") if isinstance(value, dict) else ""


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class _Run:
    """One run's context: the tenant, its client and edition, and what it did so far."""

    tenant: Tenant
    client: ZohoClient
    edition: str
    report: CaptureReport
    done_accounts: set[str] = field(default_factory=set)


class ZohoCapture:
    """The change capture of every write-back tenant (see the module docstring)."""

    def __init__(
        self,
        store: WriteBackStore,
        mappings: MappingStore,
        queue: RecordQueue,
        clients: Callable[[str], ZohoClient],
        editions: Callable[[str], str],
        clock: Callable[[], float] = time.time,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.store = store
        self.mappings = mappings
        self.queue = queue
        self.clients = clients
        self.editions = editions
        self.clock = clock
        self.max_pages = max_pages
        self._seq_lock = threading.Lock()
        self._last_seq = 0

    # --- the run -----------------------------------------------------------------------------

    def run(self, tenant: Tenant) -> CaptureReport:
        """Capture the tenant's changes since its cursors (nothing if write-back is off)."""
        report = CaptureReport()
        if not tenant.writeback:
            return report
        run = _Run(tenant, self.clients(tenant.name), self.editions(tenant.name), report)
        self._pages(run, ACCOUNTS, ACCOUNT_COLUMNS, "", self._accounts_page)
        self._pages(run, CONTACTS, CONTACT_COLUMNS, "", self._contacts_page)
        won = f"Stage = {coql_string(tenant.won_stage)}"
        self._pages(run, DEALS, DEAL_COLUMNS, won, self._deals_page)
        return report

    def _start(self, tenant: Tenant) -> str:
        """Where a module's first capture starts: when write-back was turned on (else now)."""
        at = tenant.writeback_since if tenant.writeback_since is not None else self.clock()
        return datetime.fromtimestamp(int(at), UTC).isoformat()

    def _pages(
        self,
        run: _Run,
        module: str,
        columns: Sequence[str],
        criteria: str,
        handle: Callable[[_Run, list[dict[str, Any]]], None],
    ) -> None:
        name = run.tenant.name
        cursor = self.store.cursor(name, module) or self._start(run.tenant)
        select = f"select {', '.join(dict.fromkeys(('id', *columns)))} from {module}"
        last = _cursor(cursor)
        for _ in range(self.max_pages):
            if last[1] is None:
                where = f"Modified_Time >= {coql_string(last[0])}"
            else:
                t, rid = coql_string(last[0]), coql_string(last[1])
                where = f"(Modified_Time > {t} or (Modified_Time = {t} and id > {rid}))"
            if criteria:
                where = f"({where}) and {criteria}"
            page = run.client.coql(
                f"{select} where {where} order by Modified_Time asc, id asc limit {PAGE}"
            )
            if not page.rows:
                break
            handle(run, page.rows)
            tail = page.rows[-1]
            last = (str(tail.get("Modified_Time") or last[0]), str(tail["id"]))
            # Only now that the page's operations are stored; never backwards (a run that
            # started earlier may finish later).
            stored = self._settled(*last)
            current = self.store.cursor(name, module)
            if current is None or _cursor_after(stored, current):
                self.store.set_cursor(name, module, stored)
            if not page.more_records:
                break
        else:
            run.report.more = True
        run.report.cursors[module] = self.store.cursor(name, module) or cursor

    def _settled(self, modified: str, rid: str) -> str:
        """The cursor after record ``rid`` of time ``modified``: with the id once that second
        is long past (nothing more can be saved in it, so the next run starts after the record
        instead of re-reading the whole second), the time alone (read again with ``>=``) while
        ZOHO may still save records in it."""
        at = _instant(modified)
        if at is not None and at.timestamp() <= self.clock() - SETTLED_SECONDS:
            return f"{modified}{CURSOR_SEP}{rid}"
        return modified

    # --- accounts ----------------------------------------------------------------------------

    def _accounts_page(self, run: _Run, rows: list[dict[str, Any]]) -> None:
        self._accounts(run, rows)

    def _contacts_page(self, run: _Run, rows: list[dict[str, Any]]) -> None:
        linked = {a for r in rows if (a := _lookup_id(r.get("Account_Name")))}
        ids = sorted(linked - run.done_accounts)
        self._accounts(run, self._read_accounts(run, ids))

    def _read_accounts(self, run: _Run, ids: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(ids), IN_VALUES):
            values = ", ".join(coql_string(i) for i in chunk)
            out.extend(run.client.select_all(ACCOUNTS, ACCOUNT_COLUMNS, f"id in ({values})"))
        return out

    def _accounts(self, run: _Run, accounts: list[dict[str, Any]]) -> None:
        contacts: dict[str, list[dict[str, Any]]] = {}
        ids = [str(a["id"]) for a in accounts]
        for chunk in _chunks(ids, IN_VALUES):
            values = ", ".join(coql_string(i) for i in chunk)
            try:
                rows = list(
                    run.client.select_all(
                        CONTACTS,
                        CONTACT_COLUMNS,
                        f"Account_Name in ({values})",
                        max_rows=MAX_CONTACTS,
                    )
                )
            except CoqlTooManyRows:
                # Accounts with very many contacts: each one's primary contact alone, so the
                # page (and every page after it) is still captured.
                rows = [c for a in chunk if (c := self._primary_of(run, a)) is not None]
            for c in rows:
                contacts.setdefault(_lookup_id(c.get("Account_Name")), []).append(c)
        for account in accounts:
            self._account(run, account, primary_contact(contacts.get(str(account["id"]), [])))

    def _primary_of(self, run: _Run, account_id: str) -> dict[str, Any] | None:
        """The account's primary contact (``primary_contact``'s choice) read by itself: the
        earliest made holding a QB_ListID, else the earliest made."""
        select = f"select {', '.join(dict.fromkeys(('id', *CONTACT_COLUMNS)))} from {CONTACTS}"
        mine = f"Account_Name = {coql_string(account_id)}"
        for where in (f"{mine} and QB_ListID is not null", mine):
            page = run.client.coql(
                f"{select} where {where} order by Created_Time asc, id asc limit 1"
            )
            if page.rows:
                return page.rows[0]
        return None

    def _account(
        self, run: _Run, account: dict[str, Any], contact: dict[str, Any] | None
    ) -> WriteOp | None:
        """Evaluate one account (with its primary contact); the operation now standing for it
        (stored, superseded or found), or None when nothing needs writing."""
        rid = str(account["id"])
        run.done_accounts.add(rid)
        run.report.accounts_seen += 1
        version = _latest_time(
            str(account.get("Modified_Time") or ""),
            str((contact or {}).get("Modified_Time") or ""),
        )
        fields = customer_fields(account, contact)
        for _ in range(RETRIES):
            try:
                return self._account_op(run, rid, account, contact, version, fields)
            except ConcurrentUpdate:
                continue  # another run superseded it first: look again
        raise ConcurrentUpdate(f"account {rid} of {run.tenant.name!r} kept changing")

    def _account_op(
        self,
        run: _Run,
        rid: str,
        account: dict[str, Any],
        contact: dict[str, Any] | None,
        version: str,
        fields: dict[str, str],
    ) -> WriteOp | None:
        name = run.tenant.name
        mapping = self.mappings.find_by_zoho_id(name, ACCOUNTS, rid)
        latest = self.store.latest_for(name, ACCOUNTS, rid)
        if mapping is not None and self._echo(name, mapping.applied_fields, account, contact):
            run.report.echoes_skipped += 1
            return None
        if latest is not None and latest.fields == fields:
            # The same content again (the status the relay wrote back, a re-read of the
            # cursor's second): nothing new for QuickBooks. Other content in the same second
            # (ZOHO's times have seconds only) is a change: its operation id names the content.
            run.report.echoes_skipped += 1
            return latest if latest.open else None
        qb_id, qb_version, base = "", "", {}
        if mapping is not None:
            qb_id, qb_version = mapping.source_id, mapping.applied_version
            if mapping.applied_fields:
                applied_contact = self._applied_contact(name, contact)
                base = customer_fields(mapping.applied_fields, applied_contact)
        elif latest is not None and latest.status == OpStatus.APPLIED and latest.qb_id:
            qb_id, qb_version, base = latest.qb_id, latest.result_version, dict(latest.fields)
        # A Mod writes only what changed since its base: the rest QuickBooks holds already.
        error = validate_customer(fields, edition=run.edition, base=base if qb_id else None)
        if latest is not None and latest.status == OpStatus.PENDING and error is None:
            stored = self.store.supersede(
                name,
                latest.op_id,
                latest.rev,
                fields=fields,
                zoho_version=version,
                base=base or dict(latest.base),
            )
            run.report.ops_superseded += 1
            return stored
        depends = latest.op_id if latest is not None and latest.open else ""
        # Behind an operation still in flight the customer will exist: a Mod of its result
        # (the writer takes the QuickBooks id from ``depends_on`` when ``qb_id`` is empty).
        action = MOD if qb_id or depends else ADD
        if depends and latest is not None and not base:
            base = dict(latest.fields)
        op = self._new_op(
            run, ACCOUNTS, rid, version, CUSTOMER, action, fields, error, content=True
        )
        op = op.with_(base=base, qb_id=qb_id, qb_version=qb_version, depends_on=depends)
        return self._store(run, op)

    def _applied_contact(self, tenant: str, contact: dict[str, Any] | None) -> dict[str, str]:
        if not contact:
            return {}
        mapping = self.mappings.find_by_zoho_id(tenant, CONTACTS, str(contact["id"]))
        return mapping.applied_fields if mapping is not None else {}

    def _echo(
        self,
        tenant: str,
        applied: dict[str, str],
        account: dict[str, Any],
        contact: dict[str, Any] | None,
    ) -> bool:
        """Whether the account (and contact) hold exactly what the forwarder wrote there."""
        if not applied or not _same(applied, kept_values(ACCOUNTS, account)):
            return False
        if contact is None:
            return True
        # A contact the forwarder never wrote is an echo only while it is empty.
        return _same(self._applied_contact(tenant, contact), kept_values(CONTACTS, contact))

    # --- deals -------------------------------------------------------------------------------

    def _deals_page(self, run: _Run, rows: list[dict[str, Any]]) -> None:
        for deal in rows:
            self._deal(run, deal)

    def _deal(self, run: _Run, deal: dict[str, Any]) -> None:
        run.report.deals_seen += 1
        name = run.tenant.name
        rid = str(deal["id"])
        if text(deal.get("Stage")) != run.tenant.won_stage or text(deal.get("QB_TxnID")):
            return
        # One invoice per deal, whatever its version: the first attempt's id is the deal's.
        latest = self.store.latest_for(name, DEALS, rid)
        if latest is not None and latest.status != OpStatus.NOT_APPLIED:
            run.report.echoes_skipped += 1
            return
        unread = ""
        try:
            products = run.client.related_records(DEALS, rid, "Products", PRODUCT_COLUMNS)
        except ZohoRequestError as exc:
            # Refused for this deal alone (more products than a read allows): the deal is told
            # why, and the deals after it in the page are still captured.
            products, unread = [], f"the deal's products could not be read: {exc}"
        fields = invoice_fields(deal, products, self._today(run.tenant))
        if unread:
            fields = {**fields, "products_error": unread}
        error = unread or validate_invoice(fields, run.edition, run.tenant.invoice_item)
        if not fields.get("lines") and run.tenant.invoice_item:
            # The item of the one line is part of what was tried (a new setting is news).
            fields = {**fields, "invoice_item": run.tenant.invoice_item}
        invoice_id = op_id(DEALS, rid, "invoice")
        account_id = _lookup_id(deal.get("Account_Name"))
        depends = ""
        if not account_id:
            error = error or "the deal has no account: QuickBooks needs a customer"
        elif latest is None or latest.fields != fields or latest.error_code == DEPENDENCY_FAILED:
            depends = self._account_dependency(run, account_id)
        if latest is not None:
            # The last attempt was refused: try again only with something changed (the deal's
            # lines or amount, the invoice item) or once its account can be written, never for
            # the status the relay wrote on the deal. The id follows the content, so a re-read
            # of the same content is the same attempt.
            if latest.fields == fields and latest.error_code != DEPENDENCY_FAILED:
                run.report.echoes_skipped += 1
                return
            attempt = json.dumps(fields, sort_keys=True)
            if latest.error_code == DEPENDENCY_FAILED:
                # What the account stands on now is part of the attempt: once it is fixed
                # (a customer, or a new operation), the same content is tried again.
                attempt += f"|after:{depends or 'customer'}"
            invoice_id = op_id(DEALS, rid, "invoice:" + attempt)
            if self.store.get(name, invoice_id) is not None:
                run.report.echoes_skipped += 1
                return
        version = str(deal.get("Modified_Time") or "")
        op = self._new_op(run, DEALS, rid, version, INVOICE, ADD, fields, error)
        self._store(
            run, op.with_(op_id=invoice_id, customer_zoho_id=account_id, depends_on=depends)
        )

    def _account_dependency(self, run: _Run, account_id: str) -> str:
        """The operation a deal's invoice waits for: the account's open one, or the Add made
        now for an account QuickBooks does not know yet; "" when the customer exists."""
        name = run.tenant.name
        latest = self.store.latest_for(name, ACCOUNTS, account_id)
        mapping = self.mappings.find_by_zoho_id(name, ACCOUNTS, account_id)
        if latest is None and mapping is None and account_id not in run.done_accounts:
            self._accounts(run, self._read_accounts(run, [account_id]))
            latest = self.store.latest_for(name, ACCOUNTS, account_id)
        if latest is None:
            return ""
        if latest.open or (latest.status == OpStatus.NOT_APPLIED and mapping is None):
            # A refused account refuses its invoice too (the writer says why).
            return latest.op_id
        return ""

    def _today(self, tenant: Tenant) -> date:
        try:
            zone = ZoneInfo(tenant.time_zone) if tenant.time_zone else UTC
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
        return datetime.fromtimestamp(self.clock(), zone).date()

    # --- operations --------------------------------------------------------------------------

    def _seq(self) -> int:
        # Capture time in microseconds, strictly increasing in this process: an account's
        # Add made for a deal is ordered before the deal's invoice.
        with self._seq_lock:
            self._last_seq = max(int(self.clock() * 1_000_000), self._last_seq + 1)
            return self._last_seq

    def _new_op(
        self,
        run: _Run,
        module: str,
        rid: str,
        version: str,
        kind: str,
        action: str,
        fields: dict[str, Any],
        error: str | None,
        content: bool = False,
    ) -> WriteOp:
        now = self.clock()
        op = WriteOp(
            tenant=run.tenant.name,
            # ``content``: the id names the version and its content (two edits in one second).
            op_id=content_op_id(module, rid, version, fields)
            if content
            else op_id(module, rid, version),
            seq=self._seq(),
            kind=kind,
            action=action,
            edition=run.edition,
            zoho_module=module,
            zoho_id=rid,
            zoho_version=version,
            fields=fields,
            created_at=now,
        )
        if error is None:
            return op
        return op.with_(
            status=OpStatus.NOT_APPLIED,
            error=error,
            error_code=INVALID,
            outcome_at=now,
            expires_at=now + OUTCOME_SECONDS,
        )

    def _store(self, run: _Run, op: WriteOp) -> WriteOp | None:
        """Store ``op`` (once: another run may have stored it first); an invalid one also
        sends its message for the ZOHO record. The operation standing for the record."""
        if not self.store.enqueue(op):
            return self.store.get(op.tenant, op.op_id)
        if op.status == OpStatus.NOT_APPLIED:
            run.report.invalid += 1
            update = outcome_update(op, self.clock())
            self.queue.send([QueueMessage(op.tenant, update.to_json(), update.dedup_id)])
            log.info("write-back %s not sent: %s", op.op_id, op.error)
            return op
        run.report.ops_added += 1
        return op


def _same(applied: dict[str, str], current: dict[str, str]) -> bool:
    """Equal on every field either side has (a field missing on one side is empty)."""
    return all(applied.get(k, "") == current.get(k, "") for k in applied.keys() | current.keys())

"""Payments: what a ReceivePayment message does in ZOHO, and invoices that fall overdue.

An invoice's status (Paid, Pending, Overdue) is computed from the invoice's own QuickBooks
numbers (balance remaining, due date) whenever the invoice is written. A payment, a voided or
deleted payment or an applied credit memo changes those numbers, so the relay reads the
invoices it touches again from QuickBooks and forwards them; the payment itself is only noted.
Nothing here infers a balance, so a payment delivered late or twice cannot change a status.

What changes without any QuickBooks change is the date: an unpaid invoice becomes overdue when
its due date passes. ``overdue_updates`` finds those in ZOHO and moves only them.
"""

from __future__ import annotations

from datetime import date

from .client import MAX_RECORDS, ZohoClient, coql_string
from .context import Msg, TenantContext
from .mapping import MappingConfig
from .outcomes import Status
from .upserts import current

PENDING, OVERDUE = "Pending", "Overdue"


def apply_payments(ctx: TenantContext, entity: str, msgs: list[Msg]) -> None:
    """Note the payments (their invoices come as re-read invoice records)."""
    for m in current(ctx, entity, msgs):
        ctx.synced(m, entity, "", None)
        ctx.outcome(m, Status.APPLIED)


def overdue_updates(client: ZohoClient, config: MappingConfig, today: date) -> int:
    """Mark ZOHO invoices still Pending past their due date as Overdue; how many changed.

    Reads with COQL (read-after-write consistent) only the invoices whose status must change,
    and updates those, 100 a call.
    """
    pay = config.payment
    if pay is None:
        return 0
    where = (
        f"{pay.status_field} = {coql_string(PENDING)} and "
        f"{pay.due_date_field} < {coql_string(today.isoformat())}"
    )
    ids = [str(r["id"]) for r in client.select_all(pay.module, ["id"], where=where)]
    changed = 0
    for start in range(0, len(ids), MAX_RECORDS):
        chunk = ids[start : start + MAX_RECORDS]
        rows = [{"id": i, pay.status_field: OVERDUE} for i in chunk]
        changed += sum(1 for r in client.update(pay.module, rows, config.triggers) if r.ok)
    return changed

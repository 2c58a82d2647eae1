"""Linked records: a QuickBooks record written back from a ZOHO record is written into it by id.

Write-back creates a QuickBooks customer from a ZOHO account and puts the customer on the record
queue with ``link`` = "Accounts/<id>" (lambdas/writeback/outcomes.py). That account has no
external id (QB_ListID) yet, so an upsert on it would create a second account: until the mapping
knows the pair, the forwarder updates the account by id, setting QB_ListID, and the account's
primary contact (its contact without a QB_ListID, earliest created) likewise. Once QB_ListID is
set, every later version upserts into the same records as usual.

Versions still order the writes (claims as for every record). A linked version older than one
already claimed writes only the link (QB_ListID), marks the mapping row as a conflict naming the
ZOHO record and asks the relay to read the record again, so the newer content lands in the
linked record too. A record the relay made meanwhile from an unlinked version (it holds this
QuickBooks id, which only the relay writes) is a duplicate of the linked one: it is deleted when
ZOHO refuses the link for it (DUPLICATE_DATA on the external id) and it was made after the
linked record; an older one is a person's and is never deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..store.ports import DeliveryOutcome, DeliveryStatus
from .client import MAX_RECORDS, CoqlTooManyRows, RecordResult, coql_string
from .context import Msg, TenantContext
from .errors import ZohoError
from .mapping import EntitySpec
from .outcomes import Status

log = logging.getLogger(__name__)

# COQL takes at most 50 values in one ``in``.
COQL_IN = 50
# The contacts of one account read to find its primary one: far more than any account has.
MAX_CONTACTS = 2000


def is_gone(result: RecordResult) -> bool:
    """True when ZOHO refused an update by id because the record does not exist (deleted)."""
    return (
        not result.ok and result.code == "INVALID_DATA" and result.details.get("api_name") == "id"
    )


def linked_id(ctx: TenantContext, spec: EntitySpec, m: Msg) -> str | None:
    """The id of the ``spec.module`` record ``m`` is written into by id, else None.

    Only while the mapping does not name that record yet (afterwards the external id matches).
    """
    if m.link is None or m.link[0] != spec.module:
        return None
    row = ctx.mapping(m.source, spec.store_entity, m.source_id)
    return None if row is not None and row.zoho_id == m.link[1] else m.link[1]


def update_by_id(
    ctx: TenantContext, module: str, id_field: str | None, bodies: Sequence[dict[str, Any]]
) -> list[RecordResult]:
    """Update up to 100 records by ZOHO id (each body carries ``id``); a result per body.

    A record ZOHO names as already holding the body's external id (``id_field``) is the relay's
    duplicate of the linked record: it is deleted and the body written once more.
    """
    results = ctx.client.update(module, bodies, ctx.config.triggers)
    if id_field is None:
        return results
    dups: dict[int, str] = {}
    for i, r in enumerate(results):
        other = r.details.get("duplicate_record")
        dup = str(other.get("id") or "") if isinstance(other, dict) else ""
        named = r.code == "DUPLICATE_DATA" and r.details.get("api_name") == id_field
        if named and dup and dup != str(bodies[i]["id"]):
            dups[i] = dup
    if not dups:
        return results
    # Only a record made after the linked one can be the relay's copy of it; an older record
    # holding the id is a person's (a customer linked by name that ZOHO already had): it stays,
    # and the linked write fails with ZOHO's answer rather than deleting anyone's account.
    made = _created_times(ctx, module, {*dups.values(), *(str(bodies[i]["id"]) for i in dups)})
    dups = {
        i: dup
        for i, dup in dups.items()
        if made.get(dup, 0.0) >= made.get(str(bodies[i]["id"]), float("inf"))
    }
    if not dups:
        return results
    log.warning(
        "tenant %s: deleting %d %s record(s) the relay made before their ZOHO record was "
        "linked (duplicates of the linked ones)",
        ctx.tenant,
        len(set(dups.values())),
        module,
    )
    ctx.client.delete(module, sorted(set(dups.values())))
    again = ctx.client.update(module, [bodies[i] for i in dups], ctx.config.triggers)
    for i, r in zip(dups, again, strict=True):
        results[i] = r
    return results


def _created_times(ctx: TenantContext, module: str, ids: set[str]) -> dict[str, float]:
    """When each of the records ``ids`` was made (absent: not found)."""
    out: dict[str, float] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), COQL_IN):
        chunk = ordered[start : start + COQL_IN]
        where = f"id in ({', '.join(coql_string(i) for i in chunk)})"
        for row in ctx.client.select_all(module, ["Created_Time"], where, max_rows=COQL_IN):
            out[str(row["id"])] = _created(row)
    return out


def primary_contacts(
    ctx: TenantContext, contact: EntitySpec, accounts: dict[str, str]
) -> dict[str, str | None]:
    """Per account id (-> the QuickBooks id written into it): the contact to write by id, its
    primary one (with no QB_ListID, earliest created).

    None for an account with no contact to link (the contact is upserted, i.e. created, or
    found by its external id when the account's primary contact holds it already).
    """
    found: dict[str, list[dict[str, Any]]] = {a: [] for a in accounts}
    ids = sorted(accounts)
    fields = ["Account_Name", contact.id_field, "Created_Time"]
    for start in range(0, len(ids), COQL_IN):
        chunk = ids[start : start + COQL_IN]
        where = f"Account_Name in ({', '.join(coql_string(a) for a in chunk)})"
        try:
            rows = list(ctx.client.select_all("Contacts", fields, where, max_rows=MAX_CONTACTS))
        except CoqlTooManyRows:
            # Accounts with very many contacts: each one's candidate alone (a failure here
            # would come back with every delivery of the batch).
            rows = [r for a in chunk for r in _first_candidate(ctx, contact, a, accounts[a])]
        for row in rows:
            lookup = row.get("Account_Name")
            account = str(lookup.get("id") if isinstance(lookup, dict) else lookup or "")
            if account in found:
                found[account].append(row)
    out: dict[str, str | None] = {}
    for account, rows in found.items():
        # The earliest made of the contacts holding no QuickBooks id or this one: when it holds
        # this one it is linked already (the upsert on the external id finds it); a later one
        # holding it is the relay's, made before the link by a version without it.
        mine = [r for r in rows if str(r.get(contact.id_field) or "") in ("", accounts[account])]
        mine.sort(key=lambda r: (_created(r), int(str(r["id"]))))
        first = mine[0] if mine else None
        out[account] = str(first["id"]) if first and not first.get(contact.id_field) else None
    return out


def _first_candidate(
    ctx: TenantContext, contact: EntitySpec, account: str, qb_id: str
) -> list[dict[str, Any]]:
    """The earliest made contact of ``account`` holding no QuickBooks id or ``qb_id`` (the
    choice of ``primary_contacts``), read by itself; [] when there is none."""
    id_field = contact.id_field
    where = (
        f"Account_Name = {coql_string(account)} and ({id_field} is null or "
        f"{id_field} = {coql_string(qb_id)})"
    )
    page = ctx.client.coql(
        f"select Account_Name, {id_field}, Created_Time from Contacts where {where} "
        "order by Created_Time asc, id asc limit 1"
    )
    return list(page.rows)


def _created(row: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(row.get("Created_Time"))).timestamp()
    except ValueError:
        return 0.0


def relink(ctx: TenantContext, spec: EntitySpec, msgs: list[Msg]) -> None:
    """Write only the link of linked versions that lost to a newer one (see the module doc).

    Each row linked is marked a conflict naming its ZOHO record, and the record is read again.
    A message whose link could not be written comes again (retry).
    """
    items = [(m, zid) for m in msgs if (zid := linked_id(ctx, spec, m)) is not None]
    done: list[Msg] = []
    for start in range(0, len(items), MAX_RECORDS):
        chunk = items[start : start + MAX_RECORDS]
        try:
            bodies = [{"id": zid, spec.id_field: m.source_id} for m, zid in chunk]
            results = update_by_id(ctx, spec.module, spec.id_field, bodies)
        except ZohoError as exc:
            for m, _ in chunk:
                ctx.outcome(m, Status.RETRY, f"{spec.module}: the link was not written: {exc}")
            continue
        for (m, zid), result in zip(chunk, results, strict=True):
            if result.ok:
                _linked_conflict(ctx, m, spec, zid)
                done.append(m)
            elif not is_gone(result):  # a deleted record has nothing to link
                reason = f"{spec.module}: the link was not written: {result.reason()}"
                ctx.outcome(m, Status.RETRY, reason)
    contact = spec.contact
    if contact is None or not done:
        return
    due = [m for m in done if m.link is not None]
    try:
        chosen = primary_contacts(ctx, contact, {m.link[1]: m.source_id for m in due if m.link})
        pairs = [(m, cid) for m in due if m.link and (cid := chosen.get(m.link[1]))]
        for start in range(0, len(pairs), MAX_RECORDS):
            chunk = pairs[start : start + MAX_RECORDS]
            bodies = [{"id": cid, contact.id_field: m.source_id} for m, cid in chunk]
            results = update_by_id(ctx, contact.module, contact.id_field, bodies)
            for (m, cid), result in zip(chunk, results, strict=True):
                if result.ok:
                    _linked_conflict(ctx, m, contact, cid)
    except ZohoError as exc:
        # The account is linked; the contact is linked by the re-read's version (or made).
        log.warning("tenant %s: linking contacts failed: %s", ctx.tenant, exc)


def _linked_conflict(ctx: TenantContext, m: Msg, spec: EntitySpec, zoho_id: str) -> None:
    """The row names its linked ZOHO record, whose content is older: a re-read is due."""
    ctx.record(
        m,
        DeliveryOutcome(
            ctx.tenant,
            m.source,
            spec.store_entity,
            m.source_id,
            DeliveryStatus.CONFLICT,
            m.version,
            ctx.ports.clock(),
            zoho_module=spec.module,
            zoho_id=zoho_id,
            last_error="linked to its ZOHO record by an older version; re-read requested",
        ),
    )
    ctx.reread(m)

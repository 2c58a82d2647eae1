"""An in-memory QuickBooks Online company behind the ``QboReader`` port, for the sync's tests.

A faithful simple model of what the sync relies on: per-entity Ids, a SyncToken bumped on every
change, ``MetaData`` times from a test clock, inactive list elements left out of queries unless
``Active in (true, false)`` asks for them, deletions that change-data-capture reports as
``status: Deleted``, CDC's 30-day window and its per-entity object cap. It also builds webhook
deliveries (CloudEvents and legacy) for the changes it makes.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.qbo.reader import (
    CDC_MAX_AGE_DAYS,
    CDC_MAX_OBJECTS,
    CdcWindowExpired,
    CdcWindowTooLarge,
)
from lambdas.qbo.webhooks import sign

LIST_ENTITIES = ("Customer", "Item")
_VERB = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged"}
_SELECT = re.compile(r"^select \* from (\w+)(?: where (.+))?$", re.IGNORECASE)
_CONDITION = re.compile(
    r"^(?:(Active) in \(true, false\)|(Id) in \((.*)\)|"
    r"(Metadata\.LastUpdatedTime) (>=|<|>|<=) '([^']+)')$",
    re.IGNORECASE,
)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class Change:
    """One change made to the company (what a webhook would announce)."""

    entity: str
    id: str
    operation: str
    at: datetime
    merged_id: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class InMemoryQbo:
    """One realm's objects, changes and the reads made of them."""

    def __init__(self, realm: str, now: datetime, cdc_cap: int = CDC_MAX_OBJECTS) -> None:
        self.realm = realm
        self.now = now
        self.cdc_cap = cdc_cap
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.deleted: dict[str, dict[str, datetime]] = {}
        self.changes: list[Change] = []
        self.calls: list[tuple[str, Any]] = []
        self._next: dict[str, int] = {}
        self.fail_reads: Exception | None = None

    # --- making changes ----------------------------------------------------------------

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def _meta(self, created: datetime | None = None) -> dict[str, str]:
        return {"CreateTime": iso(created or self.now), "LastUpdatedTime": iso(self.now)}

    def create(self, entity: str, **fields: Any) -> dict[str, Any]:
        self.tick()
        n = self._next.get(entity, 0) + 1
        self._next[entity] = n
        obj = {"Id": str(n), "SyncToken": "0", "MetaData": self._meta(), **fields}
        if entity in LIST_ENTITIES:
            obj.setdefault("Active", True)
        self.objects.setdefault(entity, {})[obj["Id"]] = obj
        self.changes.append(Change(entity, obj["Id"], "Create", self.now))
        return copy.deepcopy(obj)

    def update(self, entity: str, oid: str, **fields: Any) -> dict[str, Any]:
        self.tick()
        obj = self.objects[entity][oid]
        created = datetime.fromisoformat(obj["MetaData"]["CreateTime"])
        obj.update(fields)
        obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        obj["MetaData"] = self._meta(created)
        self.changes.append(Change(entity, oid, "Update", self.now))
        return copy.deepcopy(obj)

    def delete(self, entity: str, oid: str) -> None:
        self.tick()
        del self.objects[entity][oid]
        self.deleted.setdefault(entity, {})[oid] = self.now
        self.changes.append(Change(entity, oid, "Delete", self.now))

    def merge(self, entity: str, loser: str, survivor: str) -> None:
        """Fold ``loser`` into ``survivor`` (QBO merges customers and items this way)."""
        self.tick()
        del self.objects[entity][loser]
        self.deleted.setdefault(entity, {})[loser] = self.now
        obj = self.objects[entity][survivor]
        obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        obj["MetaData"]["LastUpdatedTime"] = iso(self.now)
        self.changes.append(Change(entity, survivor, "Merge", self.now, merged_id=loser))

    # --- QboReader -----------------------------------------------------------------------

    def _guard(self) -> None:
        if self.fail_reads is not None:
            raise self.fail_reads

    def query(self, statement: str) -> Iterator[dict[str, Any]]:
        self._guard()
        self.calls.append(("query", statement))
        match = _SELECT.match(statement.strip())
        if match is None:
            raise ValueError(f"unsupported query {statement!r}")
        entity, where = match.group(1), match.group(2)
        inactive, tests = False, []
        for part in re.split(r" and ", where or "", flags=re.IGNORECASE) if where else []:
            cond = _CONDITION.match(part.strip())
            if cond is None:
                raise ValueError(f"unsupported condition {part!r}")
            if cond.group(1):
                inactive = True
            elif cond.group(2):
                ids = {v.strip().strip("'") for v in cond.group(3).split(",")}
                tests.append(lambda o, ids=ids: o["Id"] in ids)
            else:
                op, bound = cond.group(5), datetime.fromisoformat(cond.group(6))
                tests.append(lambda o, op=op, bound=bound: _compare(_updated(o), op, bound))
        found = [
            copy.deepcopy(o)
            for o in sorted(self.objects.get(entity, {}).values(), key=lambda o: int(o["Id"]))
            if (inactive or entity not in LIST_ENTITIES or o.get("Active", True))
            and all(t(o) for t in tests)
        ]
        yield from found

    def read_by_ids(self, entity: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        self._guard()
        self.calls.append(("read", (entity, tuple(ids))))
        have = self.objects.get(entity, {})
        return [copy.deepcopy(have[i]) for i in ids if i in have]

    def change_data_capture(
        self, entities: Sequence[str], changed_since: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        self._guard()
        self.calls.append(("cdc", (tuple(entities), changed_since)))
        if changed_since < self.now - timedelta(days=CDC_MAX_AGE_DAYS):
            raise CdcWindowExpired(f"changedSince {changed_since} is older than 30 days")
        out: dict[str, list[dict[str, Any]]] = {}
        for entity in entities:
            live = [
                copy.deepcopy(o)
                for o in self.objects.get(entity, {}).values()
                if _updated(o) > changed_since
            ]
            gone = [
                {"Id": oid, "status": "Deleted", "MetaData": {"LastUpdatedTime": iso(at)}}
                for oid, at in self.deleted.get(entity, {}).items()
                if at > changed_since
            ]
            if len(live) + len(gone) > self.cdc_cap:
                raise CdcWindowTooLarge(f"more than 1000 {entity} changes", entity=entity)
            out[entity] = live + gone
        return out

    # --- webhook deliveries ------------------------------------------------------------

    def cloud_events(self, changes: Sequence[Change]) -> bytes:
        events = []
        for c in changes:
            event: dict[str, Any] = {
                "specversion": "1.0",
                "id": c.event_id,
                "source": "intuit.test",
                "type": f"qbo.{c.entity.lower()}.{_VERB[c.operation]}.v1",
                "datacontenttype": "application/json",
                "time": iso(c.at),
                "intuitentityid": c.id,
                "intuitaccountid": self.realm,
                "data": {"deletedId": c.merged_id} if c.merged_id else {},
            }
            events.append(event)
        return json.dumps(events).encode()

    def legacy(self, changes: Sequence[Change]) -> bytes:
        entities = []
        for c in changes:
            e: dict[str, Any] = {
                "name": c.entity,
                "id": c.id,
                "operation": c.operation,
                "lastUpdated": iso(c.at),
            }
            if c.merged_id:
                e["deletedId"] = c.merged_id
            entities.append(e)
        payload = {
            "eventNotifications": [
                {"realmId": self.realm, "dataChangeEvent": {"entities": entities}}
            ]
        }
        return json.dumps(payload).encode()


def signed(body: bytes, token: str) -> dict[str, str]:
    """Headers of a delivery of ``body`` signed with ``token``."""
    return {"intuit-signature": sign(body, token), "content-type": "application/json"}


def _updated(obj: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(obj["MetaData"]["LastUpdatedTime"])


def _compare(value: datetime, op: str, bound: datetime) -> bool:
    return {
        ">=": value >= bound,
        ">": value > bound,
        "<": value < bound,
        "<=": value <= bound,
    }[op]

"""The QuickBooks Online Accounting API client (``requests``), one tenant's company at a time.

Satisfies ``lambdas.qbo.reader.QboReader`` (``query``, ``read_by_ids``, ``change_data_capture``)
and adds ``read``, ``create`` and ``update``. Every call:

- carries ``minorversion=75`` (research §2.2) and explicit (connect, read) timeouts;
- waits for its realm's turn in the shared :class:`RealmLimiter` (limits.py);
- logs ``intuit_tid`` on every failure (never a token or a body);
- parses both Fault casings (``Fault``/``Error``/``Message`` and the gateway's
  ``fault``/``error``/``message``), and XML throttle bodies by their status;
- on 401 refreshes the token once (``QboTokens``) and retries once;
- on 429 pauses the whole realm for ~60 s with jitter (every process waits, not only this one)
  and retries, up to ``throttle_retries`` times, then raises :class:`QboThrottled`;
- on 5xx, timeouts and connection errors backs off exponentially (1, 2, 4… s with jitter, at most
  ``max_retries`` times) and then raises :class:`QboUnavailable`, or :class:`QboNoAnswer` when
  an attempt went unanswered (a write's outcome is then unknown). Writes are retried only
  because they carry a ``requestid`` (Intuit answers a repeated one with the first answer).

Reads of changed entities go ``ID_BATCH`` ids per query: 50 keeps the URL under a kilobyte
(ids are short numbers) and each batch well inside one 1000-object page, while a webhook burst
of a few hundred changes still costs only a handful of metered (CorePlus) calls.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import requests

from .config import MINOR_VERSION, QboConfig
from .errors import (
    CdcWindowExpired,
    CdcWindowTooLarge,
    QboError,
    QboNoAnswer,
    QboThrottled,
    QboUnavailable,
)
from .limits import THROTTLE_PAUSE, RealmLimiter
from .tokens import QboTokens

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
ID_BATCH = 50
CDC_MAX_OBJECTS = 1000
# A little inside Intuit's 30 days, so clock skew never makes Intuit refuse the window.
CDC_LOOKBACK = timedelta(days=30) - timedelta(minutes=10)
TIMEOUT = (5.0, 30.0)
# Query keywords this client adds itself; a statement must not bring its own.
_PAGING = re.compile(r"\b(startposition|maxresults)\b", re.IGNORECASE)
_ENTITY = re.compile(r"\bfrom\s+([A-Za-z]+)", re.IGNORECASE)
_XML_CODE = re.compile(r'<Error[^>]*\bcode="(\d+)"')
# QBO entities whose inactive objects a query leaves out unless ``Active in (true, false)``.
_LIST_ENTITIES = frozenset({"Customer", "Item"})
_REQUEST_ID_NAMESPACE = uuid.UUID("6f1c2f8e-3b7a-4f0e-9a51-7d7b3c2a9e10")


def request_id_for(realm_id: str, *parts: str) -> str:
    """A stable ``requestid`` (36 characters) for one logical write.

    Build it from what identifies the write, e.g. ``(realm, "zoho", record id, "create",
    record version)``, and reuse it on every retry of that write, never for another.
    """
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, "\x1f".join((realm_id, *parts))))


def quote(value: str) -> str:
    """A QBO query string literal: single quotes, with ``\\`` and ``'`` escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_fault(body: Any) -> tuple[str, str, str] | None:
    """(code, message, detail) of Intuit's first error in either casing, or None."""
    if not isinstance(body, dict):
        return None
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, dict):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    first = errors[0] if isinstance(errors, list) and errors else {}
    if not isinstance(first, dict):
        first = {}
    code = str(first.get("code") or fault.get("type") or "")
    message = str(first.get("Message") or first.get("message") or fault.get("type") or "")
    detail = str(first.get("Detail") or first.get("detail") or "")
    return code, message, detail


class QboClient:
    """One tenant's company: queries, reads by id, CDC and writes, within the realm's limits."""

    def __init__(
        self,
        tokens: QboTokens,
        config: QboConfig,
        limiter: RealmLimiter,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = TIMEOUT,
        throttle_retries: int = 2,
        max_retries: int = 4,
    ) -> None:
        self.tokens = tokens
        self.config = config
        self.limiter = limiter
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.timeout = timeout
        self.throttle_retries = throttle_retries
        self.max_retries = max_retries
        self.calls: Counter[str] = Counter()

    @property
    def realm_id(self) -> str:
        return self.tokens.realm_id

    # QboReader.

    def query(self, statement: str) -> Iterator[dict[str, Any]]:
        """Every object the statement selects, paged 1000 at a time (STARTPOSITION is added)."""
        if _PAGING.search(statement):
            raise ValueError("the statement must not have STARTPOSITION/MAXRESULTS of its own")
        found = _ENTITY.search(statement)
        if not found:
            raise ValueError("the statement has no FROM <Entity>")
        entity = found.group(1)
        start = 1
        while True:
            paged = f"{statement.strip()} STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
            body = self._call("GET", "query", "query", params={"query": paged})
            page = (body.get("QueryResponse") or {}).get(entity) or []
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start += PAGE_SIZE

    def read_by_ids(self, entity: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The objects with these Ids (missing ones absent), ``ID_BATCH`` per query."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        out: list[dict[str, Any]] = []
        for start in range(0, len(unique), ID_BATCH):
            batch = ", ".join(quote(i) for i in unique[start : start + ID_BATCH])
            # Inactive customers and items are what QBO's "delete" leaves: read them too.
            active = " and Active in (true, false)" if entity in _LIST_ENTITIES else ""
            out.extend(self.query(f"select * from {_entity(entity)} where Id in ({batch}){active}"))
        return out

    def change_data_capture(
        self, entities: Sequence[str], changed_since: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """Objects of ``entities`` changed since ``changed_since`` (deleted ones as Intuit
        sends them, ``status: Deleted``). CdcWindowExpired past the 30-day look-back,
        CdcWindowTooLarge when the answer is saturated (split the window)."""
        if changed_since.tzinfo is None:
            raise ValueError("changed_since must carry a time zone")
        now = datetime.fromtimestamp(self.clock(), changed_since.tzinfo)
        if now - changed_since > CDC_LOOKBACK:
            raise CdcWindowExpired(
                f"change data capture reaches back 30 days only; {changed_since.isoformat()} "
                "is older: read the entities in full instead"
            )
        names = [_entity(e) for e in entities]
        params = {"entities": ",".join(names), "changedSince": changed_since.isoformat()}
        body = self._call("GET", "cdc", "cdc", params=params)
        out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for response in body.get("CDCResponse") or []:
            for part in response.get("QueryResponse") or []:
                for name in names:
                    out[name].extend(part.get(name) or [])
        total = sum(len(v) for v in out.values())
        if total >= CDC_MAX_OBJECTS:
            raise CdcWindowTooLarge(
                f"change data capture since {changed_since.isoformat()} returned {total} "
                "objects, Intuit's cap: split the window or the entity list"
            )
        return out

    # Reads and writes by id.

    def read(self, entity: str, obj_id: str) -> dict[str, Any] | None:
        """One object by Id; None when Intuit says it is not there (610)."""
        name = _entity(entity)
        try:
            body = self._call("GET", f"{name.lower()}/{obj_id}", "read")
        except QboError as exc:
            if exc.code == "610":
                return None
            raise
        return body.get(name)

    def create(self, entity: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Create an object; the stored object (with Id and SyncToken) as Intuit returns it."""
        if "Id" in body:
            raise ValueError("a create must not carry an Id")
        return self._write(entity, body, request_id, "create")

    def update(self, entity: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Update an object (``Id`` and current ``SyncToken`` required; sparse unless the body
        says ``"sparse": false``); the object as Intuit returns it, with the new SyncToken."""
        if not body.get("Id") or "SyncToken" not in body:
            raise ValueError("an update needs the Id and the current SyncToken")
        return self._write(entity, {"sparse": True, **body}, request_id, "update")

    def _write(self, entity: str, body: dict[str, Any], request_id: str, kind: str) -> dict:
        if not request_id or len(request_id) > 50:
            raise ValueError("a write needs a requestid of 1 to 50 characters")
        name = _entity(entity)
        answer = self._call(
            "POST", name.lower(), kind, params={"requestid": request_id}, json_body=body
        )
        return answer.get(name) or {}

    # Transport.

    def _call(
        self,
        method: str,
        path: str,
        kind: str,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        realm = self.realm_id
        url = f"{self.config.api_base_url}/v3/company/{realm}/{path}"
        query = {**(params or {}), "minorversion": MINOR_VERSION}
        data = json.dumps(json_body).encode() if json_body is not None else None
        refreshed = throttled = failures = 0
        # A call that went unanswered once may have been applied: its failure is "no answer".
        unanswered = False
        rejected: str | None = None
        while True:
            token = self.tokens.access_token(rejected)
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Accept-Encoding": "gzip",
            }
            if data is not None:
                headers["Content-Type"] = "application/json"
            self.calls[kind] += 1
            try:
                with self.limiter.turn(realm):
                    resp = self.session.request(
                        method,
                        url,
                        params=query,
                        data=data,
                        headers=headers,
                        timeout=self.timeout,
                        allow_redirects=False,
                    )
            except requests.RequestException as exc:
                failures += 1
                unanswered = True
                log.warning(
                    "QuickBooks Online %s of realm %s failed: %s (attempt %d)",
                    kind,
                    realm,
                    type(exc).__name__,
                    failures,
                )
                if failures > self.max_retries:
                    raise QboNoAnswer(
                        f"QuickBooks Online did not answer the {kind} ({type(exc).__name__})"
                    ) from None
                self.sleep(_backoff(failures))
                continue
            tid = resp.headers.get("intuit_tid", "")
            status = resp.status_code
            body = _json(resp)
            if status == 200:
                # Intuit may answer 200 with a Fault inside ("parse the response").
                fault = parse_fault(body)
                if fault is not None:
                    raise self._error(kind, realm, status, fault, tid)
                if not isinstance(body, dict):
                    raise QboUnavailable(
                        f"QuickBooks Online answered the {kind} with no JSON object "
                        f"(intuit_tid {tid or '-'})",
                        tid,
                    )
                return body
            fault = parse_fault(body) or (_xml_code(resp.text), "", "")
            log.warning(
                "QuickBooks Online %s of realm %s: HTTP %s code %s (intuit_tid %s)",
                kind,
                realm,
                status,
                fault[0] or "-",
                tid or "-",
            )
            if status == 401 and not refreshed:
                refreshed, rejected = 1, token
                continue
            if status == 401:
                # A fresh token refused too: the authorization is gone; stop calling.
                self.tokens.give_up(
                    f"it rejected a freshly refreshed token for realm {realm} "
                    f"({fault[0] or 401}); the connection may have been revoked",
                    tid,
                    code=fault[0] or "401",
                )
            if status == 429:
                throttled += 1
                if throttled > self.throttle_retries:
                    raise QboThrottled(
                        f"QuickBooks Online kept throttling realm {realm} ({throttled} times "
                        "HTTP 429)",
                        tid,
                    )
                self.limiter.pause(realm, THROTTLE_PAUSE)
                continue
            if status >= 500:
                failures += 1
                if failures > self.max_retries and unanswered:
                    raise QboNoAnswer(
                        f"QuickBooks Online left the {kind} unanswered and then answered HTTP "
                        f"{status}",
                        tid,
                    )
                if failures > self.max_retries:
                    raise QboUnavailable(
                        f"QuickBooks Online answered HTTP {status} to the {kind} {failures} times",
                        tid,
                        code=fault[0] or str(status),
                    )
                self.sleep(_backoff(failures))
                continue
            raise self._error(kind, realm, status, fault, tid)

    def _error(
        self, kind: str, realm: str, status: int, fault: tuple[str, str, str], tid: str
    ) -> QboError:
        code, message, detail = fault
        log.warning(
            "QuickBooks Online refused the %s of realm %s: HTTP %s code %s (intuit_tid %s)",
            kind,
            realm,
            status,
            code or "-",
            tid or "-",
        )
        text = f"QuickBooks Online refused the {kind}: {message or 'HTTP ' + str(status)}"
        if detail:
            text += f" ({detail})"
        return QboError(code or str(status), text, tid, retryable=False)


def _entity(name: str) -> str:
    if not name.isalpha():
        raise ValueError(f"not a QuickBooks Online entity name: {name!r}")
    return name


def _backoff(attempt: int) -> float:
    """1, 2, 4, 8, 16 s (capped) with up to 25% jitter."""
    base = min(2.0 ** (attempt - 1), 16.0)
    return base + random.uniform(0, base / 4)


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _xml_code(text: str) -> str:
    match = _XML_CODE.search(text or "")
    return match.group(1) if match else ""

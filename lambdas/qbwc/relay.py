"""The Web Connector protocol: one session's state machine, independent of SOAP and of storage.

Every method loads the session by ticket from the SessionStore, advances it and saves it, so any
process (or Lambda instance) can serve any call of a session.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qbxml import (
    DataExtAdd,
    DataExtDefAdd,
    HcpInfo,
    QbxmlError,
    QbxmlVersion,
    ResponseSet,
    build_message_set,
    negotiate,
    parse_hcp,
    parse_response,
)
from qbxml.requests import Request
from qbxml.status import STATUS_NAME_IN_USE
from qbxml.sync import GATE_ENTITY
from qbxml.versions import MIN_VERSION

from ..events.publisher import EventPublisher, NoEvents
from ..metrics import AUTH_FAILURES, SESSIONS_COMPLETED, SESSIONS_STARTED, Metrics, NoMetrics
from ..model import events
from ..model.errors import ErrorInfo, classify_hresult, classify_text, error_info
from ..store import keys
from ..store.ports import (
    ConcurrentUpdate,
    EntityRunCounts,
    LoginThrottle,
    RunHistory,
    RunRecord,
    SessionRecord,
    SessionStore,
    StoreError,
    TenantStore,
    ThrottlePolicy,
)
from ..store.throttle import MemoryLoginThrottle
from ..sync.engine import SyncEngine
from ..sync.hours import deferred_notes, only_deferred
from ..sync.plan import DELETIONS, Plan, Step, plural
from ..writeback.desktop import DesktopWriteBack
from .live import NOOP, LiveSessions
from .passwords import verify_password
from .versions import compare_versions

log = logging.getLogger(__name__)

# The company data extension, under the deployment's OwnerID, that names the tenant's .qwc.
FILE_ID = "FileID"
NVU = "nvu"
NONE = "none"
BUSY = "busy"


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """Tunables of the protocol layer, from configuration."""

    server_version: str = "qbxml-relay 0.1.0"
    # The oldest Web Connector the relay serves: older ones get "E:" from clientVersion.
    min_qbwc_version: str = "2.1.0.30"
    # Idle expiry: a ticket lapses this long after its last call.
    session_ttl_seconds: int = 1800
    # Absolute expiry: a ticket lapses this long after authenticate however busy it is, so a
    # stolen ticket cannot be kept alive by calling on it.
    session_max_seconds: int = 7200
    # How long a silent session keeps its tenant "busy": an update the Web Connector abandoned
    # (QBWC killed, PC asleep) must not block the next scheduled one for the whole TTL.
    busy_lease_seconds: int = 600
    postpone_seconds: int | None = None
    min_run_every_seconds: int | None = None
    # How long an address's clientVersion waits for its authenticate (which follows at once).
    client_note_seconds: int = 300
    # Failed logins per user and per source address: N within a window block the key for a
    # time that doubles with every block (see ThrottlePolicy).
    auth_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)


@dataclass(slots=True)
class SessionState:
    """What the relay remembers about a session between calls (stored as JSON)."""

    plan: Plan
    started_at: float
    company_file: str = ""
    qbxml_version: str | None = None
    country: str = ""
    pending: dict[str, str] = field(default_factory=dict)  # request id -> step key
    asked: dict[str, int] = field(default_factory=dict)  # request id -> MaxReturned sent
    stamp_file_id: bool = False  # the company file lacks our FileID: write it first
    writes: list[str] = field(default_factory=list)  # request ids of writes awaiting answers
    exchanges: int = 0
    errors: int = 0
    warnings: list[str] = field(default_factory=list)
    last_error: str = ""
    # The catalogue code of ``last_error`` (lambdas/model/error_catalogue.py); "" for none.
    last_error_code: str = ""
    last_digest: str | None = None
    last_percent: int = 0
    # The write-back phase that opens the session (lambdas/writeback/desktop.py); {}: none.
    writeback: dict[str, Any] = field(default_factory=dict)
    # A live tenant's hold with NoOp waits (lambdas/qbwc/live.py); {}: not live.
    live: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_list(),
            "mapped_before": self.plan.mapped_before,
            "started_at": self.started_at,
            "company_file": self.company_file,
            "qbxml_version": self.qbxml_version,
            "country": self.country,
            "pending": self.pending,
            "asked": self.asked,
            "stamp_file_id": self.stamp_file_id,
            "writes": self.writes,
            "exchanges": self.exchanges,
            "errors": self.errors,
            "warnings": self.warnings[-20:],
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
            "last_digest": self.last_digest,
            "last_percent": self.last_percent,
            "writeback": self.writeback,
            "live": self.live,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        # Keys this version does not know (a session stored by another release) are ignored.
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        plan = Plan.from_list(data["plan"])
        mapped = data.get("mapped_before")
        plan.mapped_before = mapped if isinstance(mapped, int) else None
        return cls(**{**known, "plan": plan})


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def _listed(names: list[str], most: int = 3) -> str:
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])} and {len(names) - most} more"


def clock_warning(plan: Plan) -> str | None:
    """The workstation clock problem of a session, if records came stamped in the future."""
    ahead = [s for s in plan.steps if s.future_stamped]
    if not ahead:
        return None
    counts = ", ".join(f"{s.future_stamped:,} {plural(s.entity, s.future_stamped)}" for s in ahead)
    latest = max((s.future_latest for s in ahead if s.future_latest), default="", key=str)
    return (
        f"Workstation clock problem: {counts} modified as late as {latest.replace('T', ' ')}, "
        "later than the time anywhere now. They are synced, but later syncs do not start "
        "from them; check the date and time of the QuickBooks computers."
    )


def summarize(state: SessionState) -> str:
    """One line for the Web Connector's status column: what changed, what was only re-read.

    E.g. "Synced 3 changed customers, 1 deletion; 40 re-read unchanged", "No changes; 6 records
    re-read", "Synced 1,204 customers (3 errors; failed: invoices)". An entity's first read
    names its records without "changed" (everything is new to the relay).
    """
    steps = state.plan.steps
    # Re-reads by id add to their entity's count.
    queued: dict[str, int] = {}
    first_read: set[str] = set()
    for s in steps:
        if s.queued and s.entity not in DELETIONS:
            queued[s.entity] = queued.get(s.entity, 0) + s.queued
            if not s.synced_before:
                first_read.add(s.entity)
    parts = [
        f"{n:,} {'' if e in first_read else 'changed '}{plural(e, n)}" for e, n in queued.items()
    ]
    deleted = sum(s.queued for s in steps if s.entity in DELETIONS)
    if deleted:
        parts.append(_count(deleted, "deletion"))
    reread = sum(s.unchanged for s in steps)
    if parts:
        text = f"Synced {', '.join(parts)}"
        if reread:
            text += f"; {reread:,} re-read unchanged"
    elif state.errors and not any(s.received or s.status == "done" for s in steps):
        text = "Nothing synced"
    else:
        text = "No changes"
        if reread:
            text += f"; {_count(reread, 'record')} re-read"
    if state.errors:
        note = _count(state.errors, "error")
        failed = [plural(s.entity) for s in steps if s.status == "failed"]
        if failed:
            note += f"; failed: {_listed(failed)}"
        text += f" ({note})"
    unsupported = _unsupported_notes(steps) + deferred_notes(steps)
    if unsupported:
        text += f"; {', '.join(unsupported)}"
    clock = clock_warning(state.plan)
    return f"{text}. {clock}" if clock else text


def _unsupported_notes(steps: list[Step]) -> list[str]:
    """The entities this session found the company file cannot answer (named only this once)."""
    found = [plural(s.entity) for s in steps if s.status == "unsupported"]
    return [f"{', '.join(found)} not available in this company file"] if found else []


def run_record(record: SessionRecord, state: SessionState, ended_at: float) -> RunRecord:
    """The run-history row of a session as it ends."""
    steps = state.plan.steps
    if state.plan.done and not state.errors:
        status = "completed"
    elif any(s.status == "done" for s in steps):
        status = "partial"
    else:
        status = "failed"
    return RunRecord(
        tenant=record.tenant,
        ticket=record.ticket,
        started_at=state.started_at,
        ended_at=ended_at,
        status=status,
        exchanges=state.exchanges,
        errors=state.errors,
        summary=summarize(state),
        last_error=state.last_error,
        error_code=state.last_error_code,
        warnings=_run_warnings(state),
        entities=_entity_counts(steps),
    )


def session_event(run: RunRecord) -> events.Event:
    """The ``session.completed`` event of a finished session's run row."""
    return events.session_completed(
        run.tenant,
        run.ticket,
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        exchanges=run.exchanges,
        errors=run.errors,
        summary=run.summary,
        entities={
            name: {
                "received": c.received,
                "queued": c.queued,
                "unchanged": c.unchanged,
                "errors": c.errors,
            }
            for name, c in run.entities.items()
        },
        warnings=len(run.warnings),
        error=events.session_error(run.last_error, run.status),
    )


def _entity_counts(steps: list[Step]) -> dict[str, EntityRunCounts]:
    """Per entity, its change query and its re-reads by id together."""
    out: dict[str, EntityRunCounts] = {}
    for s in steps:
        if s.entity == GATE_ENTITY:
            continue  # it only tells which probes to run (sync/gate.py)
        c = out.setdefault(s.entity, EntityRunCounts())
        c.received += s.received
        c.queued += s.queued
        c.unchanged += s.unchanged
        c.errors += 1 if s.status == "failed" else 0
    return out


def _run_warnings(state: SessionState) -> list[str]:
    warnings = list(dict.fromkeys(state.warnings))[-20:]
    clock = clock_warning(state.plan)
    return [clock, *warnings] if clock else warnings


def _record_error(state: SessionState, info: ErrorInfo, count: int = 1) -> None:
    """Count ``count`` errors and keep ``info`` as the one ``getLastError`` shows."""
    state.errors += count
    state.last_error = info.for_qbwc()
    state.last_error_code = info.code


def _read_hcp(hcp_response: str) -> HcpInfo | None:
    """The HCP response of a session's first sendRequestXML, when there is a readable one."""
    if not hcp_response.strip():
        return None
    try:
        return parse_hcp(hcp_response)
    except QbxmlError as exc:
        log.warning("unreadable HCP response: %s", exc)
        return None


UNKNOWN_TICKET = (
    "This session is unknown or has expired. The Web Connector starts a new one at its next run; "
    "if this repeats, check that every relay instance uses the same store."
)
ENDED_SESSION = (
    "This session has ended (the tenant's password was changed or the tenant removed). The "
    "Web Connector starts a new one at its next run, with the password in its settings."
)
# Bounded: the version comes from an unauthenticated caller and lands in logs and stores.
MAX_VERSION_CHARS = 40
# Bounded likewise: a rejected user name is the caller's to choose.
MAX_USER_CHARS = 64


def shown_version(version: str) -> str:
    """A Web Connector version fit for logs, pages and terminals: capped, printable only (no
    control or escape characters, which an unauthenticated caller could otherwise send)."""
    return "".join(c for c in version[:MAX_VERSION_CHARS] if c.isprintable())


def shown_user(user: str) -> str:
    """A user name fit for logs: capped, printable only (an unauthenticated caller sent it)."""
    shown = "".join(c for c in user[:MAX_USER_CHARS] if c.isprintable())
    return shown + "…" if len(user) > MAX_USER_CHARS else shown


def client_address(value: str | None) -> str | None:
    """The caller's IP address in canonical form, or None if ``value`` is not one.

    Only a parsed address reaches the store, so a key is at most 45 characters (IPv6) however
    the transport filled it in.
    """
    if not value or len(value) > 64:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class SessionProgress:
    """How far a session got, after each response it handed off (for a progress display).

    ``first_sync``: some entity is being read in full for the first time, the long session.
    """

    tenant: str
    ticket: str
    percent: int  # as answered to QBWC: 0-100, or -1 when the session stops on an error
    step: str | None  # the entity being read next, None when every step finished
    received: int  # records received so far this session
    first_sync: bool


class QbwcRelay:
    """Implements the eight QBWC operations over the tenant, session and run-history ports; the
    sync engine decides what to ask QuickBooks and where the answers go."""

    def __init__(
        self,
        tenants: TenantStore,
        sessions: SessionStore,
        engine: SyncEngine,
        runs: RunHistory,
        settings: RelaySettings | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        throttle: LoginThrottle | None = None,
        on_progress: Callable[[SessionProgress], None] | None = None,
        events: EventPublisher | None = None,
        writeback: DesktopWriteBack | None = None,
    ) -> None:
        self.metrics = metrics or NoMetrics()
        # Writes to QuickBooks that open a session (None: the relay only reads).
        self.writeback = writeback
        # The local process shows it; a display failing must never fail the session.
        self.on_progress = on_progress
        # session.completed for every session that ends (never raises: see EventPublisher).
        self.events: EventPublisher = events or NoEvents()
        # In-process by default; the wirings pass a stored one, so limits hold across instances.
        self.throttle: LoginThrottle = throttle or MemoryLoginThrottle()
        self._owner_id: str | None = None
        self.tenants = tenants
        self.sessions = sessions
        self.engine = engine
        self.runs = runs
        self.settings = settings or RelaySettings()
        self.clock = clock
        # Live tenants (lambdas/qbwc/live.py); the clock as it is when asked (tests set it).
        self.live = LiveSessions(tenants, engine, writeback, lambda: self.clock())

    # --- the operations ---------------------------------------------------------------------

    def server_version(self) -> str:
        """The version string QBWC shows in its "More Information" dialog."""
        return self.settings.server_version

    def client_version(self, version: str, client: str | None = None) -> str:
        """ "" to go on, or "E:..." (the update stops) below ``min_qbwc_version``.

        Never "W:": the Web Connector would show a continue/cancel dialog and wait for a person,
        so a scheduled run at 3 a.m. would stall until someone clicks. The call carries no user
        or ticket (it comes before authenticate), so the version is noted for the caller's
        network address ``client`` for a few minutes; the authenticate that follows from that
        address records it on the tenant (see ``_record_client``).
        """
        shown = shown_version(version)
        minimum = self.settings.min_qbwc_version
        if compare_versions(version, minimum) < 0:
            log.warning("clientVersion: refused Web Connector", extra={"qbwc_version": shown})
            return (
                f"E:This service needs QuickBooks Web Connector {minimum} or newer; this one is "
                f"{shown or 'unknown'}. Install the current Web Connector from Intuit."
            )
        log.info("clientVersion: Web Connector", extra={"qbwc_version": shown})
        address = client_address(client)
        if address is not None and shown:
            now = self.clock()
            try:
                expires = now + self.settings.client_note_seconds
                self.sessions.note_client(address, shown, now, expires)
            except StoreError as exc:
                # Display-only: the update goes on without it.
                log.warning("clientVersion: could not note the version: %s", exc)
        return ""

    def authenticate(self, user: str, password: str, client: str | None = None) -> list[str]:
        """[ticket, status(, postpone, min-run)]: status nvu, none, busy or the company file.

        ``client``: the caller's network address, to record its Web Connector version and to
        count failed logins per address as well as per user. While the user or the address is
        blocked the answer is "nvu" whatever the password, after the same work as a wrong one.
        """
        ticket = secrets.token_hex(20)
        now = self.clock()
        address = client_address(client)
        throttle_keys = [keys.auth_user(user)]
        if address is not None:
            throttle_keys.append(keys.auth_address(address))
        blocked_until = self.throttle.blocked(throttle_keys, now)
        tenant = self.tenants.find_by_user(user)
        # Always run scrypt, against a dummy hash for unknown users and while blocked, so
        # timing reveals neither which users exist nor whether a block is on.
        stored_hash = tenant.password_hash if tenant and blocked_until is None else None
        valid = verify_password(password, stored_hash)
        if tenant is None or not valid:
            # Counted also while blocked (the store ignores it then), for the same store calls.
            started = self.throttle.fail(throttle_keys, now, self.settings.auth_throttle)
            self.metrics.count(AUTH_FAILURES)
            # Never the password: the user and address say who to look at.
            log.warning(
                "authenticate: rejected",
                extra={
                    "qbwc_user": shown_user(user),
                    "source_address": address or "-",
                    "blocked_until": started or blocked_until,
                },
            )
            return self._auth_reply(ticket, NVU)
        self.throttle.succeed(keys.auth_user(user))
        self._record_client(tenant.name, client, now)
        self._record_seen(tenant.name, now)
        if tenant.paused:
            # "none" is the protocol's "nothing to do": the Web Connector shows "No data
            # exchange required" and tries again at its next scheduled run. Nothing is read, so
            # the watermarks stay and the first session after the resume reads every change.
            log.info(
                "authenticate: tenant paused by an operator",
                extra={"tenant": tenant.name, "reason": tenant.paused_reason or "-"},
            )
            return self._auth_reply(ticket, NONE)
        if tenant.live and not self.live.due(tenant, now):
            return self._auth_reply(ticket, NONE)
        writes = self.writeback.start(tenant) if self.writeback is not None else {}
        if not tenant.enabled_entities and not writes:
            return self._auth_reply(ticket, NONE)
        if (
            not writes
            and tenant.min_interval_seconds
            and tenant.last_sync_at is not None
            and now - tenant.last_sync_at < tenant.min_interval_seconds
        ):
            return self._auth_reply(ticket, NONE)
        state = SessionState(
            plan=self.engine.plan(tenant),
            started_at=now,
            company_file=tenant.company_file,
            writeback=writes,
            live=self.live.start(tenant, now),
        )
        if (not state.plan.steps or only_deferred(state.plan)) and not writes:
            return self._auth_reply(ticket, NONE)
        expires_at = self._expiry(now, now)
        record = SessionRecord(
            ticket=ticket,
            tenant=tenant.name,
            expires_at=expires_at,
            state=state.to_dict(),
            lock_expires_at=min(now + self._lease(), expires_at),
        )
        if not self.sessions.create(record, now):
            return self._auth_reply(ticket, BUSY)
        self.metrics.count(SESSIONS_STARTED)
        log.info("authenticate: session started", extra={"tenant": tenant.name})
        return self._auth_reply(ticket, tenant.company_file or "")

    def send_request_xml(
        self,
        ticket: str,
        hcp_response: str,
        company_file: str,
        country: str,
        major: int,
        minor: int,
    ) -> str:
        """The next qbXML request of the session's plan, or "" with getLastError set.

        ``company_file`` is the file QBWC opened; the relay does not need it yet.
        """
        loaded = self._load(ticket)
        if loaded is None:
            return ""
        record, state = loaded
        if state.qbxml_version is None:
            hcp = _read_hcp(hcp_response)
            refusal = self._company_file_refusal(record.tenant, hcp)
            if refusal is not None:
                _record_error(state, error_info("QB_WRONG_COMPANY_FILE", refusal))
                for step in state.plan.steps:
                    step.status, step.error = "failed", "wrong company file"
                self._save(record, state)
                return ""
            state.stamp_file_id = hcp is not None and not hcp.data_extension(
                self.owner_id(), FILE_ID
            )
            version = self._negotiate(state, hcp, major, minor)
            if version is None:
                self._save(record, state)
                return ""
            state.qbxml_version = str(version)
            state.country = country or ""
            if hcp is not None:
                # The edition and preferences say what this company file has (sync/editions.py).
                self.engine.consider_hcp(record.tenant, state.plan, hcp)
        for key in state.pending.values():
            # The answer to the previous request never arrived, so QuickBooks may have moved the
            # iterator past a page we did not see: start this entity's query over.
            step = state.plan.step(key)
            if step.iterator_id:
                step.restart()
        state.pending, state.asked = {}, {}
        waited = self.live.waiting(state)
        held = self.live.next_request(record.tenant, state)
        if held is not None:
            if held or self.live.waiting(state) != waited:
                self._save(record, state)
            return held
        if self.writeback is not None and state.writeback:
            version = QbxmlVersion.parse(state.qbxml_version)
            writes = self.writeback.next_exchange(state.writeback, version)
            if writes:
                state.exchanges += 1
                self._save(record, state)
                return writes
        exchange = self.engine.next_exchange(state.plan, state.exchanges + 1)
        if not exchange:
            # Not "NoOp": that would make QBWC wait and ask again, forever.
            state.last_error = "This session's sync is complete; there are no further requests."
            self._save(record, state)
            return ""
        state.exchanges += 1
        requests: list[Request] = self._stamp_requests(record.tenant) if state.stamp_file_id else []
        state.stamp_file_id = False
        state.writes = [w.request_id for w in requests]
        for step, query in exchange:
            step.status = "running"
            state.pending[query.request_id] = step.key
            max_returned = getattr(query, "max_returned", None)
            if isinstance(max_returned, int):
                state.asked[query.request_id] = max_returned
            requests.append(query)
        # With several requests in one message set, one failing must not stop the others.
        on_error = "continueOnError" if len(requests) > 1 else "stopOnError"
        xml = build_message_set(requests, QbxmlVersion.parse(state.qbxml_version), on_error)
        self._save(record, state)
        return xml

    def receive_response_xml(self, ticket: str, response: str, hresult: str, message: str) -> int:
        """Hand the response's records to the queue; percent done, or -1 with getLastError set."""
        loaded = self._load(ticket)
        if loaded is None:
            return -1
        record, state = loaded
        digest = hashlib.sha256(json.dumps([response, hresult, message]).encode()).hexdigest()
        if digest == state.last_digest:
            # The same post arrived again (a retry by the Web Connector or the network): answer
            # as before without handing its records off a second time.
            return state.last_percent
        percent = self._handle_response(state, record.tenant, response, hresult, message)
        percent = self.live.hold(state.live, state.plan, percent)
        state.last_digest = digest
        state.last_percent = percent
        try:
            self._save(record, state)
        except ConcurrentUpdate:
            return -1
        if self.on_progress is not None:
            self._report_progress(self.on_progress, record.tenant, ticket, state, percent)
        return percent

    @staticmethod
    def _report_progress(
        report: Callable[[SessionProgress], None],
        tenant: str,
        ticket: str,
        state: SessionState,
        percent: int,
    ) -> None:
        steps = state.plan.steps
        current = state.plan.current()
        progress = SessionProgress(
            tenant,
            ticket,
            percent,
            current.entity if current else None,
            sum(s.received for s in steps),
            any(not s.synced_before and not s.ids for s in steps),
        )
        try:
            report(progress)
        except Exception:
            log.exception("progress display failed", extra={"tenant": tenant})

    def connection_error(self, ticket: str, hresult: str, message: str) -> str:
        """Record why QBWC could not open QuickBooks and end the session ("done")."""
        loaded = self._load(ticket)
        if loaded is not None:
            record, state = loaded
            code = classify_hresult(hresult, message).code
            _record_error(
                state,
                error_info(
                    code,
                    f"The Web Connector could not open QuickBooks ({hresult or 'no code'}): "
                    f"{message or 'no message'}.",
                ),
            )
            record.state = state.to_dict()
            self.sessions.close(record)
            self._record_run(record, state)
        return "done"

    def get_last_error(self, ticket: str) -> str:
        """The message QBWC shows after an empty request or a negative percent."""
        loaded = self._load(ticket, for_error=True)
        if loaded is None:
            return UNKNOWN_TICKET
        record, state = loaded
        if record.closed and (not state.last_error or self.live.waiting(state)):
            # Closed from outside (tenant rotate-password or remove): say so, not "no error",
            # and never "NoOp" (a held live session would wait and ask until its ticket lapsed).
            return ENDED_SESSION
        if self.live.waiting(state):
            return NOOP
        return state.last_error or "No error was recorded for this session."

    def close_connection(self, ticket: str) -> str:
        """End the session; a one-line summary for QBWC's status column."""
        loaded = self._load(ticket, for_error=True)
        if loaded is None:
            return "Session closed."
        record, state = loaded
        summary = summarize(state)
        if not record.closed:
            record.state = state.to_dict()
            self.sessions.close(record)
            self._record_run(record, state)
        log.info("session closed: %s", summary, extra={"tenant": record.tenant})
        clock = clock_warning(state.plan)
        if clock:
            log.warning("%s", clock, extra={"tenant": record.tenant})
        return summary

    # --- helpers ----------------------------------------------------------------------------

    def _record_client(self, tenant: str, client: str | None, now: float) -> None:
        """Record on the tenant the Web Connector version its address announced just before.

        Anyone can call clientVersion from an address, so the version may be planted (or, behind
        a shared NAT, belong to another PC): it is shown on the support page and in
        ``qbrelay tenant list`` and must never change what the relay does.
        """
        address = client_address(client)
        if address is None:
            return
        try:
            version = self.sessions.client_note(address, now)
            if version:
                self.tenants.record_client(tenant, shown_version(version), now)
        except StoreError as exc:
            log.warning("authenticate: could not record the Web Connector version: %s", exc)

    def _record_seen(self, tenant: str, now: float) -> None:
        """Record when the Web Connector last authenticated as the tenant (for status)."""
        try:
            self.tenants.record_seen(tenant, now)
        except StoreError as exc:
            # Display-only, like the version: the update goes on without it.
            log.warning("authenticate: could not record the last sighting: %s", exc)

    def _expiry(self, started_at: float, now: float) -> float:
        """When the session lapses: idle expiry from ``now``, never past its absolute life."""
        return min(
            now + self.settings.session_ttl_seconds,
            started_at + self.settings.session_max_seconds,
        )

    def _lease(self) -> int:
        return min(self.settings.busy_lease_seconds, self.settings.session_ttl_seconds)

    def _auth_reply(self, ticket: str, status: str) -> list[str]:
        reply = [ticket, status]
        postpone, min_run = self.settings.postpone_seconds, self.settings.min_run_every_seconds
        if postpone is not None or min_run is not None:
            reply += [str(postpone or ""), str(min_run or "")]
        return reply

    def _load(
        self, ticket: str, for_error: bool = False
    ) -> tuple[SessionRecord, SessionState] | None:
        now = self.clock()
        record = self.sessions.get(ticket, now) if ticket else None
        if record is None or (record.closed and not for_error):
            return None
        state = SessionState.from_dict(record.state)
        # The store's expiry already stops at the absolute life; this also covers sessions
        # stored before it existed (or by a release with a longer one).
        if now >= state.started_at + self.settings.session_max_seconds:
            return None
        return record, state

    def _save(self, record: SessionRecord, state: SessionState) -> None:
        record.state = state.to_dict()
        now = self.clock()
        record.expires_at = self._expiry(state.started_at, now)
        record.lock_expires_at = min(now + self._lease(), record.expires_at)
        self.sessions.save(record)

    def owner_id(self) -> str:
        """The deployment's OwnerID, read once per process."""
        if self._owner_id is None:
            self._owner_id = self.tenants.deployment_owner_id()
        return self._owner_id

    def _stamp_requests(self, tenant_name: str) -> list[Request]:
        """Write the tenant's FileID into the company file, as the .qwc names it, so later
        sessions can tell this company file from any other (the company-file guard)."""
        owner = self.owner_id()
        return [
            # QuickBooks answers 3100 when the definition exists already: that is fine.
            DataExtDefAdd(request_id="stamp-def", owner_id=owner, name=FILE_ID),
            DataExtAdd(
                request_id="stamp-set",
                owner_id=owner,
                name=FILE_ID,
                value=self.tenants.ensure_file_id(tenant_name),
            ),
        ]

    def _check_writes(self, state: SessionState, response: str) -> ResponseSet | None:
        """Note a write QuickBooks refused (the sync goes on; the guard waits for the stamp).

        The parsed response when there were writes to check (the engine then reads it as is).
        """
        written, state.writes = set(state.writes), []
        if not written:
            return None
        try:
            parsed = parse_response(response)
        except QbxmlError:
            return None  # the sync engine reports the unreadable response
        for rs in (r for r in parsed.responses if r.request_id in written):
            if rs.status_code not in (0, STATUS_NAME_IN_USE):
                state.warnings.append(
                    f"Could not record the company file's identity ({rs.request_type} "
                    f"{rs.status_code}: {rs.status_message}); the next session tries again."
                )
        return parsed

    def _company_file_refusal(self, tenant_name: str, hcp: HcpInfo | None) -> str | None:
        """Why this session must not sync, when QuickBooks opened another tenant's company file.

        QBWC stamps the .qwc's FileID into the company file as a data extension under our
        OwnerID; a different FileID there means these are not the tenant's books.
        """
        if hcp is None:
            return None
        seen = hcp.data_extension(self.owner_id(), FILE_ID)
        if not seen:
            return None
        expected = self.tenants.ensure_file_id(tenant_name)
        if seen.strip().upper() == expected.upper():
            return None
        log.warning("authenticate: company file mismatch", extra={"tenant": tenant_name})
        return (
            f"QuickBooks opened the company file {hcp.company_name or '(unnamed)'!r}, whose "
            f"FileID {seen} belongs to another .qwc; tenant {tenant_name!r} expects {expected}. "
            "Nothing was synced, so these books cannot reach the wrong CRM. Open the tenant's own "
            "company file, or set up a separate tenant with its own .qwc for this one."
        )

    def _negotiate(
        self, state: SessionState, hcp: HcpInfo | None, major: int, minor: int
    ) -> QbxmlVersion | None:
        supported = list(hcp.supported_versions) if hcp is not None else []
        if not supported and major:
            # No HCP list: the processor's highest version implies every lower one down to ours.
            top = QbxmlVersion(major, minor)
            supported = [str(top)] + [f"{m}.0" for m in range(MIN_VERSION.major, major)]
        version = negotiate(supported)
        if version is None:
            message = (
                f"QuickBooks offers qbXML {', '.join(supported) or 'no versions'}; this service "
                f"needs {MIN_VERSION} or newer (QuickBooks 2006 or later)."
            )
            _record_error(state, error_info("QB_VERSION_UNSUPPORTED", message))
        return version

    def _record_run(self, record: SessionRecord, state: SessionState) -> None:
        now = self.clock()
        run = run_record(record, state, now)
        try:
            self.runs.add(run)
            completed = run.status == "completed"
            if completed:
                self.metrics.count(SESSIONS_COMPLETED)
            # Only the relay's own attributes: a setting changed meanwhile stays.
            self.tenants.record_session(record.tenant, run.summary, now if completed else None)
        except StoreError as exc:
            # The session's effects are already durable; only its history row is missing.
            log.error("could not record the run of a session: %s", exc)
        self.events.publish([session_event(run)])

    def _handle_response(
        self, state: SessionState, tenant: str, response: str, hresult: str, message: str
    ) -> int:
        if self.writeback is not None and self.writeback.awaiting(state.writeback):
            written = self.writeback.apply(state.writeback, response, hresult, message)
            state.warnings.extend(written.warnings)
            if written.fatal:
                _record_error(state, error_info("RELAY_ERROR", written.fatal))
                return -1
            return min(99, state.plan.percent()) if written.more else state.plan.percent()
        pending, state.pending = state.pending, {}
        asked, state.asked = state.asked, {}
        # The relay's own writes in the same message set (the FileID stamp) are asked-for too.
        also_sent = tuple(state.writes)
        # isspace, not strip: no copy of a response of megabytes.
        if hresult or message or not response or response.isspace():
            technical = (
                f"QuickBooks could not process the request ({hresult or 'no code'}): "
                f"{message or 'empty response'}"
            )
            code = classify_hresult(hresult, message).code
            _record_error(state, error_info(code, technical))
            return -1
        if not pending:
            message = "The relay received a response it did not ask for."
            _record_error(state, error_info("RELAY_ERROR", message))
            return -1
        parsed = self._check_writes(state, response)
        try:
            result = self.engine.apply(
                tenant, state.plan, pending, response, also_sent, asked, parsed=parsed
            )
        except QbxmlError as exc:
            message = f"QuickBooks sent a response the relay could not read: {exc}"
            _record_error(state, error_info("RELAY_ERROR", message))
            return -1
        state.warnings.extend(result.warnings)
        if result.fatal:
            _record_error(state, error_info("RELAY_STORE_UNAVAILABLE", result.fatal))
            return -1
        if result.errors:
            last = result.errors[-1]
            info = classify_text(last) or error_info("RELAY_ERROR", last)
            _record_error(state, info, count=len(result.errors))
        return state.plan.percent()

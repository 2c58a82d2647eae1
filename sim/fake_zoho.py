"""A fake ZOHO CRM (accounts server + v8 records API) that behaves like the real one where it
matters to the relay, served over HTTP on loopback for tests and the demo.

Modelled (see ../shared/research/zoho-crm-api.md): the refresh-token grant with HTTP-200 errors,
the ten-per-ten-minutes refresh throttle and the ten-active-tokens cap; INVALID_TOKEN /
AUTHENTICATION_FAILURE / OAUTH_SCOPE_MISMATCH; upsert with the system duplicate-check fields and
the ``duplicate_check_fields`` rule (given only user-defined unique fields, the system ones are
ignored), ``action``/``duplicate_field`` in results, mandatory, max-length and unique checks,
lookups by id or through X-EXTERNAL, line items replaced on update; 201/200/207/400 statuses;
429 without Retry-After (concurrency and credits); 204 on empty reads; a daily credit counter
with ``X-API-CREDITS-REMAINING`` once half is spent; module and field metadata, with editions
that lack Invoices and Sales_Orders; custom fields created through the Fields API (see
``fake_fields.py``) under the settings scopes, then accepted on records; COQL (``POST
/crm/v8/coql``, see ``fake_coql.py``) with its limits, credits by LIMIT and the
ZohoCRM.coql.READ scope. Faults can be injected per path, a
given number of times (``inject``) or at a seeded random rate (``fail_randomly``); and the
organisation can refuse the next records written to a module (``refuse_next``), as a field an
administrator made mandatory or a validation rule does: a per-record error in ``data[]``.
Every write sets ``Modified_Time`` and ``Modified_By`` (the API client's user, ``add_client``);
``edit`` is a person's change in the CRM's pages. Deals and their Products related list are in
``fake_zoho_deals.py``.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from waitress.server import create_server

from . import fake_coql, fake_fields, fake_zoho_deals
from .fake_fields import FakeField

TOKEN_LIFETIME = 3600
REFRESH_WINDOW = 600.0
REFRESHES_PER_WINDOW = 10
ACTIVE_TOKENS = 10
MAX_RECORDS = 100
# ZOHO's documented 429 text names both of its causes.
TOO_MANY = (
    "Number of API requests for the 24 hour period is exceeded or the concurrency limit of the "
    "user for the app is exceeded"
)
THROTTLED = {
    "error_description": "You have made too many requests continuously. Please try again after "
    "some time.",
    "error": "Access Denied",
    "status": "failure",
}


@dataclass(slots=True)
class FakeModule:
    """A module: its fields, system duplicate-check field and line-item subform, if any."""

    api_name: str
    fields: dict[str, FakeField]
    system_check: str | None = None
    line_items: str | None = None

    def unique_fields(self) -> list[str]:
        return [f.api_name for f in self.fields.values() if f.unique]


LINE_ITEM_FIELDS = {
    "Product_Name": FakeField("Product_Name", "lookup", mandatory=True, lookup="Products"),
    "Quantity": FakeField("Quantity", "double", mandatory=True),
    "List_Price": FakeField("List_Price", "currency"),
    "Description": FakeField("Description", "textarea", 2000),
    "Discount": FakeField("Discount", "currency"),
}


def _address(prefix: str, code: str) -> list[FakeField]:
    return [
        FakeField(f"{prefix}_Street", "textarea", 250),
        FakeField(f"{prefix}_City", "text", 30),
        FakeField(f"{prefix}_State", "text", 30),
        FakeField(f"{prefix}_{code}", "text", 30),
        FakeField(f"{prefix}_Country", "text", 30),
    ]


def standard_modules(with_qb_fields: bool = True, inventory: bool = True) -> list[FakeModule]:
    """An organisation's modules: Enterprise-like by default.

    ``with_qb_fields=False`` is a fresh organisation without the relay's custom fields;
    ``inventory=False`` an edition without Sales_Orders and Invoices.
    """

    def qb(id_field: str, active: bool = True) -> list[FakeField]:
        if not with_qb_fields:
            return []
        out = [FakeField(id_field, "text", 255, unique=True, custom=True, external="org")]
        return out + ([FakeField("QB_Active", "boolean", custom=True)] if active else [])

    def module(name: str, check: str | None, fields: Iterable[FakeField], lines: str | None = None):
        return FakeModule(name, {f.api_name: f for f in fields}, check, lines)

    deal_like = [
        FakeField("Subject", "text", 255, mandatory=True),
        FakeField("Account_Name", "lookup", lookup="Accounts"),
        FakeField("Description", "textarea", 32000),
        FakeField("Due_Date", "date"),
        *_address("Billing", "Code"),
        *_address("Shipping", "Code"),
    ]
    mods = [
        module(
            "Accounts",
            "Account_Name",
            [
                FakeField("Account_Name", "text", 200, mandatory=True),
                FakeField("Account_Number", "text", 40),
                FakeField("Phone", "phone", 30),
                FakeField("Fax", "phone", 30),
                FakeField("Website", "website", 255),
                FakeField("Description", "textarea", 32000),
                FakeField("Parent_Account", "lookup", lookup="Accounts"),
                *_address("Billing", "Code"),
                *_address("Shipping", "Code"),
                *qb("QB_ListID"),
                *(fake_zoho_deals.sync_fields() if with_qb_fields else ()),
            ],
        ),
        module(
            "Contacts",
            "Email",
            [
                FakeField("Last_Name", "text", 80, mandatory=True),
                FakeField("First_Name", "text", 40),
                FakeField("Salutation", "picklist"),
                FakeField("Email", "email", 100),
                FakeField("Phone", "phone", 30),
                FakeField("Mobile", "phone", 30),
                FakeField("Fax", "phone", 30),
                FakeField("Title", "text", 100),
                FakeField("Account_Name", "lookup", lookup="Accounts"),
                FakeField("Description", "textarea", 32000),
                *_address("Mailing", "Zip"),
                *qb("QB_ListID"),
            ],
        ),
        module(
            "Products",
            "Product_Name",
            [
                FakeField("Product_Name", "text", 120, mandatory=True),
                FakeField("Product_Code", "text", 40),
                FakeField("Unit_Price", "currency"),
                FakeField("Description", "textarea", 32000),
                FakeField("Product_Active", "boolean"),
                FakeField("Qty_in_Stock", "double"),
                *qb("QB_ListID", active=False),
            ],
        ),
        module("Deals", "Deal_Name", fake_zoho_deals.deal_fields(with_qb_fields)),
        module(
            "Quotes",
            "Subject",
            [*deal_like, FakeField("Valid_Till", "date"), *qb("QB_TxnID")],
            "Quoted_Items",
        ),
    ]
    if inventory:
        mods.append(
            module("Sales_Orders", "Subject", [*deal_like, *qb("QB_TxnID")], "Ordered_Items")
        )
        status = FakeField("Status", "picklist", picklist=("Created", "Paid", "Overdue", "Pending"))
        mods.append(
            module(
                "Invoices",
                "Subject",
                [*deal_like, FakeField("Invoice_Date", "date"), status, *qb("QB_TxnID")],
                "Invoiced_Items",
            )
        )
    for m in mods:
        if m.line_items:
            m.fields[m.line_items] = FakeField(m.line_items, "subform", mandatory=True)
        if m.api_name in ("Sales_Orders", "Invoices"):
            m.fields["Account_Name"] = FakeField(
                "Account_Name", "lookup", mandatory=True, lookup="Accounts"
            )
    return mods


# The organisation's administrator: who edits records in the CRM's pages (``add_records``,
# ``edit``); each API client acts as its own user (``add_client``).
ADMIN = {"id": "5725767000000100001", "name": "Org Admin"}


@dataclass(slots=True)
class _Client:
    secret: str
    refresh_tokens: dict[str, tuple[str, ...]]  # refresh token -> scopes
    user: dict[str, str]  # the ZOHO user the client's tokens act as: {"id", "name"}


@dataclass(slots=True)
class _Token:
    value: str
    refresh_token: str
    scopes: tuple[str, ...]
    expires_at: float
    user: dict[str, str]


@dataclass(slots=True)
class Fault:
    """An injected failure for the next ``times`` requests whose path starts with ``path``."""

    kind: str  # 429 | 500 | 503 | timeout | invalid_token | token_500 | token_throttle
    times: int
    path: str


RANDOM_KINDS = ("429", "500", "503", "timeout")
# The per-record refusals ``refuse_next`` gives, with ZOHO's message for each.
REFUSALS = {"MANDATORY_NOT_FOUND": "required field not found", "INVALID_DATA": "invalid data"}


@dataclass(slots=True)
class Refusal:
    """The next ``times`` records written to ``module`` are refused with ``code`` on
    ``api_name`` (None: a field the record lacks for MANDATORY_NOT_FOUND, one it carries for
    INVALID_DATA)."""

    module: str
    times: int
    code: str
    api_name: str | None = None


@dataclass(slots=True)
class RandomFaults:
    """A seeded failure rate (``FakeZoho.fail_randomly``) and what it has done so far."""

    rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    kinds: tuple[str, ...] = RANDOM_KINDS
    path: str = "/crm/"
    coql: bool = True
    seen: int = 0  # requests drawn for
    failed: Counter[str] = field(default_factory=Counter)  # failures given, by kind

    def draw(self, path: str) -> str | None:
        """The failure for one request under ``path``, or None (call under the fake's lock)."""
        if self.rate <= 0.0 or not path.startswith(self.path):
            return None
        if not self.coql and path.rstrip("/").endswith("/coql"):
            return None
        self.seen += 1
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        self.failed[kind] += 1
        return kind


@dataclass(slots=True)
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeZoho:
    """The fake's state and behaviour; a WSGI app (serve it with ``FakeZohoServer``)."""

    def __init__(
        self,
        modules: list[FakeModule] | None = None,
        daily_credits: int = 50_000,
        concurrency: int = 10,
        clock: Callable[[], float] = time.time,
        timeout_delay: float = 1.0,
    ) -> None:
        self.random_faults = RandomFaults()
        self.modules = {m.api_name: m for m in (modules or standard_modules())}
        self.daily_credits = daily_credits
        self.credits_used = 0
        self.concurrency = concurrency
        self.clock = clock
        self.timeout_delay = timeout_delay
        self.base_url = "http://127.0.0.1"
        self.records: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in self.modules}
        # Related lists: "Module/id/List" -> related record ids (fake_zoho_deals).
        self.related: dict[str, list[str]] = {}
        self.calls = 0  # API calls answered (not token calls)
        self.token_calls = 0
        self.requests: list[dict[str, Any]] = []  # write requests: module, trigger, check fields
        self.queries: list[str] = []  # COQL queries answered with rows or 204
        # Create Custom Fields calls that reached the API: module and the labels asked for.
        self.field_requests: list[tuple[str, list[str]]] = []
        self._clients: dict[str, _Client] = {}
        self._tokens: dict[str, _Token] = {}
        self._active: dict[str, deque[str]] = {}
        self._refreshes: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._faults: list[Fault] = []
        self._refusals: list[Refusal] = []
        self.refused = 0  # records refused by ``refuse_next`` so far
        self._in_flight = 0
        self.busy = 0  # requests being answered (the server waits for them when stopping)
        self._next_id = 5725767000000400000
        self._lock = threading.RLock()

    # --- set-up and inspection (tests) -------------------------------------------------------

    def add_client(
        self,
        client_id: str,
        secret: str,
        refresh_token: str,
        scopes: Iterable[str] = (),
        user: str = "",
    ) -> dict[str, str]:
        """Register a Self Client and one refresh token (default scope ZohoCRM.modules.ALL...).

        The client's calls act as a user of its own (named ``user``, else after the client):
        the ``Modified_By`` of every record it writes. Returns that user, ``{"id", "name"}``.
        """
        granted = tuple(scopes) or (
            "ZohoCRM.modules.ALL",
            "ZohoCRM.settings.ALL",
            "ZohoCRM.coql.READ",
        )
        with self._lock:
            client = self._clients.get(client_id)
            if client is None:
                uid = str(5725767000000100001 + 1 + len(self._clients))
                name = user or f"API user {client_id}"
                client = self._clients[client_id] = _Client(secret, {}, {"id": uid, "name": name})
            client.refresh_tokens[refresh_token] = granted
            return dict(client.user)

    def inject(self, kind: str, times: int = 1, path: str = "/crm/") -> None:
        """Make the next ``times`` requests under ``path`` fail with ``kind``."""
        with self._lock:
            self._faults.append(Fault(kind, times, path))

    def fail_randomly(
        self,
        rate: float,
        seed: int = 0,
        kinds: Sequence[str] = RANDOM_KINDS,
        path: str = "/crm/",
        coql: bool = True,
    ) -> RandomFaults:
        """From now on fail each request under ``path`` with probability ``rate``, the kind
        drawn from ``kinds``; the draws come from ``random.Random(seed)``, so a run repeats.
        ``coql=False`` spares COQL queries. ``clear_faults`` ends it; the returned counters
        (also ``self.random_faults``) say how many requests were drawn for and failed."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fail rate {rate} is not a probability")
        with self._lock:
            self.random_faults = RandomFaults(rate, random.Random(seed), tuple(kinds), path, coql)
            return self.random_faults

    def clear_faults(self) -> None:
        """End every injected failure now (an outage is over), random ones included."""
        with self._lock:
            self._faults.clear()
            self.random_faults.rate = 0.0

    def refuse_next(
        self,
        module: str,
        times: int,
        code: str = "MANDATORY_NOT_FOUND",
        api_name: str | None = None,
    ) -> None:
        """Refuse the next ``times`` records inserted or upserted into ``module`` with the
        per-record error ``code`` (MANDATORY_NOT_FOUND or INVALID_DATA) on field ``api_name``,
        as an organisation whose administrator made a field mandatory, or added a validation
        rule, does; the other records of the same request are written."""
        if code not in REFUSALS:
            raise ValueError(f"refusal code {code!r} is not one of {sorted(REFUSALS)}")
        if module not in self.modules:
            raise ValueError(f"module {module!r} is not in this organisation")
        if times < 0:
            raise ValueError("times must be 0 or more")
        with self._lock:
            self._refusals.append(Refusal(module, times, code, api_name))

    def _take_refusal(self, module: FakeModule, i: int, record: dict[str, Any]) -> dict[str, Any]:
        """The refusal due for this record, or {} (call under the lock)."""
        refusal = next(
            (r for r in self._refusals if r.module == module.api_name and r.times > 0), None
        )
        if refusal is None:
            return {}
        refusal.times -= 1
        self._refusals = [r for r in self._refusals if r.times > 0]
        self.refused += 1
        name = refusal.api_name
        if name is None:
            present = refusal.code == "INVALID_DATA"
            scalar = [
                f.api_name
                for f in module.fields.values()
                if f.data_type not in ("subform", "lookup") and not f.custom
            ]
            chosen = [n for n in scalar if (record.get(n) not in (None, "")) == present]
            name = (chosen or scalar)[0]
        return self._record_error(
            refusal.code, REFUSALS[refusal.code], api_name=name, json_path=f"$.data[{i}].{name}"
        )

    def faults_left(self) -> int:
        """Injected failures not yet delivered."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def expire_tokens(self) -> None:
        """Let every access token run out (as after an hour)."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def add_records(self, module: str, records: Iterable[dict[str, Any]]) -> list[str]:
        """Store ``records`` in ``module`` as they are (no validation), giving each a new id.

        For tests that need thousands of records without thousands of API calls.
        """
        now = self._now()
        ids = []
        with self._lock:
            store = self.records[module]
            for record in records:
                rid = str(self._new_id())
                store[rid] = {
                    "Created_By": dict(ADMIN),
                    "Modified_By": dict(ADMIN),
                    **record,
                    "id": rid,
                    "Created_Time": now,
                    "Modified_Time": now,
                }
                ids.append(rid)
        return ids

    def edit(self, module: str, record_id: str, changes: dict[str, Any]) -> str:
        """Change a record as a person does in the CRM's pages (no validation): the fields,
        Modified_Time and Modified_By (the administrator). Returns the new Modified_Time."""
        with self._lock:
            record = self.records[module][record_id]
            record.update(changes)
            self._touch(record, ADMIN)
            return str(record["Modified_Time"])

    def relate(self, module: str, record_id: str, list_name: str, ids: Iterable[str]) -> None:
        """Relate existing records to one, as the CRM's related list does (a deal's Products)."""
        with self._lock:
            fake_zoho_deals.relate(
                self.records, self.related, module, record_id, list_name, list(ids)
            )

    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(self.clock()))

    def _touch(self, record: dict[str, Any], user: dict[str, str]) -> None:
        record["Modified_Time"] = self._now()
        record["Modified_By"] = dict(user)

    def _user_of(self, headers: dict[str, str]) -> dict[str, str]:
        """The user a request acts as (its token's; call under the lock, after _authorize)."""
        token = self._tokens.get(headers.get("authorization", "").removeprefix("Zoho-oauthtoken "))
        return token.user if token is not None else ADMIN

    def all(self, module: str) -> list[dict[str, Any]]:
        """Copies of every record of ``module``."""
        with self._lock:
            return [json.loads(json.dumps(r)) for r in self.records[module].values()]

    def by_field(self, module: str, name: str, value: Any) -> list[dict[str, Any]]:
        """The records of ``module`` whose field ``name`` equals ``value``."""
        return [r for r in self.all(module) if r.get(name) == value]

    def duplicates(self, module: str, name: str) -> int:
        """How many records of ``module`` share a non-empty ``name`` value with an earlier one."""
        values = [r.get(name) for r in self.all(module) if r.get(name) not in (None, "")]
        return len(values) - len(set(values))

    def save(self, path: Path) -> None:
        """Keep the records (not clients or tokens) in a JSON file, for the next run."""
        with self._lock:
            data = {"next_id": self._next_id, "records": self.records, "related": self.related}
            path.write_text(json.dumps(data), encoding="utf-8")

    def load(self, path: Path) -> None:
        """Take the records saved by ``save`` (nothing happens if the file is absent)."""
        if not path.exists():
            return
        data = json.loads(path.read_text(encoding="utf-8"))
        with self._lock:
            self._next_id = int(data["next_id"])
            self.related = dict(data.get("related") or {})
            for module, records in data["records"].items():
                if module in self.records:
                    self.records[module] = records

    # --- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            self.busy += 1
        try:
            return self._handle(environ, start_response)
        finally:
            with self._lock:
                self.busy -= 1

    def _handle(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        fault = self._take_fault(path)
        if fault == "timeout":
            # The work is done, but the answer comes too late for the client: what a real
            # timeout looks like from outside.
            time.sleep(self.timeout_delay)
        if path == "/oauth/v2/token" and method == "POST":
            if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
                form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                query = {**query, **form}
            reply = self._token(query, fault)
        elif path.startswith("/crm/v8/"):
            reply = self._api(method, path[len("/crm/v8/") :], query, raw, headers, fault)
        else:
            reply = _Reply(
                404,
                {
                    "code": "INVALID_URL_PATTERN",
                    "message": "Please check if the URL trying to access is a correct one",
                    "status": "error",
                    "details": {},
                },
            )
        status_text = {200: "OK", 201: "Created", 204: "No Content", 207: "Multi-Status"}
        start_response(
            f"{reply.status} {status_text.get(reply.status, 'Error')}",
            [("Content-Type", "application/json;charset=UTF-8"), *reply.headers.items()],
        )
        if reply.status == 204 or reply.body is None:
            return [b""]
        return [json.dumps(reply.body).encode()]

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for f in self._faults:
                if path.startswith(f.path) and f.times > 0:
                    f.times -= 1
                    kind = f.kind
                    self._faults = [x for x in self._faults if x.times > 0]
                    return kind
            return self.random_faults.draw(path)

    # --- accounts server ---------------------------------------------------------------------

    def _token(self, form: dict[str, str], fault: str | None) -> _Reply:
        with self._lock:
            self.token_calls += 1
            if fault == "token_500":
                return _Reply(500, {"error": "internal error"})
            if form.get("grant_type") != "refresh_token":
                return _Reply(200, {"error": "unsupported_grant_type"})
            client = self._clients.get(form.get("client_id", ""))
            if client is None:
                return _Reply(200, {"error": "invalid_client"})
            if form.get("client_secret") != client.secret:
                return _Reply(200, {"error": "invalid_client_secret"})
            refresh = form.get("refresh_token", "")
            if refresh not in client.refresh_tokens:
                return _Reply(200, {"error": "invalid_code"})
            now = self.clock()
            if fault == "token_throttle" or self._blocked_until.get(refresh, 0) > now:
                return _Reply(400, THROTTLED)
            recent = self._refreshes.setdefault(refresh, deque())
            while recent and recent[0] <= now - REFRESH_WINDOW:
                recent.popleft()
            if len(recent) >= REFRESHES_PER_WINDOW:
                # Blocked for the rest of the window; every further ask is refused too.
                self._blocked_until[refresh] = recent[0] + REFRESH_WINDOW
                return _Reply(400, THROTTLED)
            recent.append(now)
            value = "1000." + secrets.token_hex(16)
            scopes = client.refresh_tokens[refresh]
            self._tokens[value] = _Token(
                value, refresh, scopes, now + TOKEN_LIFETIME, dict(client.user)
            )
            active = self._active.setdefault(refresh, deque())
            active.append(value)
            while len(active) > ACTIVE_TOKENS:
                self._tokens.pop(active.popleft(), None)
            return _Reply(
                200,
                {
                    "access_token": value,
                    "scope": " ".join(scopes),
                    "api_domain": self.base_url,
                    "token_type": "Bearer",
                    "expires_in": TOKEN_LIFETIME,
                },
            )

    # --- records API -------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, code: str, message: str, **details: Any) -> _Reply:
        return _Reply(
            status, {"code": code, "details": details, "message": message, "status": "error"}
        )

    def _authorize(self, headers: dict[str, str], scope_needed: str) -> _Reply | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Zoho-oauthtoken "):
            return self._error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        token = self._tokens.get(auth.removeprefix("Zoho-oauthtoken "))
        if token is None or token.expires_at <= self.clock():
            return self._error(401, "INVALID_TOKEN", "invalid oauth token")
        family = scope_needed.split(".")[1]  # modules | settings
        # A scope's .ALL covers its operations (ZohoCRM.settings.fields.ALL covers .READ and
        # .CREATE), and the family's .ALL covers every scope in it.
        allowed = {
            "ZohoCRM.ALL",
            f"ZohoCRM.{family}.ALL",
            scope_needed,
            scope_needed.rsplit(".", 1)[0] + ".ALL",
        }
        if not allowed & set(token.scopes):
            return self._error(
                401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL"
            )
        return None

    def _api(
        self,
        method: str,
        rest: str,
        query: dict[str, str],
        raw: bytes,
        headers: dict[str, str],
        fault: str | None,
    ) -> _Reply:
        parts = rest.strip("/").split("/")
        settings = parts[0] == "settings"
        coql = parts == ["coql"]
        if coql:
            # The module's own read scope is checked once the query names the module.
            scope = "ZohoCRM.coql.READ"
        elif settings:
            operation = "CREATE" if method == "POST" else "READ"
            scope = f"ZohoCRM.settings.{parts[1] if len(parts) > 1 else 'modules'}.{operation}"
        else:
            scope = f"ZohoCRM.modules.{parts[0].lower().replace('_', '')}.ALL"
        with self._lock:
            denied = self._authorize(headers, scope)
            if denied is not None:
                return denied
            if fault == "invalid_token":
                auth = headers.get("authorization", "").removeprefix("Zoho-oauthtoken ")
                self._tokens.pop(auth, None)
                return self._error(401, "INVALID_TOKEN", "invalid oauth token")
            if fault in ("429",):
                return self._error(429, "TOO_MANY_REQUESTS", TOO_MANY)
            if fault in ("500", "503"):
                return self._error(int(fault), "INTERNAL_ERROR", "Internal server error occurred.")
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return self._error(400, "INVALID_DATA", "body")
            records = body.get("data") if isinstance(body, dict) else None
            count = len(records) if isinstance(records, list) else 0
            # COQL is one of ZOHO's resource-intensive APIs, under the sub-concurrency of ten.
            heavy = count > 10 or coql
            if self._in_flight >= self.concurrency or (heavy and self._in_flight >= 10):
                return self._error(429, "TOO_MANY_REQUESTS", TOO_MANY)
            if coql:
                cost = fake_coql.cost(body.get("select_query") if isinstance(body, dict) else None)
            else:
                cost = max(1, math.ceil(count / 10)) if method in ("POST", "PUT") else 1
            if self.credits_used + cost > self.daily_credits:
                return self._error(429, "TOO_MANY_REQUESTS", TOO_MANY)
            self.credits_used += cost
            self.calls += 1
            self._in_flight += 1
        try:
            with self._lock:
                reply = self._route(method, parts, query, body, headers)
        finally:
            with self._lock:
                self._in_flight -= 1
        if self.credits_used * 2 >= self.daily_credits:
            reply.headers["X-API-CREDITS-REMAINING"] = str(self.daily_credits - self.credits_used)
        return reply

    def _route(
        self,
        method: str,
        parts: list[str],
        query: dict[str, str],
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> _Reply:
        if parts[0] == "settings":
            if parts[1:] == ["fields"] and method == "POST":
                asked = body.get("fields") if isinstance(body, dict) else None
                labels = [str(f.get("field_label")) for f in asked or [] if isinstance(f, dict)]
                self.field_requests.append((query.get("module", ""), labels))
                status, answer = fake_fields.create(self.modules, query, body, self._new_id)
                return _Reply(status, answer)
            if method != "GET":
                return self._error(
                    400,
                    "INVALID_REQUEST_METHOD",
                    "The http request method type is not a valid one",
                )
            return self._settings(parts[1:], query)
        if parts == ["coql"]:
            return self._coql(method, body, headers)
        module = self.modules.get(parts[0])
        if module is None:
            return self._error(400, "INVALID_MODULE", "the module name given seems to be invalid")
        if len(parts) == 2 and parts[1] == "upsert" and method == "POST":
            return self._write(module, body, headers, upsert=True)
        if len(parts) == 1 and method == "POST":
            return self._write(module, body, headers, upsert=False)
        if len(parts) == 1 and method == "PUT":
            return self._update(module, body, headers)
        if len(parts) == 1 and method == "DELETE":
            return self._delete(module, query)
        if len(parts) == 1 and method == "GET":
            return self._get(module, query)
        if len(parts) == 3 and method == "GET":
            status, answer = fake_zoho_deals.related_records(
                self.records, self.related, module.api_name, parts[1], parts[2], query
            )
            return _Reply(status, answer)
        return self._error(
            404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
        )

    def _settings(self, parts: list[str], query: dict[str, str]) -> _Reply:
        if parts == ["modules"]:
            return _Reply(
                200,
                {
                    "modules": [
                        {"api_name": m, "module_name": m.replace("_", " "), "api_supported": True}
                        for m in self.modules
                    ]
                },
            )
        if parts == ["fields"]:
            module = self.modules.get(query.get("module", ""))
            if module is None:
                return self._error(
                    400, "INVALID_MODULE", "the module name given seems to be invalid"
                )
            out = [fake_fields.metadata(module.api_name, f) for f in module.fields.values()]
            return _Reply(200, {"fields": out})
        return self._error(
            404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
        )

    # --- COQL --------------------------------------------------------------------------------

    def _coql(self, method: str, body: Any, headers: dict[str, str]) -> _Reply:
        if method != "POST":
            return self._error(
                400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
            )
        text = body.get("select_query") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return self._error(
                400, "MANDATORY_NOT_FOUND", "required field not found", api_name="select_query"
            )
        try:
            q = fake_coql.parse(text)
            module = self.modules.get(q.module)
            if module is None:
                raise fake_coql.CoqlError("INVALID_QUERY", "invalid module given", module=q.module)
            denied = self._module_read_denied(headers, module.api_name)
            if denied is not None:
                return denied
            types = {f.api_name: f.data_type for f in module.fields.values()}
            rows, more = fake_coql.execute(q, types, self.records[module.api_name].values())
        except fake_coql.CoqlError as err:
            return self._error(400, err.code, err.message, **err.details)
        self.queries.append(text)
        if not rows:
            return _Reply(204)
        return _Reply(200, {"data": rows, "info": {"count": len(rows), "more_records": more}})

    def _module_read_denied(self, headers: dict[str, str], module: str) -> _Reply | None:
        # COQL needs a read scope on the module queried besides ZohoCRM.coql.READ.
        token = self._tokens.get(headers.get("authorization", "").removeprefix("Zoho-oauthtoken "))
        name = module.lower().replace("_", "")
        allowed = {
            "ZohoCRM.ALL",
            "ZohoCRM.modules.ALL",
            "ZohoCRM.modules.READ",
            f"ZohoCRM.modules.{name}.ALL",
            f"ZohoCRM.modules.{name}.READ",
        }
        if token is None or not allowed & set(token.scopes):
            return self._error(
                401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL"
            )
        return None

    # --- writes ------------------------------------------------------------------------------

    def _statused(self, results: list[dict[str, Any]], all_inserts: bool) -> _Reply:
        ok = [r["status"] == "success" for r in results]
        if all(ok):
            return _Reply(201 if all_inserts else 200, {"data": results})
        if any(ok):
            return _Reply(207, {"data": results})
        return _Reply(400, {"data": results})

    def _write(
        self, module: FakeModule, body: dict[str, Any], headers: dict[str, str], upsert: bool
    ) -> _Reply:
        records = body.get("data")
        if not isinstance(records, list) or not records:
            return self._error(400, "INVALID_DATA", "body", json_path="$.data")
        if len(records) > MAX_RECORDS:
            return self._error(400, "LIMIT_EXCEEDED", "Record count exceeded", limit=MAX_RECORDS)
        self.requests.append(
            {
                "module": module.api_name,
                "records": len(records),
                "trigger": body.get("trigger"),
                "duplicate_check_fields": body.get("duplicate_check_fields"),
                "x_external": headers.get("x-external"),
            }
        )
        external = [p.strip() for p in headers.get("x-external", "").split(",") if p.strip()]
        check = body.get("duplicate_check_fields")
        if not check:
            check = [module.system_check] if module.system_check else []
            check += module.unique_fields()
        results = []
        user = self._user_of(headers)
        for i, record in enumerate(records):
            results.append(self._upsert_one(module, i, record, external, check, upsert, user))
        inserts = all(r.get("action", "insert") == "insert" for r in results)
        return self._statused(results, inserts)

    def _record_error(self, code: str, message: str, **details: Any) -> dict[str, Any]:
        return {"code": code, "details": details, "message": message, "status": "error"}

    def _resolve_lookup(
        self, owner: str, path: str, value: Any, target: str, external: list[str], where: str
    ) -> tuple[str | None, dict[str, Any] | None]:
        if not isinstance(value, dict):
            return None, self._record_error("INVALID_DATA", "invalid data", api_name=where)
        if "id" in value and not any(h.startswith(f"{owner}.{path}.") for h in external):
            if str(value["id"]) in self.records.get(target, {}):
                return str(value["id"]), None
            return None, self._record_error(
                "INVALID_DATA", "the id given seems to be invalid.", api_name=where
            )
        for header in external:
            prefix = f"{owner}.{path}."
            if header.startswith(prefix):
                ext_field = header[len(prefix) :]
                wanted = value.get(ext_field)
                for rid, rec in self.records.get(target, {}).items():
                    if wanted is not None and rec.get(ext_field) == wanted:
                        return rid, None
                return None, self._record_error(
                    "INVALID_DATA",
                    "The external ID of the lookup field or the Price Book is incorrect",
                    api_name=where,
                )
        return None, self._record_error("INVALID_DATA", "invalid data", api_name=where)

    def _validate(
        self, module: FakeModule, i: int, record: dict[str, Any], external: list[str]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The record as stored (lookups resolved, unknown keys ignored), or an error."""
        clean: dict[str, Any] = {}
        for key, value in record.items():
            f = module.fields.get(key)
            if f is None or value is None:
                continue
            where = key
            if f.data_type == "lookup" and f.lookup:
                rid, err = self._resolve_lookup(
                    module.api_name, key, value, f.lookup, external, where
                )
                if err:
                    err["details"]["json_path"] = f"$.data[{i}].{key}"
                    return {}, err
                clean[key] = {"id": rid}
            elif f.data_type == "subform":
                if not isinstance(value, list):
                    return {}, self._record_error("INVALID_DATA", "invalid data", api_name=key)
                rows = []
                for n, row in enumerate(value):
                    out_row: dict[str, Any] = {"id": str(self._new_id())}
                    for rkey, rval in row.items():
                        rf = LINE_ITEM_FIELDS.get(rkey)
                        if rf is None or rval is None:
                            continue
                        if rf.lookup:
                            rid, err = self._resolve_lookup(
                                module.api_name, f"{key}.{rkey}", rval, rf.lookup, external, rkey
                            )
                            if err:
                                err["details"]["json_path"] = f"$.data[{i}].{key}[{n}].{rkey}"
                                return {}, err
                            out_row[rkey] = {"id": rid}
                        else:
                            out_row[rkey] = rval
                    missing = [
                        m for m, rf in LINE_ITEM_FIELDS.items() if rf.mandatory and m not in out_row
                    ]
                    if missing:
                        return {}, self._record_error(
                            "MANDATORY_NOT_FOUND",
                            "required field not found",
                            api_name=missing[0],
                            json_path=f"$.data[{i}].{key}[{n}].{missing[0]}",
                        )
                    rows.append(out_row)
                clean[key] = rows
            else:
                if f.data_type in ("text", "textarea", "phone", "email", "website") and (
                    not isinstance(value, str) or len(value) > f.length
                ):
                    return {}, self._record_error(
                        "INVALID_DATA",
                        "invalid data",
                        api_name=key,
                        json_path=f"$.data[{i}].{key}",
                        maximum_length=f.length,
                    )
                if f.data_type in ("currency", "double") and not isinstance(value, int | float):
                    return {}, self._record_error(
                        "INVALID_DATA",
                        "invalid data",
                        api_name=key,
                        json_path=f"$.data[{i}].{key}",
                        expected_data_type=f.data_type,
                    )
                if f.data_type == "boolean" and not isinstance(value, bool):
                    return {}, self._record_error(
                        "INVALID_DATA",
                        "invalid data",
                        api_name=key,
                        json_path=f"$.data[{i}].{key}",
                        expected_data_type="boolean",
                    )
                clean[key] = value
        return clean, None

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _upsert_one(
        self,
        module: FakeModule,
        i: int,
        record: Any,
        external: list[str],
        check: list[str],
        upsert: bool,
        user: dict[str, str],
    ) -> dict[str, Any]:
        if not isinstance(record, dict):
            return self._record_error("INVALID_DATA", "invalid data", json_path=f"$.data[{i}]")
        clean, err = self._validate(module, i, record, external)
        if err:
            return err
        refused = self._take_refusal(module, i, record)
        if refused:
            return refused
        store = self.records[module.api_name]
        match_id, matched_on = None, None
        if upsert:
            for name in check:
                value = clean.get(name)
                if value in (None, ""):
                    continue
                for rid, existing in store.items():
                    if existing.get(name) == value:
                        match_id, matched_on = rid, name
                        break
                if match_id:
                    break
        for name in module.unique_fields():
            value = clean.get(name)
            if value in (None, ""):
                continue
            for rid, existing in store.items():
                if rid != match_id and existing.get(name) == value:
                    return self._record_error(
                        "DUPLICATE_DATA",
                        "duplicate data",
                        api_name=name,
                        json_path=f"$.data[{i}].{name}",
                        duplicate_record={"id": rid},
                    )
        now = self._now()
        if match_id is not None:
            store[match_id].update(clean)  # subforms given are replaced whole
            self._touch(store[match_id], user)
            return {
                "code": "SUCCESS",
                "duplicate_field": matched_on,
                "action": "update",
                "details": {
                    "id": match_id,
                    "Modified_Time": now,
                    "Created_Time": store[match_id]["Created_Time"],
                },
                "message": "record updated",
                "status": "success",
            }
        missing = [
            f.api_name
            for f in module.fields.values()
            if f.mandatory and clean.get(f.api_name) in (None, "", [])
        ]
        if missing:
            return self._record_error(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                api_name=missing[0],
                json_path=f"$.data[{i}].{missing[0]}",
            )
        rid = str(self._new_id())
        store[rid] = {
            **clean,
            "id": rid,
            "Created_Time": now,
            "Modified_Time": now,
            "Created_By": dict(user),
            "Modified_By": dict(user),
        }
        return {
            "code": "SUCCESS",
            "duplicate_field": None,
            "action": "insert",
            "details": {"id": rid, "Created_Time": now, "Modified_Time": now},
            "message": "record added",
            "status": "success",
        }

    def _update(self, module: FakeModule, body: dict[str, Any], headers: dict[str, str]) -> _Reply:
        records = body.get("data")
        if not isinstance(records, list) or not records:
            return self._error(400, "INVALID_DATA", "body", json_path="$.data")
        if len(records) > MAX_RECORDS:
            return self._error(400, "LIMIT_EXCEEDED", "Record count exceeded", limit=MAX_RECORDS)
        self.requests.append(
            {
                "module": module.api_name,
                "records": len(records),
                "trigger": body.get("trigger"),
                "duplicate_check_fields": None,
                "x_external": None,
            }
        )
        results = []
        store = self.records[module.api_name]
        for i, record in enumerate(records):
            rid = str(record.get("id", "")) if isinstance(record, dict) else ""
            if rid not in store:
                results.append(
                    self._record_error(
                        "INVALID_DATA",
                        "the id given seems to be invalid.",
                        api_name="id",
                        json_path=f"$.data[{i}].id",
                    )
                )
                continue
            clean, err = self._validate(
                module, i, {k: v for k, v in record.items() if k != "id"}, []
            )
            if err:
                results.append(err)
                continue
            # A unique field (the relay's external id) may not take a value another record has.
            taken = next(
                (
                    (name, other)
                    for name in module.unique_fields()
                    if clean.get(name) not in (None, "")
                    for other, existing in store.items()
                    if other != rid and existing.get(name) == clean[name]
                ),
                None,
            )
            if taken is not None:
                results.append(
                    self._record_error(
                        "DUPLICATE_DATA",
                        "duplicate data",
                        api_name=taken[0],
                        json_path=f"$.data[{i}].{taken[0]}",
                        duplicate_record={"id": taken[1]},
                    )
                )
                continue
            store[rid].update(clean)
            self._touch(store[rid], self._user_of(headers))
            results.append(
                {
                    "code": "SUCCESS",
                    "details": {"id": rid},
                    "message": "record updated",
                    "status": "success",
                }
            )
        return self._statused(results, all_inserts=False)

    def _delete(self, module: FakeModule, query: dict[str, str]) -> _Reply:
        ids = [i for i in query.get("ids", "").split(",") if i]
        if not ids:
            return self._error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                param_name="ids",
            )
        results = []
        for rid in ids:
            if self.records[module.api_name].pop(rid, None) is None:
                results.append(
                    self._record_error("INVALID_DATA", "the id given seems to be invalid.", id=rid)
                )
            else:
                results.append(
                    {
                        "code": "SUCCESS",
                        "details": {"id": rid},
                        "message": "record deleted",
                        "status": "success",
                    }
                )
        return self._statused(results, all_inserts=False)

    def _get(self, module: FakeModule, query: dict[str, str]) -> _Reply:
        if not query.get("fields"):
            return self._error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                param_name="fields",
            )
        wanted = [f for f in query["fields"].split(",") if f]
        store = self.records[module.api_name]
        ids = [i for i in query.get("ids", "").split(",") if i]
        chosen = [store[i] for i in ids if i in store] if ids else list(store.values())[:200]
        if not chosen:
            return _Reply(204)
        data = [{"id": r["id"], **{f: r.get(f) for f in wanted}} for r in chosen]
        return _Reply(200, {"data": data, "info": {"count": len(data), "more_records": False}})


class FakeZohoServer:
    """The fake served by waitress on 127.0.0.1; ``start()`` then ``stop()``."""

    def __init__(self, fake: FakeZoho, port: int = 0, threads: int = 4) -> None:
        self.fake = fake
        self._server: Any = create_server(
            fake, host="127.0.0.1", port=port, threads=threads, ident="fake-zoho"
        )
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        fake.base_url = self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{int(self._server.effective_port)}"

    def _serve(self) -> None:
        server = self._server
        # waitress's own run() loops until every client connection is gone; this loop stops
        # when asked, and closes the connections in the thread that owns them.
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown(timeout=5)
        for channel in list(server._map.values()):
            channel.close()

    def start(self) -> FakeZohoServer:
        self._thread = threading.Thread(target=self._serve, name="fake-zoho", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        deadline = time.monotonic() + 5
        while self.fake.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeZohoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A thin ZOHO CRM v8 client on requests: upsert, update, delete, reads (by id, related lists),
COQL and metadata.

Retries live here and are bounded: an INVALID_TOKEN answer refreshes once and retries once;
429 backs off with full jitter (ZOHO sends no Retry-After); timeouts and 5xx retry (every write
this client makes is idempotent: upserts on external ids, updates by id). What retrying cannot
fix becomes a typed error (``errors.py``) for the forwarder to act on.

COQL (``coql``, ``select_all``) reads whole modules for audits: ZOHO caps LIMIT/OFFSET paging at
100,000 records, so ``select_all`` pages by key instead (``id > last order by id``), which has no
such cap and stays correct when records are added or deleted between pages.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from ..store.ports import SecretStore, TokenCache
from .auth import TokenProvider, load_credentials
from .errors import (
    ZohoConfigError,
    ZohoCreditsExhausted,
    ZohoError,
    ZohoRequestError,
    ZohoUnavailable,
)

log = logging.getLogger(__name__)

API = "/crm/v8"
MAX_RECORDS = 100
# ZOHO's Create Custom Fields API takes at most five fields a call.
MAX_FIELDS_CREATED = 5
# Upserts cost one credit per ten records, so a full batch needs ten.
LOW_CREDITS = 10
# ZOHO's COQL limits: rows per call, columns per query; LIMIT when a query gives none.
COQL_MAX_LIMIT = 2000
COQL_MAX_COLUMNS = 50
COQL_DEFAULT_LIMIT = 200
# Related records come in pages of at most 200.
RELATED_PER_PAGE = 200
# Field and module API names spliced into queries: letters, digits, underscores, dotted lookups.
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_LIMIT = re.compile(r"\blimit\s+(\d+)(?:\s*,\s*(\d+))?(?:\s+offset\s+\d+)?\s*$", re.IGNORECASE)

_CONFIG_CODES = {
    "OAUTH_SCOPE_MISMATCH": "the ZOHO token lacks a scope the relay needs (create the refresh "
    "token with ZohoCRM.modules.ALL, ZohoCRM.settings.modules.READ and "
    "ZohoCRM.settings.fields.READ, and ZohoCRM.coql.READ for audits)",
    "NO_PERMISSION": "the ZOHO user behind the refresh token lacks a permission (give the "
    "integration user's profile access to the mapped modules)",
    "AUTHENTICATION_FAILURE": "ZOHO could not authenticate the request",
    "INVALID_MODULE": "a mapped ZOHO module does not exist in this organisation (run `qbrelay "
    "zoho check`)",
    "INVALID_URL_PATTERN": "the ZOHO API address is wrong (check the data centre)",
    "INVALID_HOST": "the ZOHO API host is wrong (check the data centre)",
    "FEATURE_NOT_SUPPORTED": "the ZOHO edition lacks a feature the mapping uses",
}


@dataclass(frozen=True, slots=True)
class RecordResult:
    """ZOHO's answer for one record of a write, read from ``data[]`` by position."""

    ok: bool
    code: str
    message: str
    zoho_id: str | None = None
    action: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def reason(self) -> str:
        """``CODE: message (field)``, as parked records show it."""
        where = self.details.get("api_name") or self.details.get("json_path")
        return f"{self.code}: {self.message}" + (f" ({where})" if where else "")


def _result(item: Any) -> RecordResult:
    if not isinstance(item, dict):
        return RecordResult(False, "MALFORMED_RESULT", f"unexpected result {item!r:.200}")
    details = item.get("details") if isinstance(item.get("details"), dict) else {}
    ok = item.get("status") == "success" and item.get("code") == "SUCCESS"
    zoho_id = details.get("id")
    return RecordResult(
        ok=ok,
        code=str(item.get("code") or "UNKNOWN"),
        message=str(item.get("message") or ""),
        zoho_id=str(zoho_id) if zoho_id is not None else None,
        action=item.get("action"),
        details=details,
    )


@dataclass(frozen=True, slots=True)
class CoqlPage:
    """One COQL answer: its rows, whether more match past them, and the credits it cost."""

    rows: list[dict[str, Any]]
    more_records: bool
    credits: int


class CoqlError(ZohoRequestError):
    """ZOHO refused a COQL query (SYNTAX_ERROR, INVALID_QUERY, LIMIT_EXCEEDED ...).

    ``details`` is ZOHO's, e.g. ``{"column_name": "QB_Active", "clause": "where"}`` for a field
    the module lacks; ``query`` the query sent.
    """

    def __init__(self, code: str, message: str, details: dict[str, Any], query: str) -> None:
        shown = ", ".join(f"{k}={v}" for k, v in details.items())
        super().__init__(
            code, f"{message}{f' ({shown})' if shown else ''} in COQL query: {query:.300}"
        )
        self.details = details
        self.query = query


class CoqlTooManyRows(ZohoError):
    """``select_all`` met more rows than its ``max_rows``; what it yielded is incomplete."""


def coql_credits(limit: int) -> int:
    """Credits ZOHO charges a COQL query by its LIMIT: 1-200 cost 1, 201-1000 2, 1001-2000 3."""
    return 1 if limit <= 200 else 2 if limit <= 1000 else 3


def coql_string(value: str) -> str:
    """``value`` as a COQL string literal: single-quoted, a quote inside doubled (``O''Brien``).

    The only safe way to put a value in a query; anything else can end the literal early.
    """
    if not isinstance(value, str):
        raise TypeError(f"coql_string takes a str, not {type(value).__name__}")
    return "'" + value.replace("'", "''") + "'"


def _api_name(name: str) -> str:
    # Names cannot be quoted safely the way values can, so only plain API names are let in.
    if not _API_NAME.fullmatch(name):
        raise ValueError(f"not a ZOHO API name: {name!r}")
    return name


def _query_limit(query: str) -> int:
    m = _LIMIT.search(query)
    if m is None:
        return COQL_DEFAULT_LIMIT
    return int(m.group(2) or m.group(1))


class ZohoClient:
    """One tenant's ZOHO CRM API, with bounded retries; counts the calls it makes."""

    def __init__(
        self,
        tokens: TokenProvider,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
    ) -> None:
        self.tokens = tokens
        self.session = session or tokens.session
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.calls = 0
        # Attempts that timed out: their work may still be done by ZOHO, after later calls.
        self.timeouts = 0
        self.credits_remaining: int | None = None
        self.coql_calls = 0  # COQL queries ZOHO answered (not counting retried attempts)
        self.coql_credits = 0  # credits those queries cost, by ZOHO's LIMIT rule

    @property
    def token_calls(self) -> int:
        """Token-endpoint calls made for this client."""
        return self.tokens.token_calls

    # --- the API ----------------------------------------------------------------------------

    def upsert(
        self,
        module: str,
        records: Sequence[dict[str, Any]],
        duplicate_check_fields: Sequence[str],
        trigger: Sequence[str] = (),
        external: Sequence[str] = (),
    ) -> list[RecordResult]:
        """Upsert up to 100 records, matched only on ``duplicate_check_fields``.

        ``trigger`` is always sent (empty runs no workflow); ``external`` lists X-EXTERNAL paths
        for lookups given by external id.
        """
        if not duplicate_check_fields:
            # Without them ZOHO matches on names and e-mails first and merges strangers.
            raise ValueError("upsert needs explicit duplicate_check_fields")
        body = {
            "data": list(records),
            "duplicate_check_fields": list(duplicate_check_fields),
            "trigger": list(trigger),
        }
        headers = {"X-EXTERNAL": ",".join(external)} if external else {}
        return self._write("POST", f"{API}/{module}/upsert", body, len(records), headers)

    def update(
        self, module: str, records: Sequence[dict[str, Any]], trigger: Sequence[str] = ()
    ) -> list[RecordResult]:
        """Update up to 100 records by ZOHO ``id`` (each record carries its id)."""
        body = {"data": list(records), "trigger": list(trigger)}
        return self._write("PUT", f"{API}/{module}", body, len(records), {})

    def delete(self, module: str, ids: Sequence[str]) -> list[RecordResult]:
        """Delete up to 100 records by ZOHO id (to the recycle bin)."""
        if not ids:
            return []
        if len(ids) > MAX_RECORDS:
            raise ValueError(f"at most {MAX_RECORDS} ids per delete")
        resp = self._send(
            "DELETE", f"{API}/{module}", params={"ids": ",".join(ids), "wf_trigger": "false"}
        )
        return self._results(resp, len(ids))

    def get_records(
        self, module: str, ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Records by ZOHO id (up to 100), with ``fields``; [] when none exist (HTTP 204)."""
        if not ids:
            return []
        resp = self._send(
            "GET", f"{API}/{module}", params={"ids": ",".join(ids), "fields": ",".join(fields)}
        )
        if resp.status_code == 204:
            return []
        body = self._json(resp)
        self._raise_for_request_error(resp, body)
        data = body.get("data")
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

    def related_records(
        self,
        module: str,
        record_id: str,
        related_list: str,
        fields: Sequence[str],
        max_pages: int = 10,
    ) -> list[dict[str, Any]]:
        """The records of one record's related list (``GET /{module}/{id}/{related_list}``,
        e.g. a deal's Products), with ``fields``; [] when it is empty (HTTP 204).

        Pages of 200 (ZOHO's maximum), at most ``max_pages`` of them; ``ZohoRequestError``
        when more remain, rather than return a list silently cut short.
        """
        if not str(record_id).isdigit():
            raise ValueError(f"not a ZOHO record id: {record_id!r}")
        path = f"{API}/{_api_name(module)}/{record_id}/{_api_name(related_list)}"
        wanted = ",".join(dict.fromkeys(_api_name(f) for f in fields))
        out: list[dict[str, Any]] = []
        for page in range(1, max_pages + 1):
            params = {"fields": wanted, "page": str(page), "per_page": str(RELATED_PER_PAGE)}
            resp = self._send("GET", path, params=params)
            if resp.status_code == 204:
                return out
            body = self._json(resp)
            self._raise_for_request_error(resp, body)
            data = body.get("data")
            out.extend(r for r in data or [] if isinstance(r, dict))
            info = body.get("info") if isinstance(body.get("info"), dict) else {}
            if not info.get("more_records") or not data:
                return out
        raise ZohoRequestError(
            "LIMIT_EXCEEDED", f"{module}/{record_id}/{related_list} has over {max_pages} pages"
        )

    def coql(self, query: str) -> CoqlPage:
        """Run one COQL query (``POST /coql``); a 204 (nothing matches) is an empty page.

        Build values into ``query`` with ``coql_string``. ZOHO's refusal of the query raises
        ``CoqlError`` (a ``ZohoRequestError``); 429s, 5xx and timeouts are retried as for every
        call (COQL only reads).
        """
        resp = self._send("POST", f"{API}/coql", json={"select_query": query})
        self.coql_calls += 1
        if resp.status_code == 204:
            page = CoqlPage([], False, coql_credits(_query_limit(query)))
        else:
            body = self._json(resp)
            if resp.status_code >= 400:
                code = str(body.get("code") or f"HTTP_{resp.status_code}")
                if code in _CONFIG_CODES:
                    self._raise_for_request_error(resp, body)
                details = body.get("details") if isinstance(body.get("details"), dict) else {}
                message = str(body.get("message") or resp.reason or "")
                raise CoqlError(code, message, details, query)
            data = body.get("data")
            if not isinstance(data, list):
                raise CoqlError("MALFORMED_RESPONSE", "HTTP 200 without data", {}, query)
            info = body.get("info") if isinstance(body.get("info"), dict) else {}
            page = CoqlPage(
                [r for r in data if isinstance(r, dict)],
                bool(info.get("more_records")),
                coql_credits(_query_limit(query)),
            )
        self.coql_credits += page.credits
        return page

    def select_all(
        self,
        module: str,
        fields: Sequence[str],
        where: str | None = None,
        page: int = COQL_MAX_LIMIT,
        max_rows: int = 1_000_000,
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``module`` (matching ``where``, if given), ``fields`` and ``id``.

        Pages by key, ``id > last ... order by id asc limit page``, so it is not held to ZOHO's
        100,000 rows for OFFSET paging. ``where`` is a COQL condition (values through
        ``coql_string``); it is bracketed, since ZOHO wants criteria grouped in pairs. Raises
        ``CoqlTooManyRows`` once more than ``max_rows`` rows come, rather than run unbounded.
        """
        if not 1 <= page <= COQL_MAX_LIMIT:
            raise ValueError(f"page must be 1 to {COQL_MAX_LIMIT}, not {page}")
        columns = list(dict.fromkeys(_api_name(f) for f in ("id", *fields)))
        if len(columns) > COQL_MAX_COLUMNS:
            raise ValueError(f"at most {COQL_MAX_COLUMNS} fields in a COQL query")
        select = f"select {', '.join(columns)} from {_api_name(module)}"
        last: int | None = None
        seen = 0
        while True:
            if last is None:
                # Older COQL versions insist on a WHERE clause; this one matches every record.
                criteria = f"({where})" if where else "id is not null"
            else:
                key = f"id > {coql_string(str(last))}"
                criteria = f"{key} and ({where})" if where else key
            result = self.coql(f"{select} where {criteria} order by id asc limit {page}")
            for row in result.rows:
                rid = str(row.get("id", ""))
                if not rid.isdigit() or (last is not None and int(rid) <= last):
                    # Keys that do not grow would page forever (or skip rows) from here on.
                    raise CoqlError(
                        "MALFORMED_RESPONSE", f"row id {rid!r} out of order", {}, select
                    )
                last = int(rid)
                seen += 1
                if seen > max_rows:
                    raise CoqlTooManyRows(
                        f"{module} has more than {max_rows} rows{' matching' if where else ''}; "
                        "raise max_rows to read them all"
                    )
                yield row
            if not result.more_records or not result.rows:
                return

    def modules(self) -> list[dict[str, Any]]:
        """The organisation's modules (``GET /settings/modules``)."""
        resp = self._send("GET", f"{API}/settings/modules")
        body = self._json(resp)
        self._raise_for_request_error(resp, body)
        return list(body.get("modules") or [])

    def fields(self, module: str) -> list[dict[str, Any]]:
        """A module's fields (``GET /settings/fields?module=``)."""
        resp = self._send("GET", f"{API}/settings/fields", params={"module": module})
        if resp.status_code == 204:
            return []
        body = self._json(resp)
        self._raise_for_request_error(resp, body)
        return list(body.get("fields") or [])

    def create_fields(self, module: str, fields: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Create up to five custom fields in ``module`` (``POST /settings/fields?module=``).

        Needs the scope ZohoCRM.settings.fields.CREATE (or .ALL, or ZohoCRM.settings.ALL);
        without it ZOHO answers OAUTH_SCOPE_MISMATCH, raised as a ``ZohoConfigError`` with that
        ``code``. One result per field, in order; ``zoho_id`` is the new field's id.
        """
        if not fields:
            return []
        if len(fields) > MAX_FIELDS_CREATED:
            raise ValueError(f"at most {MAX_FIELDS_CREATED} (five) fields per call")
        resp = self._send(
            "POST",
            f"{API}/settings/fields",
            params={"module": module},
            json={"fields": list(fields)},
        )
        body = self._json(resp)
        results = body.get("fields")
        if not isinstance(results, list):
            self._raise_for_request_error(resp, body)
            raise ZohoRequestError("MALFORMED_RESPONSE", f"HTTP {resp.status_code} without fields")
        if len(results) != len(fields):
            raise ZohoRequestError(
                "MALFORMED_RESPONSE", f"{len(results)} results for {len(fields)} fields"
            )
        return [_result(item) for item in results]

    # --- plumbing ---------------------------------------------------------------------------

    def _write(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        count: int,
        headers: dict[str, str],
    ) -> list[RecordResult]:
        if count == 0:
            return []
        if count > MAX_RECORDS:
            raise ValueError(f"at most {MAX_RECORDS} records per call, not {count}")
        resp = self._send(method, path, json=body, headers=headers)
        return self._results(resp, count)

    def _results(self, resp: requests.Response, count: int) -> list[RecordResult]:
        body = self._json(resp)
        data = body.get("data")
        if not isinstance(data, list):
            self._raise_for_request_error(resp, body)
            raise ZohoRequestError("MALFORMED_RESPONSE", f"HTTP {resp.status_code} without data")
        if len(data) != count:
            # Results are matched to records by position, so a short answer matches nothing.
            raise ZohoRequestError("MALFORMED_RESPONSE", f"{len(data)} results for {count} records")
        return [_result(item) for item in data]

    @staticmethod
    def _json(resp: requests.Response) -> dict[str, Any]:
        if not resp.content:
            return {}
        try:
            body = resp.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _raise_for_request_error(resp: requests.Response, body: dict[str, Any]) -> None:
        if resp.status_code < 400:
            return
        code = str(body.get("code") or f"HTTP_{resp.status_code}")
        message = str(body.get("message") or resp.reason or "")
        if code in _CONFIG_CODES:
            raise ZohoConfigError(f"{_CONFIG_CODES[code]} [{code}: {message}]", code)
        raise ZohoRequestError(code, message)

    def _backoff(self, attempt: int) -> None:
        # Full jitter: concurrent forwarders spread out instead of retrying in lockstep.
        delay = self.rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        self.sleep(delay)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        rejected: str | None = None
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.token(rejected)
            self.calls += 1
            try:
                resp = self.session.request(
                    method,
                    token.api_domain + path,
                    params=params,
                    json=json,
                    headers={
                        **(headers or {}),
                        "Authorization": f"Zoho-oauthtoken {token.access_token}",
                    },
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                attempt += 1
                self.timeouts += isinstance(exc, requests.Timeout)
                log.warning(
                    "ZOHO %s %s: %s (attempt %d)", method, path, type(exc).__name__, attempt
                )
                if attempt >= self.max_attempts:
                    raise ZohoUnavailable(
                        f"ZOHO did not answer {method} {path} after {attempt} attempts"
                    ) from None
                self._backoff(attempt)
                continue
            self._note_credits(resp)
            status = resp.status_code
            if status == 401:
                body = self._json(resp)
                if body.get("code") == "INVALID_TOKEN" and not refreshed:
                    rejected, refreshed = token.access_token, True
                    continue
                if body.get("code") == "INVALID_TOKEN":
                    raise ZohoConfigError(
                        "ZOHO rejected a freshly refreshed access token (INVALID_TOKEN); check "
                        "the tenant's data centre and credentials"
                    )
                self._raise_for_request_error(resp, body)
            if status == 403:
                self._raise_for_request_error(resp, self._json(resp))
            if status == 429:
                attempt += 1
                message = str(self._json(resp).get("message") or "")
                if self._credits_gone(message) or attempt >= self.max_attempts:
                    raise ZohoCreditsExhausted(
                        f"ZOHO answered 429 TOO_MANY_REQUESTS ({message or 'no message'}; "
                        f"{attempt} attempt(s), credits remaining "
                        f"{self.credits_remaining if self.credits_remaining is not None else '?'})"
                    )
                log.warning("ZOHO %s %s: 429, backing off (attempt %d)", method, path, attempt)
                self._backoff(attempt)
                continue
            if status >= 500:
                attempt += 1
                log.warning("ZOHO %s %s: HTTP %d (attempt %d)", method, path, status, attempt)
                if attempt >= self.max_attempts:
                    raise ZohoUnavailable(
                        f"ZOHO answered HTTP {status} to {method} {path} {attempt} times"
                    )
                self._backoff(attempt)
                continue
            return resp

    def _note_credits(self, resp: requests.Response) -> None:
        # ZOHO sends the header only once half the day's credits are spent.
        value = resp.headers.get("X-API-CREDITS-REMAINING")
        if value is not None and value.strip().isdigit():
            self.credits_remaining = int(value)

    def _credits_gone(self, message: str) -> bool:
        # ZOHO's documented 429 text names both causes ("... for the 24 hour period is exceeded
        # or the concurrency limit ... is exceeded"), so only an unambiguous text counts; else
        # the credits header, and after that repeated 429s, decide.
        text = message.lower()
        if ("24 hour" in text or "credit" in text) and "concurren" not in text:
            return True
        return self.credits_remaining is not None and self.credits_remaining < LOW_CREDITS


def client_factory(
    secrets: SecretStore,
    tokens: TokenCache,
    session: requests.Session | None = None,
    **client_options: Any,
) -> Callable[[str], ZohoClient]:
    """A function giving a tenant's client: credentials from ``secrets``, tokens in ``tokens``."""
    shared = session or requests.Session()

    def make(tenant: str) -> ZohoClient:
        credentials = load_credentials(secrets, tenant)
        provider = TokenProvider(tenant, credentials, tokens, shared)
        return ZohoClient(provider, shared, **client_options)

    return make

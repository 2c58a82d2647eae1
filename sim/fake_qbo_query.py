"""The QuickBooks Online query language, as far as the fake serves it.

``SELECT * | COUNT(*) FROM <Entity> [WHERE <prop> <op> <value> [AND ...]]
[ORDERBY <prop> [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]``: operators ``=, <, >, <=, >=,
IN, LIKE`` (``%`` only), no OR, no projections, keywords in any case, entity names exact.
STARTPOSITION is 1-based; MAXRESULTS defaults to 100 and is capped at 1000. Strings are in single
quotes with ``\\'`` escaping a quote. Errors raise ``QueryError`` with Intuit's parser codes.
Inactive customers and items are left out unless a condition names ``Active``
(``Active in (true, false)`` lists both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .fake_qbo_company import ENTITIES, NAME_ENTITIES, parse_time

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS = 1000

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|<>|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


class QueryError(ValueError):
    """A statement the parser refuses; ``code`` is Intuit's (4000 parse error)."""

    def __init__(self, message: str, code: str = "4000") -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class Condition:
    prop: str
    op: str
    value: Any


@dataclass(slots=True)
class Query:
    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: tuple[str, bool] | None = None  # (prop, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f'QueryParserError: Encountered "{text[pos : pos + 10]}"')
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def parse(text: str) -> Query:
    """Parse one statement."""
    toks = _tokens(text)
    pos = 0

    def peek_word() -> str:
        return toks[pos][1].lower() if pos < len(toks) and toks[pos][0] == "word" else ""

    def take(kind: str | None = None, word: str | None = None) -> str:
        nonlocal pos
        if pos >= len(toks):
            raise QueryError("QueryParserError: unexpected end of statement")
        got_kind, got = toks[pos]
        if (kind and got_kind != kind) or (word and got.lower() != word):
            raise QueryError(f'QueryParserError: Encountered "{got}"')
        pos += 1
        return got

    take("word", "select")
    count = False
    if peek_word() == "count":
        take()
        take("punct")
        take("punct")
        take("punct")
        count = True
    else:
        if take("punct") != "*":
            raise QueryError("QueryParserError: only SELECT * and COUNT(*) are supported")
    take("word", "from")
    entity = take("word")
    if entity not in ENTITIES:
        raise QueryError(f"QueryValidationError: Property {entity} not found", code="4001")
    query = Query(entity=entity, count=count)
    if peek_word() == "where":
        take()
        while True:
            prop = take("word")
            op = peek_word() or (toks[pos][1] if pos < len(toks) else "")
            take()
            op = op.lower()
            if op == "in":
                take("punct")
                values = []
                while True:
                    values.append(_literal(toks[pos]))
                    pos += 1
                    sep = take("punct")
                    if sep == ")":
                        break
                query.where.append(Condition(prop, "in", values))
            elif op in ("=", "<", ">", "<=", ">=", "like"):
                query.where.append(Condition(prop, op, _literal(toks[pos])))
                pos += 1
            else:
                raise QueryError(f'QueryParserError: Encountered "{op}"')
            if peek_word() != "and":
                break
            take()
    if peek_word() == "orderby":
        take()
        prop = take("word")
        desc = False
        if peek_word() in ("asc", "desc"):
            desc = take().lower() == "desc"
        query.order = (prop, desc)
    if peek_word() == "startposition":
        take()
        query.start = max(1, int(take("num")))
    if peek_word() == "maxresults":
        take()
        query.max_results = min(MAX_RESULTS, max(1, int(take("num"))))
    if pos != len(toks):
        raise QueryError(f'QueryParserError: Encountered "{toks[pos][1]}"')
    return query


def _literal(tok: tuple[str, str]) -> Any:
    kind, text = tok
    if kind == "str":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "num":
        return float(text) if "." in text else int(text)
    if kind == "word" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise QueryError(f'QueryParserError: Encountered "{text}"')


def _lookup(obj: dict[str, Any], prop: str) -> Any:
    # Intuit accepts Metadata and MetaData alike; other property names match exactly.
    value: Any = obj
    for part in prop.split("."):
        if not isinstance(value, dict):
            return None
        if part.lower() == "metadata":
            part = "MetaData"
        value = value.get(part)
    if isinstance(value, dict) and "value" in value:
        return value["value"]  # a reference (CustomerRef = '58') compares by the Id it names
    return value


def _comparable(value: Any, other: Any) -> tuple[Any, Any]:
    if isinstance(value, str) and isinstance(other, str) and _looks_like_time(other):
        return parse_time(value), parse_time(other)
    if isinstance(value, str) and isinstance(other, int | float):
        return float(value), float(other)
    if isinstance(value, int | float) and isinstance(other, str):
        return float(value), float(other)
    return value, other


def _looks_like_time(text: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}", text))


def matches(obj: dict[str, Any], cond: Condition) -> bool:
    """Whether ``obj`` satisfies one condition."""
    value = _lookup(obj, cond.prop)
    if value is None:
        return False
    if cond.op == "in":
        return any(str(value) == str(v) for v in cond.value)
    if cond.op == "like":
        pattern = "^" + ".*".join(re.escape(p) for p in str(cond.value).split("%")) + "$"
        return re.match(pattern, str(value), re.IGNORECASE) is not None
    left, right = _comparable(value, cond.value)
    if isinstance(left, datetime) != isinstance(right, datetime):
        return False
    try:
        return {
            "=": left == right,
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
        }[cond.op]
    except TypeError:
        return False


def run(query: Query, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``QueryResponse`` for ``query`` over ``objects`` (Intuit omits an empty entity list)."""
    # Like QuickBooks Online, a query leaves inactive names out unless it asks about Active.
    hide_inactive = query.entity in NAME_ENTITIES and not any(
        c.prop.lower() == "active" for c in query.where
    )
    hits = [
        o
        for o in objects
        if all(matches(o, c) for c in query.where)
        and not (hide_inactive and o.get("Active") is False)
    ]
    if query.count:
        return {"totalCount": len(hits)}
    if query.order:
        prop, desc = query.order
        hits.sort(key=lambda o: _sort_key(_lookup(o, prop)), reverse=desc)
    page = hits[query.start - 1 : query.start - 1 + query.max_results]
    if not page:
        return {}
    return {query.entity: page, "startPosition": query.start, "maxResults": len(page)}


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str) and _looks_like_time(value):
        return (1, parse_time(value).timestamp())
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return (1, float(value))
    return (2, str(value))

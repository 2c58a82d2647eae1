"""COQL for the fake ZOHO: the SELECT subset the relay uses, parsed and run on in-memory records.

Modelled on ZOHO's v8 Query API (see ../shared/research/zoho-crm-api.md §2.7, and the v8 COQL
OpenAPI spec for the error shapes): ``select c1, c2 from Module [where ...] [order by c [asc|desc],
...] [limit N [offset M] | limit M, N]``; comparators ``= != > < >= <=``, ``[not] in (...)``,
``is [not] null``, ``[not] like``, ``between ... and ...``; ``and``/``or`` grouped in pairs (ZOHO
refuses ``A and B and C`` without brackets); string literals quoted with ``'`` (a quote inside is
doubled) or ``"`` (a quote inside is backslashed), numbers, ``true``/``false``. Booleans compare
with ``=`` only, as ZOHO documents. ``id`` and lookups compare as numbers. Limits: LIMIT <= 2,000,
OFFSET + LIMIT <= 100,000, <= 50 columns, <= 25 criteria, <= 50 values in ``in``, <= 10 ORDER BY
fields. Errors are ZOHO's codes: SYNTAX_ERROR, INVALID_QUERY, LIMIT_EXCEEDED, DUPLICATE_DATA.
Not modelled: joins through lookups, aggregates, GROUP BY, subqueries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_LIMIT = 2000
MAX_ROWS = 100_000  # OFFSET + LIMIT
MAX_COLUMNS = 50
MAX_CRITERIA = 25
MAX_IN_VALUES = 50
MAX_ORDER_BY = 10
DEFAULT_LIMIT = 200
# Fields every module has, besides its own.
SYSTEM_FIELDS = {
    "id": "bigint",
    "Created_Time": "datetime",
    "Modified_Time": "datetime",
    "Created_By": "lookup",
    "Modified_By": "lookup",
}
KEYWORDS = {
    "select",
    "from",
    "where",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "offset",
    "and",
    "or",
    "in",
    "not",
    "is",
    "null",
    "like",
    "between",
    "true",
    "false",
}
COMPARATORS = {"=", "!=", ">", "<", ">=", "<="}
NUMERIC = {"bigint", "lookup", "currency", "double", "integer", "decimal", "percent"}
TEXTUAL = {"text", "textarea", "phone", "email", "website", "picklist", "date"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<dstr>"(?:[^"\\]|\\.)*")
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op>!=|<>|>=|<=|=|>|<)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_$][A-Za-z0-9_.$]*)
    )""",
    re.VERBOSE,
)


def credits(limit: int) -> int:
    """ZOHO's price of a query by its LIMIT: 1-200 costs 1, 201-1000 costs 2, above costs 3."""
    return 1 if limit <= 200 else 2 if limit <= 1000 else 3


class CoqlError(Exception):
    """A query ZOHO refuses with HTTP 400, carrying its code, message and details."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # str | num | op | punct | word | end
    text: str
    value: Any
    pos: int


@dataclass(slots=True)
class Criterion:
    """One comparison: ``column op value`` (``values`` for in / between)."""

    column: str
    op: str  # = != > < >= <= in "not in" "is null" "is not null" like "not like" between
    values: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Group:
    """Two criteria (or groups) joined by ``and`` / ``or``."""

    op: str
    left: Criterion | Group
    right: Criterion | Group


@dataclass(slots=True)
class Query:
    """A parsed SELECT."""

    columns: list[str]
    module: str
    where: Criterion | Group | None
    order: list[tuple[str, bool]]  # (column, descending)
    limit: int
    offset: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise CoqlError(
                "SYNTAX_ERROR", "error occured while parsing the query", near=text[start:][:30]
            )
        kind = m.lastgroup or ""
        raw = m.group(kind)
        start = m.start(kind)
        if kind == "str":
            out.append(_Tok("str", raw, raw[1:-1].replace("''", "'"), start))
        elif kind == "dstr":
            out.append(_Tok("str", raw, re.sub(r"\\(.)", r"\1", raw[1:-1]), start))
        elif kind == "num":
            out.append(_Tok("num", raw, float(raw) if "." in raw else int(raw), start))
        elif kind == "op":
            out.append(_Tok("op", raw, "!=" if raw == "<>" else raw, start))
        elif kind == "word":
            out.append(_Tok("word", raw, raw.lower(), start))
        else:
            out.append(_Tok(kind, raw, raw, start))
        pos = m.end()
    out.append(_Tok("end", "", None, len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok | None = None) -> CoqlError:
        tok = tok or self.peek()
        near = self.text[tok.pos :][:30] or "end of query"
        return CoqlError("SYNTAX_ERROR", "error occured while parsing the query", near=near)

    def is_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.value in words

    def word(self, word: str) -> None:
        if not self.is_word(word):
            raise self.fail()
        self.take()

    def punct(self, char: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.text != char:
            raise self.fail(tok)

    def column(self) -> str:
        tok = self.take()
        if tok.kind == "word" and tok.value not in KEYWORDS:
            return tok.text
        if tok.kind == "str":  # a quoted column name, as ZOHO allows for reserved words
            return str(tok.value)
        raise self.fail(tok)

    def literal(self) -> Any:
        tok = self.take()
        if tok.kind in ("str", "num"):
            return tok.value
        if tok.kind == "word" and tok.value in ("true", "false"):
            return tok.value == "true"
        raise self.fail(tok)

    def integer(self) -> int:
        tok = self.take()
        if tok.kind != "num" or not isinstance(tok.value, int):
            raise self.fail(tok)
        return tok.value

    def query(self) -> Query:
        self.word("select")
        columns = [self.column()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            columns.append(self.column())
        self.word("from")
        module_tok = self.take()
        if module_tok.kind != "word" or module_tok.value in KEYWORDS:
            raise self.fail(module_tok)
        where = None
        if self.is_word("where"):
            self.take()
            where = self.expr()
        order: list[tuple[str, bool]] = []
        if self.is_word("order"):
            self.take()
            self.word("by")
            while True:
                col = self.column()
                desc = False
                if self.is_word("asc", "desc"):
                    desc = self.take().value == "desc"
                order.append((col, desc))
                if not (self.peek().kind == "punct" and self.peek().text == ","):
                    break
                self.take()
        limit, offset = DEFAULT_LIMIT, 0
        if self.is_word("limit"):
            self.take()
            limit = self.integer()
            if self.peek().kind == "punct" and self.peek().text == ",":
                # MySQL's form, which ZOHO accepts: LIMIT offset, count.
                self.take()
                offset, limit = limit, self.integer()
            elif self.is_word("offset"):
                self.take()
                offset = self.integer()
        if self.peek().kind != "end":
            raise self.fail()
        return Query(columns, module_tok.text, where, order, limit, offset)

    def expr(self) -> Criterion | Group:
        left = self.operand()
        if not self.is_word("and", "or"):
            return left
        op = self.take().value
        right = self.operand()
        if self.is_word("and", "or"):
            # ZOHO's rule: more than two criteria must be bracketed in pairs, ((A and B) and C).
            raise self.fail()
        return Group(op, left, right)

    def operand(self) -> Criterion | Group:
        tok = self.peek()
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            inner = self.expr()
            self.punct(")")
            return inner
        return self.criterion()

    def criterion(self) -> Criterion:
        col = self.column()
        tok = self.peek()
        if tok.kind == "op":
            self.take()
            return Criterion(col, tok.value, [self.literal()])
        if self.is_word("is"):
            self.take()
            negated = self.is_word("not")
            if negated:
                self.take()
            self.word("null")
            return Criterion(col, "is not null" if negated else "is null")
        negated = self.is_word("not")
        if negated:
            self.take()
        if self.is_word("in"):
            self.take()
            self.punct("(")
            values = [self.literal()]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                values.append(self.literal())
            self.punct(")")
            return Criterion(col, "not in" if negated else "in", values)
        if self.is_word("like"):
            self.take()
            return Criterion(col, "not like" if negated else "like", [self.literal()])
        if self.is_word("between") and not negated:
            self.take()
            low = self.literal()
            self.word("and")
            return Criterion(col, "between", [low, self.literal()])
        raise self.fail()


def parse(text: str) -> Query:
    """The query, or a SYNTAX_ERROR / LIMIT_EXCEEDED / INVALID_QUERY ``CoqlError``."""
    q = _Parser(text).query()
    if q.limit < 1:
        raise CoqlError("INVALID_QUERY", "invalid limit given", limit=str(q.limit))
    if q.limit > MAX_LIMIT:
        raise CoqlError(
            "LIMIT_EXCEEDED", "limit exceeded", clause="limit", limit=q.limit, maximum=MAX_LIMIT
        )
    if q.offset + q.limit > MAX_ROWS:
        raise CoqlError(
            "LIMIT_EXCEEDED",
            "offset and limit go past the records a query can page through",
            clause="offset",
            maximum=MAX_ROWS,
        )
    if len(q.columns) > MAX_COLUMNS:
        raise CoqlError("LIMIT_EXCEEDED", "too many columns", clause="select", maximum=MAX_COLUMNS)
    if len(q.order) > MAX_ORDER_BY:
        raise CoqlError(
            "LIMIT_EXCEEDED", "too many order by fields", clause="order by", maximum=MAX_ORDER_BY
        )
    leaves = list(_leaves(q.where))
    if len(leaves) > MAX_CRITERIA:
        raise CoqlError("LIMIT_EXCEEDED", "too many criteria", clause="where", maximum=MAX_CRITERIA)
    for c in leaves:
        if c.op in ("in", "not in") and len(c.values) > MAX_IN_VALUES:
            raise CoqlError(
                "LIMIT_EXCEEDED",
                "too many values for in",
                clause="where",
                column_name=c.column,
                operator=c.op,
                maximum=MAX_IN_VALUES,
            )
    for seen_in, cols in (("select", q.columns), ("order by", [c for c, _ in q.order])):
        dupes = [c for i, c in enumerate(cols) if c in cols[:i]]
        if dupes:
            raise CoqlError(
                "DUPLICATE_DATA", f"duplicate column in {seen_in}", column_name=dupes[0]
            )
    return q


def cost(text: Any) -> int:
    """Credits a query costs: by its LIMIT if it parses, else one (what a refused call costs)."""
    if not isinstance(text, str):
        return 1
    try:
        return credits(parse(text).limit)
    except CoqlError:
        return 1


def _leaves(node: Criterion | Group | None) -> Iterable[Criterion]:
    if node is None:
        return
    if isinstance(node, Criterion):
        yield node
        return
    yield from _leaves(node.left)
    yield from _leaves(node.right)


def _stored(record: Mapping[str, Any], column: str) -> Any:
    value = record.get(column)
    if isinstance(value, dict):  # a lookup: {"id": ...}
        value = value.get("id")
    return None if value in (None, "", []) else value


def _typed(kind: str, value: Any, column: str, op: str) -> Any:
    """``value`` as the field's type compares it, or INVALID_QUERY."""

    def bad() -> CoqlError:
        return CoqlError(
            "INVALID_QUERY",
            "invalid value given for the column",
            column_name=column,
            operator=op,
            value=str(value),
        )

    if kind in ("bigint", "lookup"):
        # ZOHO ids are long numbers sent as strings: compare them as numbers.
        if isinstance(value, bool) or not str(value).isdigit():
            raise bad()
        return int(str(value))
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad()
    if kind == "datetime":
        # ZOHO compares instants ('2026-01-02T09:00:00+05:30'), whatever the offsets.
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise bad() from None
        if parsed.tzinfo is None:
            raise bad()
        return parsed
    if kind in NUMERIC:
        if isinstance(value, bool):
            raise bad()
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad() from None
    if isinstance(value, bool):
        raise bad()
    return str(value)


def _like(pattern: str) -> re.Pattern[str]:
    parts = [".*" if p == "%" else re.escape(p) for p in re.split(r"(%)", pattern)]
    return re.compile("".join(parts), re.DOTALL)


def _check(node: Criterion | Group | None, types: Mapping[str, str]) -> None:
    for c in _leaves(node):
        kind = types.get(c.column)
        if kind is None:
            raise CoqlError(
                "INVALID_QUERY", "invalid column given", column_name=c.column, clause="where"
            )
        if kind == "boolean" and c.op not in ("=", "is null", "is not null"):
            raise CoqlError(
                "INVALID_QUERY",
                "invalid operator found",
                reason="the operator is not supported for a boolean field",
                column_name=c.column,
                operator=c.op,
            )
        if c.op in ("like", "not like") and kind not in TEXTUAL:
            raise CoqlError(
                "INVALID_QUERY",
                "invalid operator found",
                reason="like works on text fields only",
                column_name=c.column,
                operator=c.op,
            )
        # Typing every literal now gives the error before any record is read, as ZOHO does.
        c.values = [_typed(kind, v, c.column, c.op) for v in c.values]


def _match(node: Criterion | Group, record: Mapping[str, Any], types: Mapping[str, str]) -> bool:
    if isinstance(node, Group):
        if node.op == "and":
            return _match(node.left, record, types) and _match(node.right, record, types)
        return _match(node.left, record, types) or _match(node.right, record, types)
    raw = _stored(record, node.column)
    if node.op == "is null":
        return raw is None
    if node.op == "is not null":
        return raw is not None
    if raw is None:
        return False  # as in SQL, a comparison with an empty field is never true
    value = _typed(types[node.column], raw, node.column, node.op)
    vals = node.values
    match node.op:
        case "=":
            return value == vals[0]
        case "!=":
            return value != vals[0]
        case ">":
            return value > vals[0]
        case "<":
            return value < vals[0]
        case ">=":
            return value >= vals[0]
        case "<=":
            return value <= vals[0]
        case "in":
            return value in vals
        case "not in":
            return value not in vals
        case "between":
            return vals[0] <= value <= vals[1]
        case "like":
            return _like(str(vals[0])).fullmatch(str(value)) is not None
        case "not like":
            return _like(str(vals[0])).fullmatch(str(value)) is None
    raise AssertionError(node.op)


def execute(
    q: Query, field_types: Mapping[str, str], records: Iterable[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    """The page of rows ``q`` selects from ``records``, and whether more match past it."""
    types = {**SYSTEM_FIELDS, **field_types}
    for clause, cols in (("select", q.columns), ("order by", [c for c, _ in q.order])):
        for col in cols:
            kind = types.get(col)
            if kind is None or kind == "subform":
                raise CoqlError(
                    "INVALID_QUERY", "invalid column given", column_name=col, clause=clause
                )
    _check(q.where, types)
    hits = [r for r in records if q.where is None or _match(q.where, r, types)]

    def key(col: str) -> Any:
        def k(r: Mapping[str, Any]) -> tuple[int, Any]:
            raw = _stored(r, col)
            # Empty values sort first, as the smallest.
            return (0, 0) if raw is None else (1, _typed(types[col], raw, col, "order by"))

        return k

    # Without ORDER BY ZOHO sorts by id; id also breaks ties, so paging is stable.
    hits.sort(key=key("id"))
    for col, desc in reversed(q.order):
        hits.sort(key=key(col), reverse=desc)
    page = hits[q.offset : q.offset + q.limit]
    rows = []
    for r in page:
        row = {"id": str(r["id"])}
        for col in q.columns:
            row[col] = str(r["id"]) if col == "id" else r.get(col)
        rows.append(row)
    return rows, q.offset + len(page) < len(hits)

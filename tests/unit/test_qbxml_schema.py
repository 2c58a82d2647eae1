"""Requests the builders emit, and responses the simulator emits, validate against Intuit's XSD.

The schema directory comes from QBXML_XSD_DIR (set by .ci/run); without it these tests skip.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from qbxml import (
    CompanyQuery,
    CustomerQuery,
    HostQuery,
    PreferencesQuery,
    QbxmlVersion,
    build_message_set,
    parse_response,
)
from sim.fake_company import QB_TZ, FakeCompany, SimCustomer
from tests.conftest import shared_path

OWNER_ID = "{6B063959-81B0-4622-8C09-3A7E4DE9AB9C}"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    directory = os.environ.get("QBXML_XSD_DIR")
    path = Path(directory) if directory else shared_path("QBXML_XSD_DIR", "reference/qbxml/13.0")
    if path is None or not (path / "qbxmlops130.xsd").exists():
        pytest.skip("QBXML_XSD_DIR is not set and ../shared/reference/qbxml/13.0 is absent")
    return etree.XMLSchema(etree.parse(str(path / "qbxmlops130.xsd")))


def _validate(schema: etree.XMLSchema, document: str) -> None:
    body = document[document.index("<QBXML>") :]
    ok = schema.validate(etree.fromstring(body.encode("utf-8")))
    assert ok, schema.error_log.last_error


CUSTOMER_FILTERS = {
    "max_returned": [None, 100],
    "iterator": [None, "Start", "Continue"],
    "active_status": [None, "All", "InactiveOnly"],
    "from_modified": [None, datetime(2024, 3, 10, 2, 30, tzinfo=UTC)],
    "to_modified": [None, datetime(2024, 11, 3, 1, 30, tzinfo=timezone(timedelta(hours=-4)))],
    "include_ret_elements": [(), ("ListID", "EditSequence", "TimeModified")],
    "owner_ids": [(), ("0",), ("0", OWNER_ID)],
}


def _customer_queries() -> list[CustomerQuery]:
    queries = []
    keys = list(CUSTOMER_FILTERS)
    for n, values in enumerate(itertools.product(*CUSTOMER_FILTERS.values())):
        kwargs = dict(zip(keys, values, strict=True))
        if kwargs["iterator"] == "Continue":
            kwargs["iterator_id"] = "{F1E2D3C4-0000-1111-2222-333344445555}"
        queries.append(CustomerQuery(request_id=f"c{n}", **kwargs))
    return queries


def test_every_customer_query_combination_validates(schema) -> None:
    queries = _customer_queries()
    assert len(queries) == 432  # 2 x 3 x 3 x 2 x 2 x 2 x 3
    for start in range(0, len(queries), 100):
        _validate(schema, build_message_set(queries[start : start + 100], QbxmlVersion(13, 0)))


def test_hcp_queries_validate(schema) -> None:
    requests = [HostQuery("h"), CompanyQuery("c", owner_ids=(OWNER_ID,)), PreferencesQuery("p")]
    _validate(schema, build_message_set(requests, on_error="continueOnError"))


def test_simulator_responses_validate(schema) -> None:
    company = FakeCompany(
        customers=40, seed=3, file_id="{0C0A4F5E-1D2B-4A3C-9E8F-7A6B5C4D3E2F}", owner_id=OWNER_ID
    )
    _validate(schema, company.hcp_response())
    _validate(
        schema,
        company.process(build_message_set([CustomerQuery("r", max_returned=15, iterator="Start")])),
    )
    empty = FakeCompany(customers=0)
    _validate(schema, empty.process(build_message_set([CustomerQuery("r")])))


# Text QuickBooks can store: ISO-8859-1 minus the control characters XML 1.0 cannot carry.
def qb_text(max_size: int) -> st.SearchStrategy[str]:
    """Text QuickBooks can store, up to a field's schema maximum length."""
    return st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_categories=("Cc",))
        | st.sampled_from("&<>\"'"),
        min_size=1,
        max_size=max_size,
    ).filter(lambda s: s.strip() == s and s.strip())


@settings(max_examples=60, deadline=None)
@given(
    name=qb_text(25),
    company=qb_text(25),
    city=qb_text(31),
    email=qb_text(100),
    balance=st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2),
    active=st.booleans(),
)
def test_customer_round_trip_keeps_every_field(
    schema, name, company, city, email, balance, active
) -> None:
    sim = FakeCompany(customers=0)
    stamp = datetime(2024, 11, 3, 1, 30, tzinfo=QB_TZ)
    sim.customer_list = [
        SimCustomer(
            list_id="80000001-1",
            name=name,
            time_created=stamp,
            time_modified=stamp,
            edit_sequence="1",
            is_active=active,
            company_name=company,
            first_name=name,
            last_name=company,
            city=city,
            state="TX",
            phone="555",
            email=email,
            balance=balance,
        )
    ]
    response = sim.process(build_message_set([CustomerQuery("r", active_status="All")]))
    _validate(schema, response)
    (record,) = parse_response(response).responses[0].records
    assert (record.name, record.company_name, record.email) == (name, company, email)
    assert record.bill_address.city == city
    assert record.balance == balance and record.is_active is active
    assert record.time_modified == stamp

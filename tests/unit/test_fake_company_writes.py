"""The simulated company's writes: CustomerAdd / CustomerMod and data extensions (FileID)."""

from __future__ import annotations

from datetime import datetime

import pytest

from qbxml import parse_response
from qbxml.hcp import parse_hcp
from sim.fake_company import FakeCompany
from tests.sim_requests import FILE_ID, OWNER_ID, ask, el, message_set, one, rets, rq, status


@pytest.fixture
def company() -> FakeCompany:
    return FakeCompany(customers=20, vendors=3, seed=9, clock_start=datetime(2025, 7, 1, 9, 0))


def add(name: str, *children: str, request_id: str = "1") -> str:
    return rq(
        "CustomerAddRq", el("CustomerAdd", None, el("Name", name), *children), request_id=request_id
    )


def mod(list_id: str, edit_sequence: str, *children: str) -> str:
    return rq(
        "CustomerModRq",
        el(
            "CustomerMod", None, el("ListID", list_id), el("EditSequence", edit_sequence), *children
        ),
    )


def test_customer_add_creates_a_customer_stamped_now(company) -> None:
    response = one(
        company,
        add(
            'Zoë "Quoted" & <Sons>',
            el("CompanyName", "Zoë & Co"),
            el("BillAddress", None, el("Addr1", "1 Rue de l'Église"), el("City", "Montréal")),
            el("Email", "zoe@example.com"),
        ),
    )
    assert status(response) == 0
    (ret,) = rets(response)
    list_id = ret.findtext("ListID")
    assert ret.findtext("FullName") == 'Zoë "Quoted" & <Sons>'
    assert ret.findtext("TimeCreated") == "2025-07-01T09:00:00-05:00"
    assert ret.findtext("EditSequence") == str(int(company.clock.now().timestamp()))
    assert ret.find("BillAddress").findtext("City") == "Montréal"
    (found,) = rets(one(company, rq("CustomerQueryRq", el("ListID", list_id))))
    assert found.findtext("CompanyName") == "Zoë & Co"
    # The library reads it back field for field.
    query = message_set(rq("CustomerQueryRq", el("ListID", list_id)))
    (record,) = parse_response(company.process(query)).responses[0].records
    assert (
        record.name == 'Zoë "Quoted" & <Sons>' and record.bill_address.addr1 == "1 Rue de l'Église"
    )


def test_customer_add_errors(company) -> None:
    data = company.data
    existing = next(iter(data.customers.values()))
    vendor = next(iter(data.vendors.values()))
    taken, vendor_taken, bad_parent, bad_terms, too_long, ok = ask(
        company,
        add(data.full_name(existing).upper()),
        add(vendor.name, request_id="2"),
        add("Job", el("ParentRef", None, el("FullName", "Nobody Inc")), request_id="3"),
        add("Other", el("TermsRef", None, el("FullName", "Net 999")), request_id="4"),
        add("x" * 42, request_id="5"),
        add("Job", el("ParentRef", None, el("ListID", existing.list_id)), request_id="6"),
        on_error="continueOnError",
    )
    assert status(taken) == 3100
    assert (
        taken.get("statusMessage")
        == f'The name "{data.full_name(existing).upper()}" of the list element is already in use.'
    )
    assert status(vendor_taken) == 3100  # customers and vendors share one name list
    assert status(bad_parent) == 3130 and '"Nobody Inc"' in bad_parent.get("statusMessage")
    assert status(bad_terms) == 3140 and "Terms" in bad_terms.get("statusMessage")
    assert status(too_long) == 3070
    (job,) = rets(ok)
    assert (
        job.findtext("FullName") == f"{data.full_name(existing)}:Job"
        and job.findtext("Sublevel") == "1"
    )


def test_customer_mod_checks_the_edit_sequence(company) -> None:
    customer = next(iter(company.data.customers.values()))
    old = customer.edit_sequence
    stale = one(company, mod(customer.list_id, "123", el("Phone", "555-0000")))
    assert status(stale) == 3200 and stale.get("statusMessage").startswith(
        'The provided edit sequence "123" is out-of-date.'
    )
    missing = one(company, mod("80000999-1", old))
    assert status(missing) == 3120
    company.clock.advance(hours=2)
    response = one(company, mod(customer.list_id, old, el("Phone", "555-0000"), el("Email", "")))
    (ret,) = rets(response)
    assert ret.findtext("Phone") == "555-0000" and ret.find("Email") is None  # empty clears
    assert ret.findtext("TimeModified") == "2025-07-01T11:00:00-05:00"
    assert ret.findtext("EditSequence") == customer.edit_sequence != old
    again = one(company, mod(customer.list_id, old, el("Phone", "555-1111")))
    assert status(again) == 3200  # the old sequence is stale now


def test_customer_mod_rename_into_a_taken_name_and_stop_on_error(company) -> None:
    first, second = list(company.data.customers.values())[:2]
    clash, skipped = ask(
        company,
        mod(second.list_id, second.edit_sequence, el("Name", company.data.full_name(first))),
        rq("CustomerQueryRq", request_id="2"),
    )
    assert status(clash) == 3100 and status(skipped) == 3231
    assert skipped.get("statusMessage") == "The request has not been processed."


def _define(name: str, owner: str = OWNER_ID, assign: str = "Company") -> str:
    return rq(
        "DataExtDefAddRq",
        el(
            "DataExtDefAdd",
            None,
            el("OwnerID", owner),
            el("DataExtName", name),
            el("DataExtType", "STR255TYPE"),
            el("AssignToObject", assign),
        ),
    )


def _value(kind: str, name: str, value: str, owner: str = OWNER_ID) -> str:
    return rq(
        f"DataExt{kind}Rq",
        el(
            f"DataExt{kind}",
            None,
            el("OwnerID", owner),
            el("DataExtName", name),
            el("OtherDataExtType", "Company"),
            el("DataExtValue", value),
        ),
    )


def _company_ext(company: FakeCompany, *owners: str) -> dict[tuple[str, str], str]:
    response = one(company, rq("CompanyQueryRq", *(el("OwnerID", o) for o in owners)))
    (ret,) = rets(response)
    return {
        (d.findtext("OwnerID"), d.findtext("DataExtName")): d.findtext("DataExtValue")
        for d in ret.findall("DataExtRet")
    }


def test_file_id_written_as_a_company_data_extension(company) -> None:
    company.owner_id = OWNER_ID
    assert parse_hcp(company.hcp_response()).data_extension(OWNER_ID, "FileID") is None
    defined, added = ask(company, _define("FileID"), _value("Add", "FileID", FILE_ID))
    assert status(defined) == 0 and rets(defined)[0].findtext("DataExtID")
    assert rets(added)[0].findtext("DataExtValue") == FILE_ID
    assert _company_ext(company, OWNER_ID.lower()) == {(OWNER_ID, "FileID"): FILE_ID}
    assert _company_ext(company) == {}  # only for the OwnerIDs asked for
    assert _company_ext(company, "0") == {}
    assert parse_hcp(company.hcp_response()).data_extension(OWNER_ID, "FileID") == FILE_ID
    assert company.file_id == FILE_ID
    other = "{11111111-2222-3333-4444-555555555555}"
    assert parse_hcp(company.hcp_response(other)).data_extension(OWNER_ID, "FileID") is None


def test_data_extension_errors_and_mod(company) -> None:
    defined, undefined, mod_missing = ask(
        company,
        _define("FileID"),
        _value("Add", "Nope", "x"),
        _value("Mod", "FileID", FILE_ID),
        on_error="continueOnError",
    )
    assert status(defined) == 0
    assert status(undefined) == 3120 and status(mod_missing) == 3120  # no value to modify yet
    duplicate_def, first, duplicate, changed = ask(
        company,
        _define("FileID"),
        _value("Add", "FileID", FILE_ID),
        _value("Add", "FileID", FILE_ID),
        _value("Mod", "FileID", "{NEW}"),
        on_error="continueOnError",
    )
    assert [status(r) for r in (duplicate_def, first, duplicate, changed)] == [3100, 0, 3100, 0]
    assert _company_ext(company, OWNER_ID) == {(OWNER_ID, "FileID"): "{NEW}"}
    wrong_object = one(company, _value("Add", "Region", "North", owner="0"))
    assert status(wrong_object) == 3120  # public "Region" is defined for customers only


def test_custom_field_on_a_customer(company) -> None:
    customer = next(iter(company.data.customers.values()))
    ask(company, _define("CrmId", assign="Customer"))
    response = one(
        company,
        rq(
            "DataExtAddRq",
            el(
                "DataExtAdd",
                None,
                el("OwnerID", OWNER_ID),
                el("DataExtName", "CrmId"),
                el("ListDataExtType", "Customer"),
                el("ListObjRef", None, el("ListID", customer.list_id)),
                el("DataExtValue", "zcrm_42"),
            ),
        ),
    )
    assert status(response) == 0
    (ret,) = rets(
        one(company, rq("CustomerQueryRq", el("ListID", customer.list_id), el("OwnerID", OWNER_ID)))
    )
    assert [
        (d.findtext("DataExtName"), d.findtext("DataExtValue")) for d in ret.findall("DataExtRet")
    ] == [("CrmId", "zcrm_42")]


def test_a_file_opened_by_the_web_connector_before_carries_its_file_id() -> None:
    company = FakeCompany(customers=1, file_id=FILE_ID, owner_id=OWNER_ID)
    hcp = company.hcp_response()
    info = parse_hcp(hcp)
    assert info.data_extension(OWNER_ID, "FileID") == FILE_ID
    assert info.data_extension(OWNER_ID, "AppLock").startswith("LOCKED:")
    assert [r.request_id for r in parse_response(hcp).responses] == ["0", "1", "2"]


def test_a_customer_cannot_become_its_own_job(company) -> None:
    parent, child = list(company.data.customers.values())[:2]
    assert (
        status(
            one(
                company,
                mod(
                    child.list_id,
                    child.edit_sequence,
                    el("ParentRef", None, el("ListID", parent.list_id)),
                ),
            )
        )
        == 0
    )
    cycle = one(
        company,
        mod(
            parent.list_id, parent.edit_sequence, el("ParentRef", None, el("ListID", child.list_id))
        ),
    )
    assert status(cycle) == 3130


def test_file_id_can_be_stamped_later_as_the_web_connector_does() -> None:
    company = FakeCompany(customers=1, owner_id=OWNER_ID)
    assert company.file_id is None
    company.file_id = FILE_ID
    assert parse_hcp(company.hcp_response()).data_extension(OWNER_ID, "FileID") == FILE_ID

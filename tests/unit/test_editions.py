"""QuickBooks editions and feature preferences: what a company file lacks is skipped, not failed.

Pro has no sales orders and estimates can be switched off; the HCP response (product name and
preferences) tells, and so does a 3250 / 1030 answer. Either way the entity is stored as
unsupported for the tenant, named once in the summary, skipped later, and the run completes.
"""

from __future__ import annotations

import re

import pytest

from lambdas.local.wiring import LocalRelay
from lambdas.ops.stale_sync import is_stale
from lambdas.qbwc.support_page import support_reply, tenant_support_path
from lambdas.store.ports import EntitySyncState, Tenant
from lambdas.sync.plan import DEFAULT_ENTITIES
from qbxml import parse_hcp
from sim.fake_company import FakeCompany
from tests.conftest import PASSWORD
from tests.unit.test_sync_engine import Run, sync

WEEK = 7 * 24 * 3600


@pytest.fixture
def crm_tenant(local: LocalRelay, tenant: Tenant) -> Tenant:
    """The tenant syncing everything the default CRM mapping uses (sales orders among them)."""
    tenant.enabled_entities = DEFAULT_ENTITIES
    local.tenants.update(tenant)
    return tenant


def books(**kwargs) -> FakeCompany:
    counts = dict(customers=6, items=4, estimates=3, invoices=5, payments=2)
    return FakeCompany(**{**counts, **kwargs})


def asked(run: Run, entity: str) -> bool:
    return any(f"<{entity}QueryRq" in r for r in run.requests)


def last_run(local: LocalRelay, tenant: Tenant):
    return local.runs.recent(tenant.name, 1)[0]


def unsupported(local: LocalRelay, tenant: Tenant, entity: str) -> str | None:
    st = local.state.get_all(tenant.name).get(entity)
    return st.unsupported if st else None


def test_pro_company_syncs_without_sales_order_errors(local, crm_tenant) -> None:
    company = books(edition="Pro")
    first = sync(local, crm_tenant, company)
    assert not asked(first, "SalesOrder") and asked(first, "Invoice")
    assert "error" not in first.summary
    assert "sales orders not available in this company file" in first.summary
    run = last_run(local, crm_tenant)
    assert run.status == "completed" and run.errors == 0
    assert unsupported(local, crm_tenant, "SalesOrder") == "QuickBooks Pro has no sales orders"
    # Completed: last_sync_at moves, so the minimum interval applies and no stale alarm fires.
    saved = local.tenants.get(crm_tenant.name)
    assert saved.last_sync_at is not None
    assert not is_stale(saved, saved.last_sync_at + 3600, threshold_hours=24)

    second = sync(local, crm_tenant, company)
    assert not asked(second, "SalesOrder")
    assert "sales order" not in second.summary  # named once, by the session that found out
    assert last_run(local, crm_tenant).status == "completed"

    saved.min_interval_seconds = 3600
    local.tenants.update(saved)
    assert local.relay.authenticate(crm_tenant.qbwc_user, PASSWORD)[1] == "none"


def test_premier_with_estimates_off_skips_estimates_until_switched_on(local, crm_tenant) -> None:
    company = books(edition="Premier", sales_orders=2, features_off={"estimates"})
    first = sync(local, crm_tenant, company)
    assert not asked(first, "Estimate") and asked(first, "SalesOrder")
    assert "estimates not available in this company file" in first.summary
    assert last_run(local, crm_tenant).status == "completed"
    assert "turned off" in unsupported(local, crm_tenant, "Estimate")

    second = sync(local, crm_tenant, company)
    assert not asked(second, "Estimate") and "estimate" not in second.summary
    assert last_run(local, crm_tenant).status == "completed"

    company.set_feature("estimates", True)  # the preference says so: estimates come back
    third = sync(local, crm_tenant, company)
    assert asked(third, "Estimate") and "3 estimates" in third.summary
    assert unsupported(local, crm_tenant, "Estimate") is None
    assert last_run(local, crm_tenant).entities["Estimate"].received == 3


def test_a_3250_answer_marks_the_entity_and_it_is_asked_again_after_a_week(
    local, crm_tenant, monkeypatch
) -> None:
    # Premier with sales orders switched off: PreferencesRet has no element for that, so only
    # QuickBooks' answer (3250) tells.
    company = books(edition="Premier", sales_orders=2, features_off={"sales_orders"})
    first = sync(local, crm_tenant, company)
    assert asked(first, "SalesOrder")
    assert "error" not in first.summary
    assert "sales orders not available in this company file" in first.summary
    assert last_run(local, crm_tenant).status == "completed"
    assert unsupported(local, crm_tenant, "SalesOrder").startswith("QuickBooks answered 3250")

    second = sync(local, crm_tenant, company)
    assert not asked(second, "SalesOrder")

    company.set_feature("sales_orders", True)
    now = local.engine.clock()
    monkeypatch.setattr(local.engine, "clock", lambda: now + WEEK + 1)
    third = sync(local, crm_tenant, company)
    assert asked(third, "SalesOrder") and "2 sales orders" in third.summary
    assert unsupported(local, crm_tenant, "SalesOrder") is None


def test_a_recheck_that_is_refused_again_stays_quiet(local, crm_tenant, monkeypatch) -> None:
    company = books(edition="Enterprise", sales_orders=2, features_off={"sales_orders"})
    sync(local, crm_tenant, company)
    now = local.engine.clock()
    monkeypatch.setattr(local.engine, "clock", lambda: now + WEEK + 1)
    again = sync(local, crm_tenant, company)
    assert asked(again, "SalesOrder") and "sales order" not in again.summary
    assert last_run(local, crm_tenant).status == "completed"
    # Refused again: the next re-check is a week from now, not every session.
    assert not asked(sync(local, crm_tenant, company), "SalesOrder")


def test_upgrading_from_pro_brings_sales_orders_back(local, crm_tenant) -> None:
    company = books(edition="Pro")
    sync(local, crm_tenant, company)
    company.edition = "Premier"
    company.add("SalesOrder")
    upgraded = sync(local, crm_tenant, company)
    assert asked(upgraded, "SalesOrder") and "1 sales order" in upgraded.summary
    assert unsupported(local, crm_tenant, "SalesOrder") is None


def test_an_unsupported_message_answer_is_not_an_error(local, tenant) -> None:
    ticket, _ = local.relay.authenticate(tenant.qbwc_user, PASSWORD)
    request = local.relay.send_request_xml(ticket, books().hcp_response(), "", "US", 13, 0)
    request_id = re.search(r'<CustomerQueryRq requestID="([^"]+)"', request).group(1)
    rs = (
        f'<QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="{request_id}" statusCode="1030" '
        'statusSeverity="Error" statusMessage="This request is not supported by this '
        'implementation."/></QBXMLMsgsRs></QBXML>'
    )
    assert local.relay.receive_response_xml(ticket, rs, "", "") == 100
    summary = local.relay.close_connection(ticket)
    assert summary == "No changes; customers not available in this company file"
    assert last_run(local, tenant).status == "completed"
    assert "1030" in unsupported(local, tenant, "Customer")


def test_the_support_page_shows_what_the_company_file_lacks(local, crm_tenant) -> None:
    sync(local, crm_tenant, books(edition="Pro"))
    path = "/" + tenant_support_path(local.tenants.ensure_file_id(crm_tenant.name))
    page = support_reply(path, local.tenants, local.state).body.decode()
    assert "Not available in this company file" in page
    assert "sales orders: QuickBooks Pro has no sales orders" in page
    assert "Not available" not in support_reply(path, local.tenants).body.decode()


def test_sync_state_keeps_the_flag_and_reads_old_items() -> None:
    st = EntitySyncState("acme", "SalesOrder", unsupported="QuickBooks Pro has no sales orders")
    st.unsupported_at = 1700000000.0
    assert EntitySyncState.from_item(st.to_item()) == st
    old = {"tenant": "acme", "entity": "Invoice", "watermark": None}
    assert EntitySyncState.from_item(old).unsupported is None


@pytest.mark.parametrize(
    ("product", "edition"),
    [
        ("QuickBooks Pro 2014", "Pro"),
        ("QuickBooks Desktop Pro Plus 2023", "Pro"),
        ("QuickBooks Premier Edition 2012", "Premier"),
        ("QuickBooks Premier Accountant Edition 2014", "Accountant"),
        ("QuickBooks Enterprise Solutions 23.0", "Enterprise"),
        ("QuickBooks Enterprise Solutions: Professional Services 14.0", "Enterprise"),
        ("QuickBooks Simple Start 2010", "Simple Start"),
        ("", ""),
    ],
)
def test_edition_from_the_product_name(product: str, edition: str) -> None:
    hcp = parse_hcp(books().hcp_response().replace("QuickBooks Enterprise Solutions 23.0", product))
    assert hcp.edition == edition


def test_preferences_are_read_from_the_hcp_response() -> None:
    hcp = parse_hcp(books(features_off={"estimates", "inventory"}).hcp_response())
    assert hcp.preference("JobsAndEstimatesPreferences/IsUsingEstimates") is False
    assert hcp.preference("PurchasesAndVendorsPreferences/IsUsingInventory") is False
    assert hcp.preference("AccountingPreferences/IsUsingClassTracking") is False
    assert hcp.preference("NoSuchPreferences/IsUsingAnything") is None
    assert parse_hcp(books().hcp_response()).preference(
        "JobsAndEstimatesPreferences/IsUsingEstimates"
    )

"""What a company file has, from the HCP response: the QuickBooks edition and its preferences.

The Web Connector sends the HCP response (HostQuery + CompanyQuery + PreferencesQuery) with the
first ``sendRequestXML`` of every session. Where it tells that the company file cannot answer an
entity's query, the session leaves the entity out instead of asking and failing:

- SalesOrder: QuickBooks Pro (and Simple Start) has no sales orders. Premier, Accountant and
  Enterprise have them, but their "use sales orders" preference is not part of PreferencesRet:
  when it is off, the query's 3250 answer tells (``SyncEngine.apply``).
- Estimate: ``JobsAndEstimatesPreferences/IsUsingEstimates``; every edition has estimates.

Inventory switched off (``PurchasesAndVendorsPreferences/IsUsingInventory``) leaves nothing out:
ItemQuery still answers with the other item types.
"""

from __future__ import annotations

from qbxml import HcpInfo

USING_ESTIMATES = "JobsAndEstimatesPreferences/IsUsingEstimates"
NO_SALES_ORDERS = ("Pro", "Simple Start")
ESTIMATES_OFF = "estimates are turned off in the company's preferences (Jobs & Estimates)"

# Every reason ``availability`` gives: a flag stored with one of these came from the HCP response,
# so the next HCP response that no longer says so brings the entity back.
HCP_REASONS = frozenset(
    {ESTIMATES_OFF, *(f"QuickBooks {edition} has no sales orders" for edition in NO_SALES_ORDERS)}
)


def availability(hcp: HcpInfo) -> dict[str, tuple[bool, str]]:
    """Entity -> (available, why not) for the entities the HCP response tells about."""
    told: dict[str, tuple[bool, str]] = {}
    if hcp.edition in NO_SALES_ORDERS:
        told["SalesOrder"] = (False, f"QuickBooks {hcp.edition} has no sales orders")
    estimates = hcp.preference(USING_ESTIMATES)
    if estimates is not None:
        told["Estimate"] = (estimates, "" if estimates else ESTIMATES_OFF)
    return told


def told_by_hcp(reason: str | None) -> bool:
    """True when an entity was marked unsupported because of the HCP response."""
    return reason in HCP_REASONS

"""The conflict policy: fields changed in ZOHO, in QuickBooks, or in both since the last sync."""

import pytest

from lambdas.writeback.conflicts import check_policy, resolve
from lambdas.writeback.model import Conflict

BASE = {"name": "Acme", "phone": "111", "email": "a@x.test"}


def test_only_zoho_changes_are_written():
    send, conflicts = resolve("qb_wins", BASE, {**BASE, "phone": "222"}, BASE)
    assert send == {"phone": "222"} and conflicts == ()


def test_a_field_changed_on_both_sides_keeps_quickbooks_by_default():
    zoho = {**BASE, "phone": "222", "email": "b@x.test"}
    qb = {**BASE, "phone": "333"}
    send, conflicts = resolve("qb_wins", BASE, zoho, qb)
    assert send == {"email": "b@x.test"}
    assert conflicts == (Conflict("phone", "333", "222", "qb"),)


def test_zoho_wins_writes_the_conflicting_field_and_records_it():
    send, conflicts = resolve("zoho_wins", BASE, {**BASE, "phone": "222"}, {**BASE, "phone": "3"})
    assert send == {"phone": "222"}
    assert conflicts == (Conflict("phone", "3", "222", "zoho"),)


@pytest.mark.parametrize(
    ("zoho_time", "qb_time", "kept"),
    [(20, 10, "zoho"), (10, 20, "qb"), (10, 10, "qb"), (None, 5, "qb")],
)
def test_newest_wins_goes_by_the_later_change(zoho_time, qb_time, kept):
    send, conflicts = resolve(
        "newest_wins", BASE, {**BASE, "phone": "222"}, {**BASE, "phone": "3"}, zoho_time, qb_time
    )
    assert [c.kept for c in conflicts] == [kept]
    assert ("phone" in send) == (kept == "zoho")


def test_the_same_change_on_both_sides_is_no_conflict_and_no_write():
    assert resolve("qb_wins", BASE, {**BASE, "phone": "9"}, {**BASE, "phone": "9"}) == ({}, ())


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="qb_wins, zoho_wins, newest_wins"):
        check_policy("last_writer")

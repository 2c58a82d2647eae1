"""ParentsFirst: which records of a batch may be written next (lambdas/zoho/packing.py)."""

from __future__ import annotations

from lambdas.zoho.packing import ParentsFirst


def plan(tree: dict[str, str | None]) -> ParentsFirst[str]:
    """Names to their parent (None: a top-level record), in the order given."""
    return ParentsFirst(list(tree), key=lambda n: n, parents=lambda n: [tree[n]] if tree[n] else [])


def calls(p: ParentsFirst[str], size: int) -> list[list[str]]:
    out = []
    for _ in range(100):
        if not p:
            break
        chunk = p.ready()[:size]
        out.append(chunk)
        p.done(chunk)
    return out


def test_parents_with_waiting_children_go_first_and_children_fill_later_calls() -> None:
    tree = {"a": None, "b": None, "c": None, "d": None, "a1": "a", "d1": "d", "d11": "d1"}
    got = calls(plan(tree), 3)
    # d has the longest chain (d -> d1 -> d11), then a; the rest fill the calls in order.
    assert got == [["d", "a", "b"], ["d1", "c", "a1"], ["d11"]]
    written: set[str] = set()
    for chunk in got:
        assert all(tree[n] is None or tree[n] in written for n in chunk)
        written.update(chunk)


def test_parents_outside_the_batch_do_not_hold_a_record_back() -> None:
    tree = {"j1": "elsewhere", "j2": "elsewhere", "c": None}
    assert calls(plan(tree), 10) == [["j1", "j2", "c"]]


def test_a_failed_parent_still_lets_its_children_be_tried() -> None:
    p = plan({"a": None, "a1": "a"})
    assert p.ready() == ["a"]
    p.done(["a"])  # written or refused: either way the child goes next (and waits if need be)
    assert p.ready() == ["a1"]


def test_a_cycle_of_parents_does_not_stop_the_batch() -> None:
    tree = {"x": "y", "y": "x", "z": None}
    got = calls(plan(tree), 2)
    assert sorted(n for chunk in got for n in chunk) == ["x", "y", "z"]
    assert got[0] == ["z"]


def test_a_record_naming_itself_as_parent_is_free() -> None:
    assert calls(plan({"s": "s"}), 5) == [["s"]]

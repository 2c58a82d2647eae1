"""SnapStart runtime hooks: what a handler registers, and what a restore forgets."""

from __future__ import annotations

import random
from functools import cache

from lambdas.handlers.runtime import importer, snapshot_hooks


def test_without_the_runtime_library_nothing_is_registered() -> None:
    # snapshot_restore_py ships only inside the Lambda runtime.
    assert snapshot_hooks(prime=[importer("json")], forget=[]) is False


def test_restore_forgets_the_builders_and_reseeds_random() -> None:
    before: list = []
    after: list = []
    built: list[object] = []

    @cache
    def client() -> object:
        built.append(object())
        return built[-1]

    assert snapshot_hooks(
        prime=[importer("json")], forget=[client], register=(before.append, after.append)
    )
    assert len(before) == 1 and len(after) == 1
    before[0]()  # priming only imports: no builder runs before the snapshot
    assert built == []
    first = client()
    random.seed(7)
    snapshot_state = random.getstate()
    after[0]()
    assert random.getstate() != snapshot_state
    assert client() is not first and len(built) == 2

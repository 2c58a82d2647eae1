"""The order of one module's writes in a batch: parents before children, calls kept full.

A record whose parent is in the same batch (a job and its customer) may only be written by a
call after the one that wrote the parent. Writing the batch level by level would end every
level with a part-full call; instead each call takes up to 100 of the records that are free to
go (their parents written, or not in the batch), those with the longest chain of waiting
descendants first, so the parents go in the first calls and their children fill the later ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class ParentsFirst(Generic[T]):
    """Items waiting to be written, and which of them may go next.

    ``key`` names an item; ``parents`` names the items it refers to (names not in ``items``
    are ignored: such parents were written before, or travel in another batch).
    """

    def __init__(
        self,
        items: Iterable[T],
        key: Callable[[T], Hashable],
        parents: Callable[[T], Iterable[Hashable]],
    ) -> None:
        self._items = list(items)
        self._key = key
        names = {key(item) for item in self._items}
        self._parents = {
            key(item): {p for p in parents(item) if p in names and p != key(item)}
            for item in self._items
        }
        self._height = _heights(self._parents)
        self._left = {key(item) for item in self._items}

    def __bool__(self) -> bool:
        return bool(self._left)

    def ready(self) -> list[T]:
        """The items not written yet whose parents are, longest waiting chains first (then in
        the order given). All of them when none is free: a cycle of parents (impossible in
        QuickBooks) must not stop the batch."""
        waiting = [item for item in self._items if self._key(item) in self._left]
        free = [
            item for item in waiting if not (self._parents[self._key(item)] & self._left)
        ] or waiting
        order = {id(item): i for i, item in enumerate(free)}
        return sorted(free, key=lambda item: (-self._height[self._key(item)], order[id(item)]))

    def done(self, items: Iterable[T]) -> None:
        """Mark ``items`` written (whatever the outcome: their children may be tried now)."""
        for item in items:
            self._left.discard(self._key(item))


def _heights(parents: dict[Hashable, set[Hashable]]) -> dict[Hashable, int]:
    """Per name, the length of its longest chain of descendants (0: none), leaves first;
    names on a cycle keep what they had when it was found (a cycle has no true height)."""
    children = dict.fromkeys(parents, 0)
    for ps in parents.values():
        for p in ps:
            children[p] += 1
    height = dict.fromkeys(parents, 0)
    todo = deque(name for name, n in children.items() if n == 0)
    while todo:
        name = todo.popleft()
        for p in parents[name]:
            height[p] = max(height[p], height[name] + 1)
            children[p] -= 1
            if children[p] == 0:
                todo.append(p)
    return height

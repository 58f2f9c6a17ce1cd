"""A chat's messages as a tree: which branch is shown, and each message's versions.

Regenerate adds an answer beside the old one and Edit adds a prompt beside the
old one, so a message may have siblings: its *versions*. The chat keeps
``current_id``, the leaf of the branch the person last looked at; the branch
shown is the path from that leaf up to the root. Each message also has
``seen``, a counter raised when it joins the branch shown, so stepping back to
a version shows that version's continuation as the person left it (not merely
the newest one). Pure functions over ``(id, parent_id, seen)`` in creation
order, so the store, the importer and the tests share one definition and none
of them needs SQL to reason about it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict


class Versions(TypedDict):
    """Where a message sits among its siblings: ``ids[index]`` is the message itself."""

    index: int
    count: int
    ids: list[str]


class Tree:
    """Parent and children lookups over messages given oldest first."""

    def __init__(self, nodes: Iterable[tuple[str, str | None, int]]) -> None:
        self.order: list[str] = []
        self.parent: dict[str, str | None] = {}
        self.children: dict[str | None, list[str]] = {}
        self.rank: dict[str, tuple[int, int]] = {}
        for number, (message_id, parent_id, seen) in enumerate(nodes):
            self.order.append(message_id)
            self.parent[message_id] = parent_id
            self.rank[message_id] = (seen or 0, number)
        for message_id in self.order:
            parent_id = self.parent[message_id]
            if parent_id is not None and parent_id not in self.parent:
                # A dangling link (a row written by hand): treat it as a first message
                # rather than hide it.
                parent_id = self.parent[message_id] = None
            self.children.setdefault(parent_id, []).append(message_id)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.parent

    def preferred(self, parent_id: str | None) -> str | None:
        """The child shown last (highest ``seen``; the newest among equals)."""
        kids = self.children.get(parent_id)
        return max(kids, key=self.rank.__getitem__) if kids else None

    def leaf_of(self, start: str | None) -> str | None:
        """Follow the child shown last down from ``start`` (``None``: from the roots).

        Switching to a version shows it with the continuation the person last
        saw under it; one never shown continues with its newest messages.
        """
        current = start
        visited: set[str | None] = set()
        while current not in visited:
            visited.add(current)
            child = self.preferred(current)
            if child is None:
                break
            current = child
        return current

    def unpreferred(self, path: Iterable[str]) -> list[str]:
        """Messages of ``path`` that ``leaf_of`` would not choose: to mark as seen.

        Appending to the branch shown finds none (only the new message), so
        saving a chat stays one small UPDATE however long it is.
        """
        return [
            message_id
            for message_id in path
            if self.preferred(self.parent[message_id]) != message_id
        ]

    def resolve(self, current_id: str | None) -> str | None:
        """The leaf to show: the stored one when it still exists, else the newest message's."""
        if current_id is not None and current_id in self:
            return self.leaf_of(current_id)
        if not self.order:
            return None
        return self.leaf_of(self.order[-1])

    def branch(self, leaf: str | None) -> list[str]:
        """Ids from the root down to ``leaf``: the conversation as the model saw it."""
        path: list[str] = []
        seen: set[str] = set()
        current = leaf
        while current is not None and current not in seen:
            seen.add(current)
            path.append(current)
            current = self.parent.get(current)
        return path[::-1]

    def versions(self, message_id: str) -> Versions:
        siblings = self.children.get(self.parent.get(message_id), [message_id])
        ids = list(siblings) if message_id in siblings else [message_id]
        return {"index": ids.index(message_id), "count": len(ids), "ids": ids}


def link(
    messages: Sequence[dict[str, Any]], current_id: str | None, new_id: Callable[[], str]
) -> tuple[list[dict[str, Any]], str | None]:
    """Give each incoming message an id, a parent and ``seen``; returns them and the leaf.

    A message without a ``parent_id`` key follows the one before it, so a
    plain list (an old client, an old export) becomes one straight branch;
    ``parent_id: null`` starts a new root. ``validate.clean_messages`` has
    already checked that every named parent comes earlier in the list.
    """
    linked: list[dict[str, Any]] = []
    previous: str | None = None
    for message in messages:
        entry = dict(message)
        entry["id"] = entry.get("id") or new_id()
        if "parent_id" not in entry:
            entry["parent_id"] = previous
        linked.append(entry)
        previous = entry["id"]
    tree = Tree((entry["id"], entry["parent_id"], 0) for entry in linked)
    leaf = tree.resolve(current_id)
    shown = set(tree.branch(leaf))
    for entry in linked:
        entry["seen"] = 1 if entry["id"] in shown else 0
    return linked, leaf

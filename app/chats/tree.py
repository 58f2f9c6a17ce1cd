"""A chat's messages as a tree: which branch is shown, and each message's versions.

Regenerate adds an answer beside the old one and Edit adds a prompt beside the
old one, so a message may have siblings: its *versions*. The chat keeps
``current_id``, the leaf of the branch the person last looked at; the branch
shown is the path from that leaf up to the root. Pure functions over
``(id, parent_id)`` pairs in creation order, so the store, the importer and
the tests share one definition and none of them needs SQL to reason about it.
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

    def __init__(self, nodes: Iterable[tuple[str, str | None]]) -> None:
        self.order: list[str] = []
        self.parent: dict[str, str | None] = {}
        self.children: dict[str | None, list[str]] = {}
        for message_id, parent_id in nodes:
            self.order.append(message_id)
            self.parent[message_id] = parent_id
        for message_id in self.order:
            parent_id = self.parent[message_id]
            if parent_id is not None and parent_id not in self.parent:
                # A dangling link (a row written by hand): treat it as a first message
                # rather than hide it.
                parent_id = self.parent[message_id] = None
            self.children.setdefault(parent_id, []).append(message_id)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.parent

    def leaf_of(self, start: str | None) -> str | None:
        """Follow the newest child down from ``start`` (``None``: from the newest root).

        Switching to a version shows that version with its latest continuation,
        the way the person most recently left it.
        """
        current = start
        seen: set[str | None] = set()
        while current not in seen:
            seen.add(current)
            kids = self.children.get(current)
            if not kids:
                break
            current = kids[-1]
        return current

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
    """Give each message of an incoming list an id and a parent; returns them and the leaf.

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
    tree = Tree((entry["id"], entry["parent_id"]) for entry in linked)
    return linked, tree.resolve(current_id)

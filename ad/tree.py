"""Pytrees: nested tuples, lists and dicts of arrays, flattened to a list of leaves and back.

None is an empty subtree (no leaves, rebuilt as None), as in JAX. Dict keys are visited in
sorted order, so two dicts with the same keys flatten alike whatever their insertion order.
"""

from __future__ import annotations

import functools

LEAF = "*"


class Treedef:
    """The structure of a pytree; ``treedef(leaves)`` rebuilds the tree around new leaves."""

    __slots__ = ("kind", "keys", "children", "size", "flat")

    def __init__(self, kind, keys: tuple = (), children: tuple = ()):
        self.kind = kind  # LEAF, None, dict, or the tuple/list type
        self.keys = keys
        self.children = children
        # flat: a tuple or list of leaves, rebuilt in one call (the transforms' common case)
        self.size, self.flat = (1, False) if kind is LEAF else (0, kind is tuple or kind is list)
        for c in children:
            self.size += c.size
            self.flat = self.flat and c.kind is LEAF

    def __call__(self, leaves):
        leaves = list(leaves)
        if len(leaves) != self.size:
            raise ValueError(f"a pytree {self} has {self.size} leaves; got {len(leaves)}")
        if self.kind is LEAF:
            return leaves[0]
        if self.flat:
            return leaves if self.kind is list else tuple(leaves)
        return self._build(iter(leaves))

    def _build(self, leaves):
        if self.kind is LEAF:
            return next(leaves)
        if self.kind is None:
            return None
        parts = [c._build(leaves) for c in self.children]
        if self.kind is dict:
            return dict(zip(self.keys, parts))
        if hasattr(self.kind, "_fields"):  # a namedtuple takes its fields positionally
            return self.kind(*parts)
        return self.kind(parts)

    def __eq__(self, other):
        return isinstance(other, Treedef) and (self.kind, self.keys, self.children) == (
            other.kind,
            other.keys,
            other.children,
        )

    def __hash__(self):
        return hash((self.kind, self.keys, self.children))

    def __repr__(self):
        if self.kind is LEAF:
            return LEAF
        if self.kind is None:
            return "None"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.keys, self.children)) + "}"
        inner = ", ".join(map(repr, self.children))
        if self.kind is list:
            return f"[{inner}]"
        if self.kind is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        return f"{self.kind.__name__}({inner})"


def flatten(tree) -> tuple[list, Treedef]:
    """The leaves of tree in a fixed order, and its structure (which rebuilds it from new leaves)."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves: list) -> Treedef:
    if tree is None:
        return _NONE
    if isinstance(tree, tuple | list):
        kind = type(tree)
        if kind is tuple or kind is list:
            for x in tree:
                if x is None or isinstance(x, _NODES):
                    break
            else:  # a tuple or list of leaves: the transforms' arguments, mostly
                leaves.extend(tree)
                return _flat(kind, len(tree))
        return Treedef(kind, (), tuple([_flatten(x, leaves) for x in tree]))
    if isinstance(tree, dict):
        try:
            keys = tuple(sorted(tree))
        except TypeError:
            raise TypeError(
                f"a dict in a pytree needs sortable keys (all str, or all numbers); got {list(tree)!r}"
            ) from None
        return Treedef(dict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    leaves.append(tree)
    return _LEAF


# Shared, as every Treedef is immutable: a leaf, a None, or a tuple or list of n leaves is the
# same structure everywhere.
_NODES = (tuple, list, dict)
_LEAF = Treedef(LEAF)
_NONE = Treedef(None)


@functools.lru_cache(maxsize=64)
def _flat(kind: type, n: int) -> Treedef:
    return Treedef(kind, (), (_LEAF,) * n)

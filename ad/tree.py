"""Pytrees: nested tuples, lists and dicts of arrays, flattened to a list of leaves and back.

None is an empty subtree (no leaves, rebuilt as None), as in JAX. Dict keys are visited in
sorted order, so two dicts with the same keys flatten alike whatever their insertion order.
As in JAX, an OrderedDict keeps its own order (two orders are two structures) and comes back
an OrderedDict; a defaultdict comes back a defaultdict with its default factory. Any other
dict subclass is taken as a dict and comes back a plain dict.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict

LEAF = "*"


class Treedef:
    """The structure of a pytree; ``treedef(leaves)`` rebuilds the tree around new leaves."""

    __slots__ = ("kind", "keys", "children", "size", "flat", "factory")

    def __init__(self, kind, keys: tuple = (), children: tuple = (), factory=None):
        self.kind = kind  # LEAF, None, dict, OrderedDict, defaultdict, or the tuple/list type
        self.factory = factory  # a defaultdict's default_factory
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
        if self.kind is dict or self.kind is OrderedDict:
            return self.kind(zip(self.keys, parts))
        if self.kind is defaultdict:
            return defaultdict(self.factory, zip(self.keys, parts))
        if hasattr(self.kind, "_fields"):  # a namedtuple takes its fields positionally
            return self.kind(*parts)
        return self.kind(parts)

    def __eq__(self, other):
        return isinstance(other, Treedef) and (self.kind, self.keys, self.children, self.factory) == (
            other.kind,
            other.keys,
            other.children,
            other.factory,
        )

    def __hash__(self):
        return hash((self.kind, self.keys, self.children, self.factory))

    def __repr__(self):
        if self.kind is LEAF:
            return LEAF
        if self.kind is None:
            return "None"
        if self.kind in DICTS:
            inner = "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.keys, self.children)) + "}"
            return inner if self.kind is dict else f"{self.kind.__name__}({inner})"
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
        kind = type(tree) if type(tree) in DICTS else dict  # another subclass: a plain dict
        if kind is OrderedDict:
            keys = tuple(tree)
        else:
            try:
                keys = tuple(sorted(tree))
            except TypeError:
                raise TypeError(
                    f"a dict in a pytree needs sortable keys (all str, or all numbers); got {list(tree)!r}"
                ) from None
        factory = tree.default_factory if kind is defaultdict else None
        return Treedef(kind, keys, tuple(_flatten(tree[k], leaves) for k in keys), factory)
    leaves.append(tree)
    return _LEAF


# Shared, as every Treedef is immutable: a leaf, a None, or a tuple or list of n leaves is the
# same structure everywhere.
_NODES = (tuple, list, dict)
DICTS = (dict, OrderedDict, defaultdict)  # the dict kinds a Treedef keeps and rebuilds
_LEAF = Treedef(LEAF)
_NONE = Treedef(None)


@functools.lru_cache(maxsize=64)
def _flat(kind: type, n: int) -> Treedef:
    return Treedef(kind, (), (_LEAF,) * n)

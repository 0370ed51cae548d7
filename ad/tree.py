"""Pytrees: nested tuples, lists and dicts of arrays, flattened to a list of leaves and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def flatten(tree) -> tuple[list, Callable[[list], Any]]:
    """Leaves in a fixed order, and a function that rebuilds the tree from new leaves."""
    if isinstance(tree, tuple | list):
        parts = [flatten(x) for x in tree]
        sizes = [len(leaves) for leaves, _ in parts]
        kind = type(tree)

        def unflatten(leaves):
            out, i = [], 0
            for (_, rebuild), n in zip(parts, sizes):
                out.append(rebuild(leaves[i : i + n]))
                i += n
            return kind(out)

        return [leaf for leaves, _ in parts for leaf in leaves], unflatten
    if isinstance(tree, dict):
        keys = sorted(tree)
        leaves, rebuild = flatten([tree[k] for k in keys])
        return leaves, lambda new: dict(zip(keys, rebuild(new)))
    return [tree], lambda new: new[0]

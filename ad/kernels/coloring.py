"""Greedy graph coloring for sparse Jacobians and Hessians: distance-1 and star coloring, smallest-last order.

A graph is its adjacency in CSR form (indptr, indices), symmetric, without self-loops; colors
are 0, 1, 2, ... Each kernel is a plain loop: its twin is the same function run by Python
(greedy coloring is sequential, so NumPy has nothing to vectorise), and the kernels are what
runs, since at 1e4 vertices the twins take seconds where numba takes milliseconds.
"""

from __future__ import annotations

import numpy as np

from ad.kernels import jit


def greedy_twin(indptr, indices, order):
    """Distance-1 coloring: each vertex, in order, takes the smallest color no neighbor has."""
    n = order.size
    color = np.full(n, -1, np.int64)
    forbidden = np.full(n + 1, -1, np.int64)  # forbidden[c] == v: color c is taken near v
    for v in order:
        for p in range(indptr[v], indptr[v + 1]):
            c = color[indices[p]]
            if c >= 0:
                forbidden[c] = v
        c = 0
        while forbidden[c] == v:
            c += 1
        color[v] = c
    return color


def star_twin(indptr, indices, order):
    """Star coloring: distance-1, and no path on four vertices in two colors (so every two-colored
    component is a star, which is what lets a symmetric matrix be read back from H S).

    Coloring v last in a path p1-p2-p3-p4 two-colored as v's would be, v is an end (v-w-x-y with
    color(y) = color(w): x's color is forbidden) or inside (x-w-v-w' with color(w') = color(w):
    x's color is forbidden too). Checking both for every colored w next to v and x next to w
    covers every such path when its last vertex is colored."""
    n = order.size
    color = np.full(n, -1, np.int64)
    forbidden = np.full(n + 1, -1, np.int64)
    count = np.zeros(n + 1, np.int64)  # colors among v's colored neighbors
    for v in order:
        for p in range(indptr[v], indptr[v + 1]):
            c = color[indices[p]]
            if c >= 0:
                forbidden[c] = v
                count[c] += 1
        for p in range(indptr[v], indptr[v + 1]):
            w = indices[p]
            cw = color[w]
            if cw < 0:
                continue
            for q in range(indptr[w], indptr[w + 1]):
                x = indices[q]
                cx = color[x]
                if x == v or cx < 0 or forbidden[cx] == v:
                    continue
                if count[cw] >= 2:  # v inside: another neighbor of v shares w's color
                    forbidden[cx] = v
                    continue
                for r in range(indptr[x], indptr[x + 1]):  # v at an end: x has another cw neighbor
                    y = indices[r]
                    if y != w and color[y] == cw:
                        forbidden[cx] = v
                        break
        for p in range(indptr[v], indptr[v + 1]):
            c = color[indices[p]]
            if c >= 0:
                count[c] = 0
        c = 0
        while forbidden[c] == v:
            c += 1
        color[v] = c
    return color


def smallest_last_twin(indptr, indices):
    """Smallest-last order: repeatedly remove a vertex of least remaining degree; color in the
    reverse of the removals (Matula and Beck), with degree buckets as linked lists."""
    n = indptr.size - 1
    degree = np.empty(n, np.int64)
    for v in range(n):
        degree[v] = indptr[v + 1] - indptr[v]
    top = 0
    for v in range(n):
        top = max(top, degree[v])
    head = np.full(top + 1, -1, np.int64)
    nxt = np.full(n, -1, np.int64)
    prv = np.full(n, -1, np.int64)
    for v in range(n):
        d = degree[v]
        nxt[v] = head[d]
        if head[d] >= 0:
            prv[head[d]] = v
        head[d] = v
    removed = np.zeros(n, np.bool_)
    order = np.empty(n, np.int64)
    low = 0
    for k in range(n - 1, -1, -1):
        while head[low] < 0:
            low += 1
        v = head[low]
        head[low] = nxt[v]  # unlink v, the head of its bucket
        if nxt[v] >= 0:
            prv[nxt[v]] = -1
        removed[v] = True
        order[k] = v
        for p in range(indptr[v], indptr[v + 1]):
            w = indices[p]
            if removed[w]:
                continue
            d = degree[w]  # move w from bucket d to d - 1
            if prv[w] >= 0:
                nxt[prv[w]] = nxt[w]
            else:
                head[d] = nxt[w]
            if nxt[w] >= 0:
                prv[nxt[w]] = prv[w]
            degree[w] = d - 1
            prv[w] = -1
            nxt[w] = head[d - 1]
            if head[d - 1] >= 0:
                prv[head[d - 1]] = w
            head[d - 1] = w
            if d - 1 < low:
                low = d - 1
    return order


greedy = jit(greedy_twin)
star = jit(star_twin)
smallest_last = jit(smallest_last_twin)

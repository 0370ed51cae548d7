"""Backward's entry, in PyTorch's convention: seeds, inputs= targets, hooks, engine.run_backward."""

from __future__ import annotations

import numpy as np

from ad.reverse import engine
from ad.reverse.grad_mode import _grad_mode
from ad.reverse.graph import Sweep
from ad.trace import Box, is_complex, raw


def _refuse_traced_gradient(v, t):
    """backward(gradient=v) with v from another level: a constant is fine, a traced v is not
    (its derivative would be dropped without a word)."""
    if type(v) is Tensor and not v.requires_grad and not isinstance(v._data, Box):
        return
    raise TypeError(
        f"backward(gradient=v): v is traced at another level ({v.mode} mode) than the Tensor "
        "it is the cotangent of, and its derivative would be dropped. Pass v.detach() (or its "
        "plain value) to use it as a constant, or differentiate inside one transform "
        "(ad.vjp(f, x)[1](v) takes a traced v)"
    )


def pull(outputs, gradients, *, retain_graph, create_graph, inputs=None, returns=False, who="backward()"):
    """One reverse sweep in PyTorch's convention from the outputs (Tensors), each seeded with
    its gradient (None: 1 for a real scalar). Without inputs every leaf accumulates into its
    .grad. With inputs (a Tensor or a sequence of them) the sweep runs only what leads to
    them: they accumulate (a non-leaf among them is marked retain_grad), or, with
    ``returns``, their gradients are returned (None for one that none reaches) and nothing
    is accumulated; the outputs on the way that retain_grad still get theirs."""
    roots, seeds = [], []
    level = outputs[0].level
    for i, (t, gradient) in enumerate(zip(outputs, gradients)):
        root = edge(t)
        if root is None:
            raise RuntimeError(
                _NOT_IN_GRAPH
                if who == "backward()"
                else f"{who}: output {i} does not require grad: none of the leaves it was computed "
                "from has requires_grad=True, so it has no gradient"
            )
        if t.level != level:
            raise RuntimeError(
                f"{who}: the outputs belong to different transforms; differentiate each on its own"
            )
        roots.append(root)
        seeds.append(_seed(t, gradient, create_graph))
    only = None if inputs is None else _targets(inputs, who, returns)
    found = _sweep(roots, seeds, level, retain_graph, create_graph, only, returns)
    if returns:  # the sweep's cotangents, in PyTorch's convention as a leaf's .grad is
        return [np.conj(g) if g is not None and is_complex(g) else g for g in found]
    return None


_NOT_IN_GRAPH = (
    "backward() on a Tensor that does not require grad: none of the leaves it was "
    "computed from has requires_grad=True"
)


def _sweep(roots, seeds, level, retain_graph, create_graph, only, returns):
    """run_backward in PyTorch's convention, from roots seeded with seeds; only: the edges of
    a selective sweep, whose cotangents it returns if `returns`."""
    retain = create_graph if retain_graph is None else retain_graph
    sweep = Sweep(
        create_graph=create_graph,
        conjugate=True,
        rebuild=lambda value, history, counter: _rebuilt(value, level, history, counter),
    )
    with _grad_mode(create_graph):
        return engine.run_backward(
            roots, seeds, retain_graph=retain, sweep=sweep, inputs=only if returns else None, only=only
        )


def _targets(inputs, who, returns):
    """The edges of the Tensors named by inputs= (checked); for backward (not `returns`), a
    non-leaf among them is marked retain_grad, as PyTorch marks it, to receive its .grad."""
    inputs = tensors(inputs, f"{who}: inputs")
    if not inputs:
        raise RuntimeError(
            f"{who}: inputs is empty; name the Tensors whose gradients to compute, or leave it out"
            + ("" if returns else " to accumulate into every leaf")
        )
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(
                f"{who}: inputs[{i}] does not require grad, so it has no gradient; name a leaf "
                "made with requires_grad=True, or a Tensor computed from one"
            )
    if not returns:
        for t in inputs:
            if t.grad_fn is not None:
                t.retain_grad()
    return [edge(t) for t in inputs]


def _seed(t, gradient, create_graph):
    """The root cotangent of t: its gradient= checked, or 1 for a real scalar."""
    if gradient is None:
        if t.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this one has "
                f"shape {t.shape}: pass gradient=v of that shape to compute v^T J, or "
                "reduce first, e.g. y.sum().backward()"
            )
        if t.dtype.kind == "c":
            raise RuntimeError(
                "grad can be implicitly created only for real scalar outputs; this one is "
                f"{t.dtype}: pass gradient=..., or backpropagate a real loss (e.g. abs(y)**2)"
            )
        gradient = np.ones(t.shape, dtype=t.dtype)
        return _new(gradient, t.level, [0]) if create_graph else gradient
    # under create_graph a gradient that requires grad is differentiated too, as in
    # PyTorch: it is the root cotangent itself, history and all
    if isinstance(gradient, Box) and not (type(gradient) is Tensor and gradient.level == t.level):
        _refuse_traced_gradient(gradient, t)
    if create_graph and type(gradient) is Tensor and gradient.requires_grad:
        carried = gradient
    else:
        carried = None
    gradient = raw(gradient) if isinstance(gradient, Tensor) else np.asarray(gradient)
    if gradient.shape != t.shape:
        raise RuntimeError(
            f"backward(gradient=...): gradient has shape {gradient.shape} but the "
            f"Tensor has shape {t.shape}; pass one of the Tensor's shape"
        )
    if not create_graph:
        return gradient
    return _new(gradient, t.level, [0]) if carried is None or carried.level != t.level else carried


def tensors(value, what: str) -> list:
    """A Tensor or a sequence of Tensors, as a list (PyTorch's arguments take either)."""
    if type(value) is Tensor:
        return [value]
    if not isinstance(value, list | tuple):
        raise TypeError(f"{what} must be a Tensor or a sequence of Tensors; got {type(value).__name__}")
    for i, t in enumerate(value):
        if type(t) is not Tensor:
            raise TypeError(f"{what}[{i}] is a {type(t).__name__}, not a Tensor; wrap it: ad.tensor(...)")
    return list(value)


def _hook_call(hook, t):
    """hook(grad) as the sweep calls it: (ct, sweep) -> ct. The hook sees the cotangent as
    a read-only Tensor (`_hook_argument`), or None for an output of a node that ran which no
    use reached (as PyTorch's). What it returns must have the gradient's shape and dtype."""
    level, shape, dtype = t.level, t.shape, t.dtype
    name = getattr(hook, "__qualname__", None) or repr(hook)

    def call(ct, sweep):
        if ct is not None and dtype.kind == "f":
            given = _dtype(raw(ct))
            if given != dtype and given.kind == "f":  # a rule that promoted: in t's dtype, as
                ct = ct.astype(dtype)  # PyTorch casts each gradient to its input's dtype
        g = None if ct is None else _hook_argument(ct, level)
        out = hook(g)
        if out is None:
            return ct
        if type(out) is Tensor:
            # history is kept where the sweep records (create_graph) or runs on traced values
            value = out if out._requires_grad and (sweep.create_graph or type(ct) is Tensor) else out._data
        elif isinstance(out, np.ndarray | np.generic):
            value = out
        else:
            raise TypeError(
                f"hook {name!r} returned a {type(out).__name__}; return a Tensor (or a NumPy "
                "array) of the gradient's shape and dtype, or None to leave the gradient as it is"
            )
        want = (shape, dtype) if ct is None else (np.shape(raw(ct)), _dtype(raw(ct)))
        got = (np.shape(raw(value)), _dtype(raw(value)))
        if got[0] != want[0]:
            raise RuntimeError(
                f"hook {name!r} has changed the size of value: it returned shape {got[0]} for a "
                f"gradient of shape {want[0]}; return one of the gradient's shape"
            )
        if got[1] != want[1]:
            raise RuntimeError(
                f"hook {name!r} has changed the type of value: it returned dtype {got[1]} for a "
                f"gradient of dtype {want[1]}; cast it back (.astype(np.{want[1]}))"
            )
        return value

    return call


def _hook_argument(ct, level) -> Tensor:
    """The cotangent ct as a hook receives it: a Tensor over a read-only view of its value,
    with ct's history when ct is a Tensor that carries one (create_graph, or a lower level's
    value under nested transforms). The sweep may hand one array to several uses of a value
    (add passes its cotangent to both operands), so a hook returns a new gradient and never
    writes into its argument, as PyTorch asks too: its counter, `_HOOKED`, lets an in-place
    op on it, or on a view of it, say so."""
    if type(ct) is not Tensor:
        return _new(_read_only(ct), level, _HOOKED)
    if ct._grad_fn is None and ct._requires_grad:
        return ct  # a leaf (gradient=v reaching the hook unchanged): a write into it is refused
    g = _new(_read_only(ct._data), ct.level, _HOOKED)
    g._grad_fn, g._output_nr, g._requires_grad = ct.grad_fn, ct._output_nr, ct._requires_grad
    return g


def _read_only(value):
    """A view of value that refuses writes (a 0-d array for a NumPy scalar); a value of another
    level as it is (a write into the Tensor holding it is refused by its counter)."""
    if isinstance(value, np.ndarray):
        view = value.view()
    elif isinstance(value, np.generic):
        view = np.array(value)
    else:
        return value
    view.flags.writeable = False
    return view


# The version counter of every Tensor a hook receives and of its views: never moved on,
# since every write into such a Tensor is refused
_HOOKED = [0]
_HOOKED_WRITE = (
    "a hook's gradient is read-only: the backward sweep may hand the same array to other uses "
    "of the value, which a write into it would change too. Return the new gradient instead "
    "(return g * 2, not g *= 2), or write into a copy (g = g.clone())"
)


# Imported after this module's own names, which tensor.py imports (record.py and tensor.py do
# the same), so any of the three can be imported first
from ad.reverse.record import _new, _rebuilt, edge  # noqa: E402
from ad.reverse.tensor import Tensor, _dtype  # noqa: E402

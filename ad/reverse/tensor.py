"""`Tensor`: an array with PyTorch's autograd metadata; ops on it record a backward graph."""

from __future__ import annotations

import threading
import warnings
import weakref

import numpy as np

from ad import registry, rules
from ad.reverse import engine
from ad.reverse.graph import (
    AccumulateGrad,
    CopySlices,
    OpNode,
    Sweep,
    reads,
    retain,
    shaped_nan,
    stand_in,
    stored_partials,
)
from ad.reverse.views import View
from ad.trace import EAGER_TENSOR, Box, apply, array_error, dispatch, raw


class _GradMode(threading.local):
    enabled = True  # each thread's own, on until no_grad() turns it off (PyTorch's grad mode)


_state = _GradMode()


def is_grad_enabled() -> bool:
    return _state.enabled


class _grad_mode:
    """Context manager setting whether ops record (a class: cheaper than a generator)."""

    __slots__ = ("enabled", "before")

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.before = is_grad_enabled()
        _state.enabled = self.enabled

    def __exit__(self, *exc):
        _state.enabled = self.before

    def __call__(self, f):  # also a decorator, like @torch.no_grad()
        def wrapped(*args, **kwargs):
            with _grad_mode(self.enabled):
                return f(*args, **kwargs)

        return wrapped


def no_grad():
    """Context manager: ops inside record nothing (PyTorch's torch.no_grad)."""
    return _grad_mode(False)


def enable_grad():
    return _grad_mode(True)


def _check_float(data, who):
    dt = _dtype(raw(data))
    if not rules.differentiable(dt):
        raise TypeError(
            f"{who}: only floating-point tensors can require gradients; got dtype {dt}. "
            "Create it from floats, e.g. ad.tensor(x, dtype=float) or x.astype(float)."
        )


class Tensor(Box):
    """An array, where it came from in the backward graph, and its gradient.

    ``_grad_fn``/``_output_nr`` name the node and output that produced it (None for a
    leaf); ``_vc`` is the version counter of its memory, shared with its views; ``_view``
    says which base it views and through which ops.
    """

    __slots__ = (
        "_data",
        "_requires_grad",
        "_grad_fn",
        "_output_nr",
        "_vc",
        "_grad",
        "_retains_grad",
        "_accumulator",
        "_view",
        "level",
        "__weakref__",
    )
    mode = "reverse"

    def __init__(self, data, requires_grad: bool = False, *, level: int = EAGER_TENSOR):
        if isinstance(data, Tensor) and data.level >= level:
            raise TypeError("Tensor(Tensor): use t.detach() or ad.tensor(t.numpy()) to copy a Tensor")
        if not isinstance(data, np.ndarray | np.generic | Box):
            data = np.asarray(data)
        _new(data, level, [0], self)
        if requires_grad:
            self.requires_grad = True

    # -- construction, sharing ----------------------------------------------------------
    @staticmethod
    def from_numpy(a: np.ndarray) -> Tensor:
        """A Tensor sharing memory with a: an in-place change through either is seen by both."""
        if not isinstance(a, np.ndarray):
            raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(a).__name__}")
        return Tensor(a)

    def numpy(self) -> np.ndarray:
        """The underlying array itself (shared memory, like torch's .numpy())."""
        if self.requires_grad:
            raise RuntimeError(
                "numpy() on a Tensor that requires grad would hide it from the tape; "
                "call t.detach().numpy() instead"
            )
        return _memory(self)

    def detach(self) -> Tensor:
        """The same memory and version counter, cut from the graph."""
        t = _new(_memory(self), self.level, self._vc)
        return t

    def clone(self) -> Tensor:
        return dispatch(np.copy, (self,))

    @property
    def _value(self):
        return self._data

    @property
    def data(self) -> np.ndarray:
        return self._data

    @property
    def _version(self) -> int:
        return self._vc[0]

    def __repr__(self):
        if self._grad_fn is not None:
            extra = f", grad_fn={self._grad_fn!r}"
        else:
            extra = ", requires_grad=True" if self._requires_grad else ""
        return f"tensor({raw(self._data)!r}{extra})"

    def __array__(self, dtype=None, copy=None):
        if self.level != EAGER_TENSOR:
            raise array_error(self)
        if self.requires_grad:
            raise TypeError(
                "converting a Tensor that requires grad to a NumPy array (np.asarray(t), "
                "np.array([t, ...]), out[i] = t into a plain array) would drop its derivative. To "
                "read its value, use t.detach().numpy(); to build an array that keeps the "
                "derivative, use np.stack([a, b]) or np.concatenate([...]), or ad.numpy.array(...) "
                "after `import ad.numpy as np`."
            )
        return np.asarray(raw(self._data), dtype=dtype)

    # -- autograd attributes -------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        if self._view is not None and self._view.version != self._vc[0]:
            _refresh_view(self)
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool):
        if self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad can only be set on leaf Tensors; this one was computed by "
                f"{self._grad_fn.name}. Use y.detach().requires_grad_() for a new leaf."
            )
        if value:
            _check_float(self._data, "requires_grad=True")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad_fn(self):
        if self._view is not None and self._view.version != self._vc[0]:
            _refresh_view(self)
        return self._grad_fn

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def grad(self):
        if self._grad_fn is not None and not self._retains_grad:
            warnings.warn(
                "reading .grad of a Tensor that is not a leaf: backward() does not fill it, so "
                "it is None. Call .retain_grad() on it before backward() to keep its gradient, "
                "or read .grad of the leaf it was computed from.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            value = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has shape {value.shape} but the Tensor has shape {self.shape}"
                )
        self._grad = value

    def retain_grad(self):
        """Keep .grad on this non-leaf after backward (leaves always get it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a Tensor that does not require grad")
        self._retains_grad = True
        if self._grad_fn is not None:
            retain(self._grad_fn, self._output_nr, self)

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False):
        """Accumulate d(gradient . self)/d(leaf) into every leaf's .grad (v^T J).

        With complex values the leaves receive PyTorch's conjugate Wirtinger gradient
        (for a real loss L of z = x + iy: dL/dx + i dL/dy).
        """
        root = edge(self)
        if root is None:
            raise RuntimeError(
                "backward() on a Tensor that does not require grad: none of the leaves it was "
                "computed from has requires_grad=True"
            )
        carried = None  # a gradient= that create_graph differentiates too
        if gradient is None:
            if self.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this one has "
                    f"shape {self.shape}: pass gradient=v of that shape to compute v^T J, or "
                    "reduce first, e.g. y.sum().backward()"
                )
            if self.dtype.kind == "c":
                raise RuntimeError(
                    "grad can be implicitly created only for real scalar outputs; this one is "
                    f"{self.dtype}: pass gradient=..., or backpropagate a real loss (e.g. abs(y)**2)"
                )
            gradient = np.ones(self.shape, dtype=self.dtype)
        else:
            # under create_graph a gradient that requires grad is differentiated too, as in
            # PyTorch: it is the root cotangent itself, history and all
            if isinstance(gradient, Box) and not (type(gradient) is Tensor and gradient.level == self.level):
                _refuse_traced_gradient(gradient, self)
            tracked = create_graph and type(gradient) is Tensor and gradient.requires_grad
            carried = gradient if tracked else None
            gradient = raw(gradient) if isinstance(gradient, Tensor) else np.asarray(gradient)
            if gradient.shape != self.shape:
                raise RuntimeError(
                    f"backward(gradient=...): gradient has shape {gradient.shape} but the "
                    f"Tensor has shape {self.shape}; pass one of the Tensor's shape"
                )
        retain = create_graph if retain_graph is None else retain_graph
        level = self.level
        if create_graph:
            gradient = _new(gradient, level, [0]) if carried is None or carried.level != level else carried
        sweep = Sweep(
            create_graph=create_graph,
            conjugate=True,
            rebuild=lambda value, history: _rebuilt(value, level, history),
        )
        with _grad_mode(create_graph):
            engine.run_backward([root], [gradient], retain_graph=retain, sweep=sweep)

    # -- in-place operations: same memory, version bumped, a new node for the new value ----
    def _inplace(self, func, *others):
        """self <- func(self, *others), written into self's memory.

        The new value gets a node of its own whose edges point at self's old history, which
        everything recorded earlier keeps. Through a view, the base's history records the
        write too (CopySlices), and so do other views of that base when next used.
        """
        view = self._view
        if is_grad_enabled():
            if self.grad_fn is None and self._requires_grad:
                raise RuntimeError(
                    "a leaf Tensor that requires grad is used in an in-place operation; do it "
                    "under `with ad.no_grad():` (e.g. a parameter update) or on a copy"
                )
            if view is not None and view.base._grad_fn is None and view.base._requires_grad:
                raise RuntimeError(
                    "a view of a leaf Tensor that requires grad is used in an in-place operation; "
                    "do it under `with ad.no_grad():`, or on a copy (x.clone()) of the leaf"
                )
        tracked = is_grad_enabled() and (
            self._requires_grad or any(type(o) is Tensor and o.requires_grad for o in others)
        )
        # The old value goes into the new node; copied, since the write below overwrites it.
        before = _new(self._data.copy() if tracked else self._data, self.level, [0])
        before._grad_fn, before._output_nr = self._grad_fn, self._output_nr
        before._requires_grad, before._accumulator = self._requires_grad, self._accumulator
        result = func(before, *others)
        if isinstance(result, Box) and result.level != self.level:
            raise RuntimeError(
                f"an in-place write would store a value traced by an enclosing transform ({result.mode} "
                f"mode) into a Tensor made outside it: that Tensor cannot hold the derivative, "
                "which would be lost. Build the value out of place (np.where, np.concatenate, "
                "ad.numpy.array) or start from a traced value (t = x * 0.0, then write into t)"
            )
        value = result._data if isinstance(result, Tensor) else result
        target, got = _dtype(self._data), _dtype(value)
        if not np.can_cast(got, target, "same_kind"):
            raise TypeError(
                f"in-place result of dtype {got} cannot be stored in a Tensor of dtype {target}; "
                "compute out of place (y = y * c) or convert first"
            )
        if isinstance(self._data, Box):  # a value of an inner level: that level writes (or refuses)
            self._data[...] = value
        elif isinstance(value, Box):
            raise RuntimeError(
                f"an in-place write would store a value traced by an inner transform ({value.mode} "
                "mode) into plain memory, losing its derivative: build the value out of place"
            )
        elif isinstance(self._data, np.ndarray):
            self._data[...] = value
        else:  # a computed numpy scalar has no memory to share: rebind it
            self._data = np.asarray(value, dtype=target)
        self._vc[0] += 1
        if not (isinstance(result, Tensor) and result._grad_fn is not None):
            return self
        if view is None:
            _set_history(self, result._grad_fn, result._output_nr)
        else:
            base = view.base
            _set_history(base, CopySlices(view, edge(base), (result._grad_fn, result._output_nr)), 0)
            _refresh_view(self)
        return self

    def __iadd__(self, o):
        return self._inplace(np.add, o)

    def __isub__(self, o):
        return self._inplace(np.subtract, o)

    def __imul__(self, o):
        return self._inplace(np.multiply, o)

    def __itruediv__(self, o):
        return self._inplace(np.true_divide, o)

    def __ipow__(self, o):
        return self._inplace(np.power, o)

    def add_(self, o):
        return self._inplace(np.add, o)

    def sub_(self, o):
        return self._inplace(np.subtract, o)

    def mul_(self, o):
        return self._inplace(np.multiply, o)

    def div_(self, o):
        return self._inplace(np.true_divide, o)

    # x[...] = new, not old * 0 + new: the new value keeps an edge to the old history (with
    # a zero cotangent), saves nothing (as PyTorch's copy_), and inf * 0 leaves no NaN.
    def zero_(self):
        return self._inplace(lambda x: _overwrite(x, 0.0))

    def fill_(self, value):
        return self._inplace(lambda x: _overwrite(x, value))

    def copy_(self, src):
        return self._inplace(_overwrite, src)

    def __setitem__(self, index, value):
        self._inplace(lambda x, v: _overwrite(x, v, index), value)

    # -- the engine ----------------------------------------------------------------------
    @classmethod
    def _process(cls, op, operands, params, level):
        primals, record, boxed = [], False, False
        for x in operands:
            if type(x) is Tensor and x.level == level:
                if x._view is not None and x._view.version != x._vc[0]:
                    _refresh_view(x)
                p = x._data
                record = record or x._requires_grad
            else:
                p = x
            boxed = boxed or isinstance(p, Box)
            primals.append(p)
        # Values of lower levels go through dispatch again; plain ones straight to NumPy.
        out = apply(op, primals, params) if boxed else op.impl(*primals, **params)
        multi = type(out) is tuple or type(out) is list
        outs = [_new(o, level, [0]) for o in out] if multi else [_new(out, level, [0])]
        if op.view:
            _mark_view(outs[0], operands[0], op, params, primals[0], level)
        if record and _state.enabled:
            _record(op, params, operands, primals, outs, level, multi)
        return type(out)(outs) if multi else outs[0]

    @staticmethod
    def _elementwise(op, operands, level):
        """_process and _record for the common case of an elementwise op called without
        options: every operand a Tensor of this level over a real array, or a real constant.
        No lower level to dispatch to, no complex rule to choose, one output: one pass over
        the operands, then the node.

        It repeats _record's steps (reads, guards, stand-ins) inline on purpose: one shared
        helper for both measured 8% slower on the eager scalar chain (hot_path.py, side by
        side). A change to what a node keeps is made in both places."""
        enabled = _state.enabled
        primals, edges, needs = [], [], []
        record = arrays = False
        for x in operands:
            if type(x) is Tensor:
                if x.level != level:
                    return NotImplemented
                if x._view is not None and x._view.version != x._vc[0]:
                    _refresh_view(x)
                p = x._data
                if type(p) is not np.float64:
                    if not isinstance(p, _ARRAYS) or p.dtype.kind == "c":
                        return NotImplemented
                    arrays = arrays or isinstance(p, np.ndarray)
                if x._grad_fn is not None:
                    e = (x._grad_fn, x._output_nr)
                elif x._requires_grad and enabled:
                    e = _leaf_edge(x)
                else:
                    e = None
            elif type(x) is float or type(x) is int:
                p, e = x, None
            elif isinstance(x, _ARRAYS) and x.dtype.kind != "c":
                p, e = x, None
                arrays = arrays or isinstance(x, np.ndarray)
            else:
                return NotImplemented
            primals.append(p)
            edges.append(e)
            if e is None:
                needs.append(False)
            else:
                needs.append(True)
                record = True
        # Scalars only: an ndarray subclass may give an operator another meaning (np.matrix's *)
        out = op.impl(*primals) if arrays or op.scalar is None else op.scalar(*primals)
        if type(out) is tuple:
            return NotImplemented
        t = _new(out, level, [0])
        if not (record and enabled):
            return t
        needs = tuple(needs)
        read_in, read_out = reads(op, needs)
        guards = []
        i = 0
        for x in operands:
            if read_in[i] and type(x) is Tensor:
                guards.append((x._vc, x._vc[0], i))
            i += 1
        if read_out:
            guards.append((t._vc, 0, i))
        if type(out) is np.float64:
            # Scalars: every value kept as itself (a stand-in would cost more than it saves),
            # and the partials that cost nothing to keep, for a one-multiply VJP.
            stored = stored_partials(op)
            partials = None
            if stored is not None:
                partials = []
                i = 0
                for d in stored:
                    if not needs[i]:
                        partials.append(None)
                    elif type(d) is float:
                        partials.append(d)
                    else:
                        partials.append(primals[d] if d < len(primals) else out)
                    i += 1
            t._grad_fn = OpNode(op, {}, tuple(edges), needs, primals, [out], guards, 0, partials)
        else:
            saved_in = []
            i = 0
            for p in primals:
                saved_in.append(p if read_in[i] else _stand_in(p))
                i += 1
            saved_out = [out] if read_out else [_stand_in(out)]
            t._grad_fn = OpNode(op, {}, tuple(edges), needs, saved_in, saved_out, guards, 0)
        t._requires_grad = True
        return t


_ARRAYS = (np.ndarray, np.generic)


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


def _overwrite(x, v, index=Ellipsis):
    """x with x[index] = v, out of place (the setitem op)."""
    return apply(registry.get("setitem"), (x, v), {"index": index})


def _memory(t):
    """t's array, to be shared: a NumPy scalar (NumPy's 0-d results) has no memory, so it
    becomes a 0-d array first, which in-place writes then update for every holder."""
    if isinstance(t._data, np.generic):
        t._data = np.asarray(t._data)
    return t._data


def _dtype(value) -> np.dtype:
    return value.dtype if hasattr(value, "dtype") else np.result_type(value)


def _new(data, level, counter, t=None) -> Tensor:
    """A Tensor for a value (the constructor's checks, skipped: this is the hot path), or
    t itself given those fields."""
    if t is None:
        t = object.__new__(Tensor)
    t._data, t.level, t._vc = data, level, counter
    t._grad_fn, t._output_nr, t._requires_grad = None, 0, False
    t._grad, t._retains_grad, t._accumulator, t._view = None, False, None, None
    return t


def edge(t):
    """Where t's cotangent goes: (node, output_nr) of what produced it, its leaf's
    AccumulateGrad, or None when nothing upstream requires grad."""
    if t._view is not None and t._view.version != t._vc[0]:
        _refresh_view(t)
    if t._grad_fn is not None:
        return (t._grad_fn, t._output_nr)
    if t._requires_grad:
        return _leaf_edge(t)
    return None


def _leaf_edge(t):
    """The edge into a leaf's AccumulateGrad, made on first use and shared while it lives."""
    acc = t._accumulator() if t._accumulator is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._accumulator = weakref.ref(acc)
    return (acc, 0)


def _record(op, params, operands, primals, outs, level, multi):
    """Append op to the graph: edges to its operands' producers, and what its VJP reads.
    (Operands of this level had their views refreshed by the caller.)"""
    edges, needs = [], []
    for x in operands:
        if type(x) is Tensor and x.level == level:
            if x._grad_fn is not None:
                edges.append((x._grad_fn, x._output_nr))
                needs.append(True)
                continue
            if x._requires_grad:
                edges.append(_leaf_edge(x))
                needs.append(True)
                continue
        edges.append(None)
        needs.append(False)
    needs = tuple(needs)
    read_in, read_out = reads(op, needs)
    saved_in, guards = [], []
    i = 0
    for p in primals:
        if read_in[i]:
            x = operands[i]
            # a Tensor, of this level or below (a constant here), is saved with its version
            if type(x) is Tensor:
                guards.append((x._vc, x._vc[0], i))
            saved_in.append(p)
        else:
            saved_in.append(_stand_in(p))
        i += 1
    if not multi:
        t = outs[0]
        if read_out:
            guards.append((t._vc, t._vc[0], i))
            saved_out = [t._data]
        else:
            saved_out = [_stand_in(t._data)]
        t._grad_fn = OpNode(op, params, tuple(edges), needs, saved_in, saved_out, guards, 0)
        t._requires_grad = True
        return
    if read_out:
        guards.extend((t._vc, t._vc[0], i + j) for j, t in enumerate(outs))
        saved_out = [t._data for t in outs]
    else:
        saved_out = [_stand_in(t._data) for t in outs]
    node = OpNode(op, params, tuple(edges), needs, saved_in, saved_out, guards, len(outs))
    for j, t in enumerate(outs):
        t._grad_fn, t._output_nr, t._requires_grad = node, j, True


def _stand_in(p):
    """What a node keeps of a value its VJP does not read: a shape-and-dtype stand-in for an
    array, the value itself for a constant (a number, a NumPy scalar: immutable and small)."""
    if type(p) is np.ndarray:
        return shaped_nan(p.shape, p.dtype)
    return p


def _set_history(t, node, output_nr):
    """t's value is now the output output_nr of node (after an in-place write); a retained
    gradient moves with it."""
    if t._retains_grad:
        if t._grad_fn is not None and t._grad_fn.retained is not None:
            t._grad_fn.retained.pop(t._output_nr, None)
        retain(node, output_nr, t)
    t._grad_fn, t._output_nr, t._requires_grad = node, output_nr, True


def _mark_view(out, x, op, params, primal, level):
    """Make out a view of x's base when NumPy returned a view of x's memory."""
    if not (
        type(x) is Tensor
        and x.level == level
        and isinstance(out._data, np.ndarray)
        and isinstance(primal, np.ndarray)
        and np.may_share_memory(out._data, primal)
    ):
        return
    step = (op, params, stand_in(primal), stand_in(out._data))
    if x._view is None:
        base, steps = x, (step,)
    else:
        base, steps = x._view.base, x._view.steps + (step,)
    out._vc = x._vc
    out._view = View(base, steps, x._vc[0])


def _refresh_view(v):
    """v's memory was written since its history was set: its value is now the base's,
    read through the view ops, so its history is those ops applied to the base's."""
    view = v._view
    view.version = v._vc[0]
    base_edge = edge(view.base)
    if base_edge is None:
        v._grad_fn, v._requires_grad = None, False
        return
    link = base_edge
    for op, params, x, y in view.steps:
        link = (OpNode(op, params, (link,), (True,), [x], [y], (), 0), 0)
    _set_history(v, link[0], 0)


def _rebuilt(value, level, history):
    """A saved value as a Tensor that leads back into the graph (for create_graph)."""
    t = _new(value, level, [0])
    t._requires_grad = True
    node, nr = history
    if type(node) is AccumulateGrad:
        t._accumulator = weakref.ref(node)
    else:
        t._grad_fn, t._output_nr = node, nr
    return t


def leaf(data, level: int) -> Tensor:
    """A leaf that requires grad at level (a transform's fresh level) over data a transform
    has checked already (an array of floats or complex numbers, or a value of a lower level):
    the constructor's checks, skipped."""
    t = _new(data, level, [0])
    t._requires_grad = True
    return t


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new leaf Tensor holding a copy of data (Python floats become float64)."""
    if isinstance(data, Tensor):
        data = raw(data)
    arr = np.array(data, dtype=dtype, copy=True)
    return Tensor(arr, requires_grad=requires_grad)


def from_numpy(a: np.ndarray) -> Tensor:
    """A leaf Tensor that shares memory with a."""
    return Tensor.from_numpy(a)

"""`Tensor`: an array with PyTorch's autograd metadata; ops on it record a backward graph."""

from __future__ import annotations

import threading
import warnings
import weakref
from types import MappingProxyType

import numpy as np

from ad import registry, rules
from ad.reverse import engine
from ad.reverse.graph import (
    STORES_ITSELF,
    AccumulateGrad,
    CopySlices,
    LeafHooks,
    OpNode,
    RemovableHandle,
    Sweep,
    _sequence,
    output_hooks,
    reads,
    retain,
    shaped_nan,
    stand_in,
    stored_partials,
    unretain,
)
from ad.reverse.views import View
from ad.trace import EAGER_TENSOR, Box, apply, array_error, dispatch, is_complex, matrix_error, raw


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


def recording(f, args):
    """f(*args) with ops recording whatever the caller's mode (a transform's own trace, as
    torch.func.grad records under no_grad): enable_grad without its context-manager object."""
    before = _state.enabled
    _state.enabled = True
    try:
        return f(*args)
    finally:
        _state.enabled = before


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
    _checks_levels = True

    def __init__(self, data, requires_grad: bool = False, *, level: int = EAGER_TENSOR):
        if isinstance(data, Tensor) and data.level >= level:
            raise TypeError("Tensor(Tensor): use t.detach() or ad.tensor(t.numpy()) to copy a Tensor")
        if not isinstance(data, np.ndarray | np.generic | Box):
            data = np.asarray(data)
        elif isinstance(data, np.matrix):
            raise matrix_error()
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

    # The array's own attributes, without Box's unwrapping through every level: each op's
    # parse reads them
    @property
    def shape(self):
        d = self._data
        return d.shape if type(d) is np.ndarray else Box.shape.fget(self)

    @property
    def ndim(self):
        d = self._data
        return d.ndim if type(d) is np.ndarray else Box.ndim.fget(self)

    @property
    def dtype(self):
        d = self._data
        return d.dtype if type(d) is np.ndarray else Box.dtype.fget(self)

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
            if value.dtype != self.dtype:  # backward adds into it, and would keep its dtype
                raise RuntimeError(
                    f"assigned grad has dtype {value.dtype} but the Tensor has dtype {self.dtype}: "
                    f"cast it first (g.astype(np.{self.dtype}))"
                )
        self._grad = value

    def retain_grad(self):
        """Keep .grad on this non-leaf after backward (leaves always get it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a Tensor that does not require grad")
        self._retains_grad = True
        if self._grad_fn is not None:
            retain(self._grad_fn, self._output_nr, self)

    def register_hook(self, hook) -> RemovableHandle:
        """Have backward call ``hook(grad)`` with this Tensor's gradient, the total of all its
        uses, once per sweep, before it flows on. A return value other than None replaces
        it: in what flows on, in what a leaf accumulates into .grad, in what retain_grad keeps.
        Several hooks run in the order registered. A non-leaf's hooks belong to the node
        that computed it: written in place later, the Tensor has a new node, and the hooks
        stay with the old value (PyTorch's rule). Returns a handle: ``handle.remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that doesn't require gradient: no gradient "
                "is computed for it. Register it on a leaf made with requires_grad=True, or on a "
                "Tensor computed from one"
            )
        if not callable(hook):
            raise TypeError(f"register_hook expects a function of the gradient; got {type(hook).__name__}")
        call = _hook_call(hook, self)
        node = self.grad_fn
        if node is not None:
            return output_hooks(node, self._output_nr).add(call)
        held = self._accumulator
        if type(held) is not LeafHooks:  # the leaf keeps its hooks; its AccumulateGrad runs them
            held = self._accumulator = LeafHooks(None if held is None else held())
        return held.retained[0].add(call)

    def backward(
        self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None
    ):
        """Accumulate d(gradient . self)/d(leaf) into every leaf's .grad (v^T J); with
        ``inputs`` (a Tensor or a sequence of them), into theirs alone, as PyTorch does: only
        what leads to them runs, and a non-leaf named there keeps its gradient in .grad
        (it is marked retain_grad).

        With complex values the leaves receive PyTorch's conjugate Wirtinger gradient
        (for a real loss L of z = x + iy: dL/dx + i dL/dy).
        """
        root = edge(self)
        if root is None:
            raise RuntimeError(_NOT_IN_GRAPH)
        seed = _seed(self, gradient, create_graph)
        only = None if inputs is None else _targets(inputs, "backward()", returns=False)
        _sweep([root], [seed], self.level, retain_graph, create_graph, only, False)

    # -- in-place operations: same memory, version bumped, a new node for the new value ----
    def _inplace(self, func, *others):
        """self <- func(self, *others), written into self's memory.

        The new value gets a node of its own whose edges point at self's old history, which
        everything recorded earlier keeps. Through a view, the base's history records the
        write too (CopySlices), and so do other views of that base when next used.
        """
        view = self._view
        tracked = False
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
            others_require_grad = any(type(o) is Tensor and o.requires_grad for o in others)
            if view is not None and view.cut is not None and (view.base.requires_grad or others_require_grad):
                raise RuntimeError(view.cut[1] + "it is written in place with grad mode on" + _CUT_VIEW_FIX)
            tracked = self._requires_grad or others_require_grad
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
        if np.shape(value) != np.shape(self._data):  # as NumPy's x op= y, which writes x's memory
            raise ValueError(
                f"in-place result of shape {np.shape(value)} cannot be stored in a Tensor of shape "
                f"{np.shape(self._data)} (NumPy: non-broadcastable output operand); compute out of "
                "place (y = y + w) or reduce w to y's shape first"
            )
        target, got = _dtype(self._data), _dtype(value)
        if not np.can_cast(got, target, "same_kind"):
            raise TypeError(
                f"in-place result of dtype {got} cannot be stored in a Tensor of dtype {target}; "
                "compute out of place (y = y * c) or convert first"
            )
        if isinstance(self._data, Box):  # a value of an inner level: that level writes (or refuses)
            if self._vc is _HOOKED:
                raise RuntimeError(_HOOKED_WRITE)
            self._data[...] = value
        elif isinstance(value, Box):
            raise RuntimeError(
                f"an in-place write would store a value traced by an inner transform ({value.mode} "
                "mode) into plain memory, losing its derivative: build the value out of place"
            )
        elif isinstance(self._data, np.ndarray):
            try:
                self._data[...] = value
            except ValueError:  # read-only memory: a hook's gradient is told apart by its counter
                if self._vc is _HOOKED:
                    raise RuntimeError(_HOOKED_WRITE) from None
                raise
        else:  # a computed numpy scalar has no memory to share: rebind it
            self._data = np.asarray(value, dtype=target)
        self._vc[0] += 1
        if not (isinstance(result, Tensor) and result._grad_fn is not None):
            if tracked:  # a non-differentiable op (//=): the new value is a constant, as out of place
                base_edge = None if view is None else edge(view.base)
                if view is None:
                    self._grad_fn, self._requires_grad = None, False
                elif base_edge is not None:
                    _set_history(view.base, CopySlices(view, base_edge, None), 0)
                    _refresh_view(self)
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

    def __ifloordiv__(self, o):
        return self._inplace(np.floor_divide, o)

    def __imod__(self, o):
        return self._inplace(np.remainder, o)

    def __imatmul__(self, o):
        return self._inplace(np.matmul, o)

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
        """op on operands, recorded when one of them requires grad: one pass over the
        operands (primals, edges to their producers), the primal, the new Tensors, and a node
        keeping what the op's VJP reads (its plan for this pattern of needed cotangents).

        The pass also checks what apply's level scan and complex check would (see
        Box._checks_levels): NotImplemented for an operand that is a box of a higher level
        than `level`, or for a complex value where the op has no complex rule."""
        enabled = _state.enabled
        real = not op.complex
        primals, edges = [], []
        needs, bit, boxed = 0, 1, False  # needs: bit i set when operand i needs a cotangent
        for x in operands:
            if type(x) is Tensor and x.level == level:
                if x._view is not None and x._view.version != x._vc[0]:
                    _refresh_view(x)
                p = x._data
                if x._grad_fn is not None:
                    edges.append((x._grad_fn, x._output_nr))
                    needs |= bit
                elif x._requires_grad and enabled:
                    edges.append(_leaf_edge(x))
                    needs |= bit
                else:
                    edges.append(None)
            else:
                p = x
                edges.append(None)
            if type(p) is np.ndarray:
                if real and p.dtype.kind == "c":
                    return NotImplemented
            elif isinstance(p, Box):  # an operand of another level, or a value of one in x
                if p is x and p.level > level or real and is_complex(p):
                    return NotImplemented
                boxed = True
            elif isinstance(p, np.matrix):
                raise matrix_error()
            elif real and type(p) is not float and is_complex(p):
                return NotImplemented
            primals.append(p)
            bit <<= 1
        # Values of lower levels go through dispatch again; plain ones straight to NumPy.
        out = apply(op, primals, params) if boxed else op.impl(*primals, **params)
        multi = type(out) is tuple or type(out) is list
        if multi:
            outs = [_new(o, level, [0]) for o in out]
            t = outs[0]
        else:  # _new's fields, inline: a call costs as much as half of them
            t = _alloc(Tensor)
            t._data = out
            t.level = level
            t._vc = [0]
            t._grad_fn = None
            t._output_nr = 0
            t._requires_grad = False
            t._grad = None
            t._retains_grad = False
            t._accumulator = None
            t._view = None
        if op.view:  # output j views operand j if there are as many, else operand 0 (Op.view)
            views = outs if multi else (t,)
            paired = len(views) == len(operands)
            for j, o in enumerate(views):
                i = j if paired else 0
                _mark_view(o, operands[i], op, params, primals[i], level, of_several=multi)
        if not (needs and enabled):
            return type(out)(outs) if multi else t
        needs, read, unread, read_out, n, _ = op.plans.get(needs | bit) or _plan(op, needs | bit)
        guards = ()  # a tuple: most nodes guard one value or none
        for i in read:
            x = operands[i]
            # a Tensor, of this level or below (a constant here), is saved with its version
            if type(x) is Tensor:
                guards += ((x._vc, x._vc[0], i),)
        # the primals list becomes the node's: a stand-in where the VJP reads no value
        saved_in = list(primals) if boxed else primals  # a lower level was handed the list
        for i in unread:
            p = saved_in[i]
            if type(p) is np.ndarray:
                s = _STAND_INS.get((p.shape, p.dtype))
                saved_in[i] = _stand_in(p) if s is None else s
        if not multi:
            if read_out:
                guards += ((t._vc, t._vc[0], n),)
                saved_out = [out]
            else:
                s = _STAND_INS.get((out.shape, out.dtype)) if type(out) is np.ndarray else out
                saved_out = [_stand_in(out) if s is None else s]
            # OpNode's fields, inline (see OpNode): its __init__ is a frame per recorded op
            t._grad_fn = node = _alloc(OpNode)
            node.seq = next(_sequence)
            node.op = op
            node.params = params
            node.next_edges = tuple(edges)
            node.needs = needs
            node.saved_in = saved_in
            node.saved_out = saved_out
            node.guards = guards
            node.num_outputs = 0
            node.partials = None
            node.retained = None
            t._requires_grad = True
            return t
        if read_out:
            guards += tuple((t._vc, t._vc[0], n + j) for j, t in enumerate(outs))
            saved_out = [t._data for t in outs]
        else:
            saved_out = [_stand_in(t._data) for t in outs]
        node = OpNode(op, params, tuple(edges), needs, saved_in, saved_out, guards, len(outs))
        for j, t in enumerate(outs):
            t._grad_fn, t._output_nr, t._requires_grad = node, j, True
        return type(out)(outs)

    @staticmethod
    def _elementwise(op, operands, level):
        """_process for the common case of an elementwise op of one or two operands called
        without options: every operand a Tensor of this level over a real array, or a real
        constant. No lower level to dispatch to, no complex rule to choose, one output: the
        operands checked one by one, then the node. Three operands or more take _process.

        It repeats _process's recording steps (guards, stand-ins) inline on purpose: one
        shared helper for both measured 8% slower on the eager scalar chain (hot_path.py,
        side by side), and each operand has a block of its own, where a loop over them,
        with its lists and counters, cost about 0.2 us of the 1.5 us of a recorded scalar
        op. A change to what a node keeps is made in both places."""
        if len(operands) == 2:
            a, b = operands
        elif len(operands) == 1:
            a, b = operands[0], _ABSENT
        else:
            return NotImplemented
        enabled = _state.enabled
        arrays = False
        if type(a) is Tensor:
            if a.level != level:
                return NotImplemented
            if a._view is not None and a._view.version != a._vc[0]:
                _refresh_view(a)
            pa = a._data
            if type(pa) is np.ndarray:
                if pa.dtype.kind == "c":
                    return NotImplemented
                arrays = True
            elif type(pa) is not np.float64:
                if not isinstance(pa, _ARRAYS) or pa.dtype.kind == "c":
                    return NotImplemented
                # an ndarray subclass computes by the ufunc: it may give its operators another
                # meaning
                arrays = isinstance(pa, np.ndarray)
            if a._grad_fn is not None:
                ea, needs = (a._grad_fn, a._output_nr), 1
            elif a._requires_grad and enabled:
                ea, needs = _leaf_edge(a), 1
            else:
                ea, needs = None, 0
        elif type(a) is float or type(a) is int:
            pa, ea, needs = a, None, 0
        elif isinstance(a, _ARRAYS) and a.dtype.kind != "c":
            if isinstance(a, np.matrix):
                raise matrix_error()
            pa, ea, needs = a, None, 0
            arrays = isinstance(a, np.ndarray)
        else:
            return NotImplemented
        if b is _ABSENT:
            # Scalars only: an ndarray subclass may give an operator another meaning (np.matrix's *)
            out = op.impl(pa) if arrays or op.scalar is None else op.scalar(pa)
            primals, edges, key = [pa], (ea,), needs | 2
        else:
            if type(b) is Tensor:
                if b.level != level:
                    return NotImplemented
                if b._view is not None and b._view.version != b._vc[0]:
                    _refresh_view(b)
                pb = b._data
                if type(pb) is np.ndarray:
                    if pb.dtype.kind == "c":
                        return NotImplemented
                    arrays = True
                elif type(pb) is not np.float64:
                    if not isinstance(pb, _ARRAYS) or pb.dtype.kind == "c":
                        return NotImplemented
                    # an ndarray subclass computes by the ufunc: it may give its operators
                    # another meaning
                    arrays = arrays or isinstance(pb, np.ndarray)
                if b._grad_fn is not None:
                    eb, needs = (b._grad_fn, b._output_nr), needs | 2
                elif b._requires_grad and enabled:
                    eb, needs = _leaf_edge(b), needs | 2
                else:
                    eb = None
            elif type(b) is float or type(b) is int:
                pb, eb = b, None
            elif isinstance(b, _ARRAYS) and b.dtype.kind != "c":
                if isinstance(b, np.matrix):
                    raise matrix_error()
                pb, eb = b, None
                arrays = arrays or isinstance(b, np.ndarray)
            else:
                return NotImplemented
            out = op.impl(pa, pb) if arrays or op.scalar is None else op.scalar(pa, pb)
            primals, edges, key = [pa, pb], (ea, eb), needs | 4
        if type(out) is tuple:
            return NotImplemented
        # _new's fields, inline: a call costs as much as half of them
        t = _alloc(Tensor)
        t._data = out
        t.level = level
        t._vc = [0]
        t._output_nr = 0
        t._grad = None
        t._retains_grad = False
        t._accumulator = None
        t._view = None
        if not (needs and enabled):
            t._grad_fn, t._requires_grad = None, False
            return t
        needs, read, unread, read_out, n, partials = op.plans.get(key) or _plan(op, key)
        guards = ()
        for i in read:
            x = operands[i]
            if type(x) is Tensor:
                guards += ((x._vc, x._vc[0], i),)
        if read_out:
            guards += ((t._vc, 0, n),)
        if type(out) is np.float64:
            # Scalars: every value kept as itself (a stand-in would cost more than it saves),
            # and the partials that cost nothing to keep, for a one-multiply VJP.
            if type(partials) is list:  # some partials are values, placed into a template
                kept = partials[0].copy()
                for j, d in partials[1]:
                    kept[j] = primals[d] if d < n else out
                partials = kept
            saved_out = [out]
        else:
            for i in unread:  # the primals list becomes the node's, with stand-ins
                p = primals[i]
                if type(p) is np.ndarray:
                    s = _STAND_INS.get((p.shape, p.dtype))
                    primals[i] = _stand_in(p) if s is None else s
            if read_out:
                saved_out = [out]
            else:
                s = _STAND_INS.get((out.shape, out.dtype)) if type(out) is np.ndarray else out
                saved_out = [_stand_in(out) if s is None else s]
            partials = None
        # OpNode's fields, inline (see OpNode): its __init__ is a frame per recorded op
        t._grad_fn = node = _alloc(OpNode)
        node.seq = next(_sequence)
        node.op = op
        node.params = _NO_PARAMS
        node.next_edges = edges
        node.needs = needs
        node.saved_in = primals
        node.saved_out = saved_out
        node.guards = guards
        node.num_outputs = 0
        node.partials = partials
        node.retained = None
        t._requires_grad = True
        return t


# Why a view is cut from its base's history (View.cut), as the errors that refuse it begin
_NO_GRAD = (
    "a view made under no_grad, of a Tensor in the graph, cannot follow it (make the view and "
    "the write both inside the no_grad block, where the write is not recorded, or both outside "
    "it, where it is): "
)
_OF_SEVERAL = (
    "a view that is one output of several (np.split's pieces, np.atleast_1d(a, b)) cannot follow "
    "its base (index the base instead: a basic slice is a view that can): "
)
_CUT_VIEW_FIX = (
    ". Whether the write should reach the gradient is ambiguous, and PyTorch refuses it too; "
    "or write into a copy (v.clone())"
)
_ARRAYS = (np.ndarray, np.generic)
_ABSENT = object()  # the second operand of a unary op, in Tensor._elementwise
# The params of every node _elementwise records (elementwise rules take none): one
# read-only mapping rather than a new dict per node, 2% of the eager scalar chain
_NO_PARAMS = MappingProxyType({})


def _plan(op, key):
    """How a Tensor records op when the operands whose bits are set in key need a cotangent
    (key's highest bit, 1 << n for n operands, marks where they end), worked out once per
    op and pattern and kept in op.plans, as the tuple (needs, read, unread, read_out, n,
    partials):
    - needs: one tuple of bools, shared by every node of the pattern;
    - read, unread: the indices of the operands the VJP reads (saved, guarded when they are
      Tensors) and of those it does not (stand-ins); read_out: whether it reads the output;
    - partials, for a node over scalars (graph.stored_partials): None when the VJP runs the
      rule; a tuple of numbers (None for an operand nothing differentiates) when every
      partial is a number, kept as is; else [template, ((j, i), ...)]: the template's copy
      with partial j the value of operand i, or of the output for i == n."""
    n = key.bit_length() - 1
    needs = tuple(bool(key >> i & 1) for i in range(n))
    read_in, read_out = reads(op, needs)
    read = tuple(i for i in range(n) if read_in[i])
    unread = tuple(i for i in range(n) if not read_in[i])
    partials = stored_partials(op)
    if partials is not None:
        partials = tuple(d if need else None for d, need in zip(partials, needs))
        values = tuple((j, d) for j, d in enumerate(partials) if d is not None and type(d) is not float)
        if values:
            partials = [[d if type(d) is float else None for d in partials], values]
    plan = op.plans[key] = (needs, read, unread, read_out, n, partials)
    return plan


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
        rebuild=lambda value, history: _rebuilt(value, level, history),
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


_alloc = object.__new__


def _new(data, level, counter, t=None) -> Tensor:
    """A Tensor for a value (the constructor's checks, skipped: this is the hot path), or
    t itself given those fields. Tensor._process and _elementwise set the same fields
    inline: a field added here is added there too. One statement a field, there as here:
    a tuple assignment of four fields or more builds a tuple and unpacks it, 30% dearer."""
    if t is None:
        t = _alloc(Tensor)
    t._data = data
    t.level = level
    t._vc = counter
    t._grad_fn = None
    t._output_nr = 0
    t._requires_grad = False
    t._grad = None
    t._retains_grad = False
    t._accumulator = None
    t._view = None
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
    held = t._accumulator  # None, a weak reference to its AccumulateGrad, or its LeafHooks
    acc = held() if held is not None else None
    if acc is None:  # AccumulateGrad's fields, inline (a transform's leaves are new each call)
        acc = _alloc(AccumulateGrad)
        acc.seq = next(_sequence)
        acc.variable = t
        acc.next_edges = ()
        if type(held) is LeafHooks:
            held.attach(acc)
        else:
            acc.retained = STORES_ITSELF
            t._accumulator = weakref.ref(acc)
    return (acc, 0)


def _stand_in(p):
    """What a node keeps of a value its VJP does not read: a shape-and-dtype stand-in for an
    array, the value itself for a constant (a number, a NumPy scalar: immutable and small)."""
    if type(p) is not np.ndarray:
        return p
    key = (p.shape, p.dtype)
    s = _STAND_INS.get(key)
    if s is None:
        if len(_STAND_INS) >= 1024:  # bounded, as shaped_nan's own cache is
            _STAND_INS.clear()
        s = _STAND_INS[key] = shaped_nan(p.shape, p.dtype)
    return s


# (shape, dtype) -> shaped_nan's stand-in: the recording paths read it inline, since a
# plain dict's lookup costs half of a call into shaped_nan's lru_cache
_STAND_INS: dict = {}


def _set_history(t, node, output_nr):
    """t's value is now the output output_nr of node (after an in-place write); a retained
    gradient moves with it."""
    if t._retains_grad:  # hooks stay with the old node, as in PyTorch
        unretain(t._grad_fn, t._output_nr)
        retain(node, output_nr, t)
    t._grad_fn, t._output_nr, t._requires_grad = node, output_nr, True


def _mark_view(out, x, op, params, primal, level, of_several=False):
    """Make out a view of x's base when NumPy returned a view of x's memory. A view made
    under no_grad, or as one output of several (of_several), is cut: see View."""
    if not (type(x) is Tensor and x.level == level):
        return
    # the arrays under any lower levels' values (a Tensor of the level below, nested): a
    # view there is a view here too
    a, b = raw(out._data), raw(primal)
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.may_share_memory(a, b)):
        return
    step = (op, params, stand_in(primal), stand_in(out._data))
    if x._view is None:
        base, steps, cut = x, (step,), None
    else:
        base, steps, cut = x._view.base, x._view.steps + (step,), x._view.cut
    if cut is None and of_several:
        cut = (base._grad_fn, _OF_SEVERAL)
    elif cut is None and not _state.enabled:
        cut = (base._grad_fn, _NO_GRAD)
    out._vc = x._vc
    out._view = View(base, steps, x._vc[0], cut)


def _refresh_view(v):
    """v's memory was written since its history was set: its value is now the base's,
    read through the view ops, so its history is those ops applied to the base's. A view
    cut from the graph (made under no_grad) stays cut, unless a recorded write has given
    its base a new history: then it has none it could take, and using it raises."""
    view = v._view
    if view.cut is not None and view.base._grad_fn is not view.cut[0]:
        raise RuntimeError(
            view.cut[1] + "its base, or another view of the base, was then written in place "
            "with grad mode on" + _CUT_VIEW_FIX
        )
    view.version = v._vc[0]
    if view.cut is not None:  # its own history stays
        return
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

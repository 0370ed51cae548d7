"""`Tensor`: PyTorch's API on an array (autograd attributes, backward, in-place writes); constructors."""

from __future__ import annotations

import warnings

import numpy as np

from ad import registry, rules
from ad.reverse.grad_mode import enable_grad as enable_grad  # importable from here too
from ad.reverse.grad_mode import is_grad_enabled
from ad.reverse.grad_mode import no_grad as no_grad  # importable from here too
from ad.reverse.graph import CopySlices, LeafHooks, RemovableHandle, output_hooks, retain, unretain
from ad.trace import (
    EAGER_TENSOR,
    Box,
    Rebinding,
    apply,
    array_error,
    dispatch,
    matrix_error,
    raw,
    refuse_aliased_write,
)


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

    def detach_(self) -> Tensor:
        """Cut from the graph in place (torch's detach_): self becomes a leaf that does not
        require grad, with the same memory and version counter. What was recorded from it
        keeps its edges to the old history."""
        if self._view is not None:
            raise RuntimeError(
                "Can't detach views in-place: a view's history follows its base's. Use v = v.detach() instead"
            )
        if self._retains_grad and self._grad_fn is not None:
            unretain(self._grad_fn, self._output_nr)
        self._grad_fn, self._output_nr, self._requires_grad = None, 0, False
        self._retains_grad = False
        return self

    def clone(self) -> Tensor:
        return dispatch(np.copy, (self,))

    @property
    def _value(self):
        return self._data

    @property
    def data(self) -> np.ndarray:
        """The array itself, outside the graph: a write through it is not counted by the
        version counter, as a write through PyTorch's .data is not (use it for updates that
        no saved value may notice, or write under no_grad() to have them checked)."""
        return self._data

    @data.setter
    def data(self, value):
        if value is self._data:  # t.data += v has written into the array already
            return
        raise AttributeError(
            "t.data = a would replace the Tensor's array, which its views and the values "
            "saved from it do not share; write into it instead: `with ad.no_grad(): t[...] = a` "
            "(counted by the version counter), or t.data[...] = a (not counted, as PyTorch's .data)"
        )

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
            if view is None and isinstance(self._data, Rebinding):
                # a value never written in place (forward mode's): this Tensor is given the new
                # one, unless another live value shares the old one's memory
                refuse_aliased_write(self._data, "op")
                self._data = value
            else:
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

    def add_(self, o, *, alpha=1):
        """self += alpha * o (torch's add_: p.add_(p.grad, alpha=-lr))."""
        return self._inplace(np.add, o if alpha == 1 else o * alpha)

    def sub_(self, o, *, alpha=1):
        """self -= alpha * o."""
        return self._inplace(np.subtract, o if alpha == 1 else o * alpha)

    def mul_(self, o):
        return self._inplace(np.multiply, o)

    def div_(self, o):
        return self._inplace(np.true_divide, o)

    def clamp_(self, min=None, max=None):
        """self <- np.clip(self, min, max) (torch's clamp_: weight clipping under no_grad)."""
        if min is None and max is None:
            raise ValueError("clamp_ needs a bound: pass min, max, or both")
        return self._inplace(np.clip, min, max)

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


# Imported after the class, which backward.py and record.py import (they do the same), so any
# of the three can be imported first
from ad.reverse.backward import (  # noqa: E402
    _HOOKED,
    _HOOKED_WRITE,
    _NOT_IN_GRAPH,
    _hook_call,
    _seed,
    _sweep,
    _targets,
)
from ad.reverse.record import (  # noqa: E402
    _CUT_VIEW_FIX,
    _elementwise,
    _new,
    _process,
    _refresh_view,
    _set_history,
    edge,
)

# What Box's dispatch calls to record an op on Tensors (record.py)
Tensor._process = classmethod(_process)
Tensor._elementwise = staticmethod(_elementwise)

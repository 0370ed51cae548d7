"""`Tensor`: a value that records the ops applied to it, with PyTorch's autograd semantics."""

from __future__ import annotations

import threading

import numpy as np

from ad.reverse import tape
from ad.trace import EAGER_TENSOR, Box, apply, dispatch, raw

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


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
    dt = np.result_type(raw(data))
    if not np.issubdtype(dt, np.inexact):
        raise TypeError(
            f"{who}: only floating-point tensors can require gradients; got dtype {dt}. "
            "Create it from floats, e.g. ad.tensor(x, dtype=float) or x.astype(float)."
        )


class Tensor(Box):
    """An array, the node that produced it (None for a leaf), and its gradient."""

    __slots__ = (
        "_data",
        "_requires_grad",
        "_node",
        "_index",
        "_vc",
        "_grad",
        "_retains_grad",
        "level",
        "__weakref__",
    )
    mode = "reverse"

    def __init__(self, data, requires_grad: bool = False, *, level: int = EAGER_TENSOR, _vc=None):
        if isinstance(data, Tensor) and data.level >= level:
            raise TypeError("Tensor(Tensor): use t.detach() or ad.tensor(t.numpy()) to copy a Tensor")
        if not isinstance(data, np.ndarray | np.generic | Box):
            data = np.asarray(data)
        self._data = data
        self._node = None
        self._index = 0
        self._vc = [0] if _vc is None else _vc  # shared by views of the same memory (detach)
        self._grad = None
        self._retains_grad = False
        self.level = level
        self._requires_grad = False
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
        if self._requires_grad:
            raise RuntimeError(
                "numpy() on a Tensor that requires grad would hide it from the tape; "
                "call t.detach().numpy() instead"
            )
        return self._data

    def detach(self) -> Tensor:
        """The same memory, cut from the graph."""
        return Tensor(self._data, level=self.level, _vc=self._vc)

    def item(self) -> float:
        return raw(self._data).item()

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
        extra = (
            f", grad_fn={self._node!r}"
            if self._node is not None
            else (", requires_grad=True" if self._requires_grad else "")
        )
        return f"tensor({raw(self._data)!r}{extra})"

    def __array__(self, dtype=None, copy=None):
        if self._requires_grad:
            raise TypeError(
                "converting a Tensor that requires grad to a NumPy array would drop it from the "
                "tape; use t.detach().numpy()"
            )
        return np.asarray(raw(self._data), dtype=dtype)

    # -- autograd attributes -------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool):
        if self._node is not None:
            raise RuntimeError(
                "requires_grad can only be set on leaf Tensors; this one was computed by "
                f"{self._node.op.name}. Use y.detach().requires_grad_() for a new leaf."
            )
        if value:
            _check_float(self._data, "requires_grad=True")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value if value is None or isinstance(value, Tensor) else Tensor(value)

    def retain_grad(self):
        """Keep .grad on this non-leaf after backward (leaves always get it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad() on a Tensor that does not require grad")
        self._retains_grad = True
        if self._node is not None:
            self._node.retains = True

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False):
        """Accumulate d(gradient . self)/d(leaf) into every leaf's .grad (v^T J)."""
        if not self._requires_grad:
            raise RuntimeError(
                "backward() on a Tensor that does not require grad: none of the leaves it was "
                "computed from has requires_grad=True"
            )
        if gradient is None:
            if self.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this one has "
                    f"shape {self.shape}: pass gradient=v of that shape to compute v^T J, or "
                    "reduce first, e.g. y.sum().backward()"
                )
            gradient = np.ones(self.shape)
        else:
            gradient = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient, float)
            if gradient.shape != self.shape:
                raise RuntimeError(
                    f"backward(gradient=...): gradient has shape {gradient.shape} but the "
                    f"Tensor has shape {self.shape}; pass one of the Tensor's shape"
                )
        retain = create_graph if retain_graph is None else retain_graph
        # .grad is updated in place by later backwards, so it must not share memory with
        # anything: the first cotangent a leaf receives is kept without a copy only if it is
        # an array no one else was handed, and until this sweep ends (the same array may
        # still wait in the tape for another node) that leaf accumulates out of place.
        handed, borrowed = {id(gradient)}, set()

        def sink(t, g):
            if id(t) in borrowed:
                t._grad._data = t._grad._data + g
                return
            fresh = t._grad is None and isinstance(g, np.ndarray) and g.base is None and id(g) not in handed
            _accumulate(t, g, fresh)
            handed.add(id(g))
            if fresh:
                borrowed.add(id(t))

        with _grad_mode(create_graph):
            tape.backprop(
                [(self, gradient)],
                sink,
                retain_graph=retain,
                create_graph=create_graph,
                wrap=lambda g: Tensor(g, level=self.level),
            )

    # -- in-place operations: same memory, version bumped, history rebased ---------------
    def _inplace(self, func, *others):
        if self._requires_grad and self._node is None and is_grad_enabled():
            raise RuntimeError(
                "a leaf Tensor that requires grad is used in an in-place operation; do it "
                "under `with ad.no_grad():` (e.g. a parameter update) or on a copy"
            )
        before = Tensor(self._data.copy(), level=self.level)  # the old value, for the new node
        before._node, before._index, before._requires_grad = self._node, self._index, self._requires_grad
        if self._node is not None:
            tape.detach_output(self._node, self._index, before)
        result = func(before, *others)
        value = raw(result._data if isinstance(result, Tensor) else result)
        if isinstance(self._data, np.ndarray):
            self._data[...] = value
        else:  # a computed numpy scalar has no memory to share: rebind it
            self._data = np.asarray(value, dtype=np.result_type(self._data))
        self._vc[0] += 1
        if isinstance(result, Tensor) and result._node is not None:
            tape.watch(result._node, [self])
            result._node.retains = self._retains_grad
            self._requires_grad = True
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

    def zero_(self):
        return self._inplace(lambda x: x * 0.0)

    def fill_(self, value):
        return self._inplace(lambda x: x * 0.0 + value)

    def copy_(self, src):
        return self._inplace(lambda x, s: x * 0.0 + s, src)

    def __setitem__(self, index, value):
        from ad.ops.update import setitem

        self._inplace(lambda x, v: setitem(x, index, v), value)

    # -- the engine ----------------------------------------------------------------------
    @classmethod
    def _process(cls, op, operands, params, level):
        primals, record = [], False
        for x in operands:
            if type(x) is Tensor and x.level == level:
                primals.append(x._data)
                record = record or x._requires_grad
            else:
                primals.append(x)
        out = apply(op, primals, params)
        record = record and is_grad_enabled()
        multi = type(out) is tuple or type(out) is list
        outs = [_result(o, level) for o in out] if multi else [_result(out, level)]
        if record:
            inputs = [x if type(x) is Tensor and x.level == level else None for x in operands]
            needs = [x is not None and x._requires_grad for x in inputs]
            tape.watch(tape.Node(op, inputs, needs, primals, out, params), outs)
            for t in outs:
                t._requires_grad = True
        return type(out)(outs) if multi else outs[0]


def _result(data, level) -> Tensor:
    """A new Tensor for an op's output (the constructor's checks, skipped: this is the hot path)."""
    t = object.__new__(Tensor)
    t._data, t.level, t._node, t._index, t._vc = data, level, None, 0, [0]
    t._grad, t._retains_grad, t._requires_grad = None, False, False
    return t


def _accumulate(t: Tensor, g, fresh: bool = False):
    """Add a cotangent into t.grad (PyTorch's accumulation: zeroing is the user's).

    The first gradient is stored without a copy only when it is `fresh`: an array no one
    else holds, since .grad is later updated in place.
    """
    if t._grad is None:
        if not isinstance(g, Tensor):
            g = Tensor(
                g if fresh and g.dtype.kind == "f" else np.array(g, dtype=float, copy=True), level=t.level
            )
        t._grad = g
    elif isinstance(g, Tensor) or t._grad._node is not None:
        t._grad = t._grad + g  # a graph-carrying gradient (create_graph): out of place
    else:
        t._grad._data += g  # in place, like PyTorch: p.grad stays the same object


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new leaf Tensor holding a copy of data (Python floats become float64)."""
    if isinstance(data, Tensor):
        data = raw(data)
    arr = np.array(data, dtype=dtype, copy=True)
    return Tensor(arr, requires_grad=requires_grad)


def from_numpy(a: np.ndarray) -> Tensor:
    """A leaf Tensor that shares memory with a."""
    return Tensor.from_numpy(a)

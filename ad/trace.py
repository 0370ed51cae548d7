"""Levels and the one dispatch path both engines share.

Every traced value is a `Box` (a forward `Dual` or a reverse `Tensor`) tagged with a level.
Each transform call (jvp, vjp, grad, ...) opens a fresh level, higher than every level open
at that moment. An op whose operands carry several levels is handed to the engine of the
highest; operands of lower levels are constants to it, and the engine computes the primal
by applying the same op to the unboxed operands, which dispatches again at the next level
down. This is HIPS autograd's tracer, with forward mode as a second box type, and it is
what makes nesting free of perturbation confusion.
"""

from __future__ import annotations

import itertools
import sys
import warnings
import weakref

import numpy as np

from ad import registry

# Fixed levels for values users build by hand, below every transform's level: an eager
# PyTorch-style Tensor sits at 1, a hand-made Dual at 2 (so a Dual over Tensors is
# forward-over-reverse). Transforms count up from 3.
EAGER_TENSOR = 1
EAGER_DUAL = 2
_levels = itertools.count(3)


def new_level() -> int:
    """A level above every level handed out so far."""
    return next(_levels)


def _operator(func):
    """The method pair (x op o, o op x) for a binary NumPy function, looking its op up once
    (and again after the registry changes: a user op may take the function over)."""
    found = []
    registry.on_change(found.clear)

    def op():
        if not found:
            found.append(registry.lookup(func))
            if found[0] is None:
                found.clear()
                return None
        return found[0]

    # forward and reflected differ only in the operands' order; two bodies rather than one
    # shared helper, which would add a call to each of Python's operators on traced values
    def forward(self, o):
        f = found[0] if found else op()
        if f is None:
            return dispatch(func, (self, o))
        if f.kind == "elementwise":
            if self._elementwise is not None:
                out = self._elementwise(f, (self, o), self.level)
                if out is not NotImplemented:
                    return out
        elif self._checks_levels and f.kind != "composite" and f.kind != "nondiff":
            # apply's common case without its frame (x @ W): self is the first box of (self, o)
            out = self._process(f, (self, o), {}, self.level)
            if out is not NotImplemented:
                return out
        return apply(f, (self, o), {})

    def reflected(self, o):
        f = found[0] if found else op()
        if f is None:
            return dispatch(func, (o, self))
        if f.kind == "elementwise" and self._elementwise is not None:
            out = self._elementwise(f, (o, self), self.level)
            if out is not NotImplemented:
                return out
        return apply(f, (o, self), {})

    return forward, reflected


_power, _rpower = _operator(np.power)


class NoReverseSweep(RuntimeError):
    """A Tensor method that acts on gradients (register_hook, retain_grad), called on a value
    traced in a mode that has no reverse sweep (`mode`: forward, sparsity, ...)."""

    def __init__(self, mode: str, method: str, consequence: str):
        super().__init__(
            f"{method} on a value traced in {mode} mode: it acts on a gradient in a reverse "
            "sweep (backward(), ad.grad, ad.vjp, ad.jacrev), which this mode has none of, so "
            f"{consequence}. Differentiate in reverse mode (ad.grad, ad.jacrev, "
            f"ad.jacobian(f, mode='reverse')), or call {method} outside the transform"
        )
        self.mode = mode
        self._made_of = (mode, method, consequence)

    def __reduce__(self):  # raised on an executor's worker, it travels back pickled
        return type(self), self._made_of


class Box:
    """A value being differentiated: dispatch for NumPy's protocols and Python's operators."""

    __slots__ = ()
    __array_priority__ = 1000.0
    level: int
    mode = "?"

    # -- the engine's hooks ---------------------------------------------------------------
    @classmethod
    def _process(cls, op, operands, params, level):  # pragma: no cover - abstract
        raise NotImplementedError

    # An engine's fast path for an elementwise op called without options, or None:
    # _elementwise(op, operands, level) handles the common case (every box of this one
    # level, real operands) or returns NotImplemented, and the op goes the general way:
    # the level scan, the complex check, _process. Python's operators, NumPy's ufunc
    # protocol and apply try it first, at the level of the box at hand.
    _elementwise = None
    # True for an engine whose _process apply may hand an op of a kind it records (not
    # composite, not nondiff) at the level of the first box among the operands, before the
    # level scan and the complex check: _process checks both in its own pass over the
    # operands and returns NotImplemented for a box of a higher level, or a complex value
    # where the op has no complex rule; the general way then runs (the scan, the complex
    # check and its error).
    _checks_levels = False

    @property
    def _value(self):  # the unboxed value at this box's level
        raise NotImplementedError

    @classmethod
    def _constant(cls, op, operands, params):
        """A non-differentiable op: its value on the plain values is a constant to every level
        (the compiled-tape recorder overrides this to turn comparisons into guards)."""
        return op.impl(*(raw(x) for x in operands), **params)

    # -- NumPy protocols ------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs:  # the common call: the op found once
            op = registry.lookup(ufunc)
            if op is not None:
                if op.kind == "elementwise" and op.parse is None and self._elementwise is not None:
                    out = self._elementwise(op, inputs, self.level)
                    if out is not NotImplemented:
                        return out
                if op.parse is not None and op.kind != "composite":
                    # call's steps (W @ x, x a box), without its frame and Op.call's
                    operands, params = op.parse(*inputs)
                    return apply(op, operands, params)
                return call(op, inputs, {})
        if method == "reduce" and ufunc in _UFUNC_REDUCTIONS:  # np.add.reduce(x) is sum(x, axis=0)
            x, *rest = inputs
            axis = rest[0] if rest else kwargs.pop("axis", 0)
            return dispatch(_UFUNC_REDUCTIONS[ufunc], (x,), {"axis": axis, **kwargs})
        if method == "accumulate" and ufunc in _UFUNC_ACCUMULATIONS:  # np.add.accumulate is cumsum
            x, *rest = inputs
            axis = rest[0] if rest else kwargs.pop("axis", 0)
            if axis is None:  # cumsum's axis=None ravels; accumulate does not (NumPy's error)
                raise ValueError("accumulate does not allow multiple axes")
            return dispatch(_UFUNC_ACCUMULATIONS[ufunc], (x,), {"axis": axis, **kwargs})
        if method == "outer" and ufunc.nin == 2 and not kwargs:
            # np.subtract.outer(a, b) is the ufunc of a, given b.ndim trailing unit axes, and b
            a, b = inputs
            return dispatch(ufunc, (np.reshape(a, np.shape(a) + (1,) * np.ndim(b)), b), {})
        if method == "outer" and ufunc.nin == 2:
            raise NotImplementedError(
                f"ad: numpy.{ufunc.__name__}.outer takes no keyword arguments in {self.mode} mode "
                f"(got {', '.join(sorted(kwargs))}); cast the operands first (a.astype(...)) and "
                "call it without them"
            )
        if method != "__call__":
            raise NotImplementedError(
                f"ad: numpy.{ufunc.__name__}.{method} is not supported in {self.mode} mode; "
                f"call numpy.{ufunc.__name__}(...) or a reduction such as numpy.sum instead"
            )
        if kwargs.get("out") is not None:
            raise NotImplementedError(
                f"ad: numpy.{ufunc.__name__}(..., out=...) would write a traced value into a "
                "plain array and drop its derivative; assign the result instead"
            )
        kwargs.pop("out", None)
        if kwargs.get("where", True) is not True:
            raise NotImplementedError(
                f"ad: numpy.{ufunc.__name__}(..., where=mask) without out= leaves the entries the "
                "mask skips uninitialised (NumPy warns), so they have no derivative to give; write "
                f"np.where(mask, numpy.{ufunc.__name__}(...), fill) instead"
            )
        return dispatch(ufunc, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        op = registry.lookup(func)
        if op is not None and op.parse is not None and op.kind != "composite":
            # dispatch and call's steps for a function with a parse (np.sum), without their frames
            operands, params = op.parse(*args, **kwargs)
            if self._checks_levels and op.kind != "nondiff" and op.kind != "elementwise" and operands:
                if operands[0] is self:  # apply's common case without its frame, as in _operator
                    out = self._process(op, operands, params, self.level)
                    if out is not NotImplemented:
                        return out
            return apply(op, operands, params)
        return dispatch(func, args, kwargs)

    def register_hook(self, hook):
        """Hooks are Tensor's (a reverse sweep runs them); other traced values refuse them."""
        raise NoReverseSweep(self.mode, "register_hook", "its derivative would leave the hook out")

    def retain_grad(self):
        """A gradient is Tensor's to retain; other traced values refuse, as register_hook."""
        raise NoReverseSweep(self.mode, "retain_grad", "no gradient would reach .grad")

    # -- shape metadata (never traced) ----------------------------------------------------
    @property
    def shape(self):
        v = raw(self)
        return v.shape if isinstance(v, _ARRAYS) else np.shape(v)

    @property
    def ndim(self):
        v = raw(self)
        return v.ndim if isinstance(v, _ARRAYS) else np.ndim(v)

    @property
    def size(self):
        v = raw(self)
        return int(v.size if isinstance(v, _ARRAYS) else np.size(v))

    @property
    def dtype(self):
        v = raw(self)
        return v.dtype if isinstance(v, _ARRAYS) else np.result_type(v)

    # the primal's memory layout, which NumPy's np.isfortran and np.require read
    @property
    def flags(self):
        return _plain(self).flags

    @property
    def nbytes(self):
        return int(_plain(self).nbytes)

    @property
    def itemsize(self):
        return int(_plain(self).itemsize)

    def __len__(self):
        return len(raw(self))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # -- Python numbers: a value only where no derivative is lost --------------------------
    # float(), int(), complex(), .item(), .tolist() and operator.index turn a traced value
    # into a plain Python one, which would drop its derivative silently (math.sin(x) calls
    # float(x), and so does out[i] = x on a plain array): inside a transform, and on a
    # hand-made Dual, they raise (JAX's ConcretizationTypeError). An eager Tensor is not
    # being differentiated by a transform, so it gives its value, as in PyTorch. bool() is
    # allowed: truth is piecewise constant, so there is no derivative to drop (and
    # `if x > 0:` tests a comparison, which is a plain array already).
    def _concrete(self, call: str, fix: str):
        """The plain value of an eager Tensor; for any other box, a concretization error."""
        if self.level == EAGER_TENSOR:
            return raw(self)
        raise concretization_error(self, call, fix)

    def __bool__(self):
        return bool(raw(self))

    def _warn_dropped(self, call: str):
        """PyTorch's warning where float() or complex() of a Tensor that requires grad drops
        its derivative, NumPy's `out[i] = t` included (int() and .item() do not warn there)."""
        if self.level == EAGER_TENSOR and self.requires_grad:
            warnings.warn(
                f"{call} of a Tensor that requires grad gives a plain number, without its "
                "derivative (NumPy calls it to store a Tensor into a plain array: out[i] = t); "
                "call t.detach() first if that is meant, or build the array from Tensors "
                "(np.stack, np.where, ad.numpy.array)",
                UserWarning,
                stacklevel=3,
            )

    def __float__(self):
        self._warn_dropped("float()")
        return float(self._concrete(_FLOAT_CALL, _FLOAT_FIX))

    def __int__(self):
        return int(self._concrete("int()", _INT_FIX))

    def __complex__(self):
        self._warn_dropped("complex()")
        return complex(self._concrete("complex()", _COMPLEX_FIX))

    def __index__(self):
        return int(self._concrete("operator.index() (using x as an index or a size)", _INDEX_FIX))

    def item(self, *index):
        return np.asarray(self._concrete(".item()", _ITEM_FIX)).item(*index)

    def tolist(self):
        return np.asarray(self._concrete(".tolist()", _TOLIST_FIX)).tolist()

    def __array__(self, dtype=None, copy=None):  # an eager Tensor gives its value instead
        raise array_error(self)

    # -- Python operators (straight to the op: these are the hottest calls) ---------------
    __add__, __radd__ = _operator(np.add)
    __sub__, __rsub__ = _operator(np.subtract)
    __mul__, __rmul__ = _operator(np.multiply)
    __truediv__, __rtruediv__ = _operator(np.true_divide)
    __rpow__ = _rpower

    def __pow__(self, o, mod=None):
        if mod is not None:
            raise TypeError(
                "ad: pow(x, y, mod) is not supported on traced values (nor on NumPy arrays); "
                "write (x ** y) % mod"
            )
        return _power(self, o)

    __matmul__, __rmatmul__ = _operator(np.matmul)
    __mod__, __rmod__ = _operator(np.remainder)
    __floordiv__, __rfloordiv__ = _operator(np.floor_divide)
    __divmod__, __rdivmod__ = _operator(np.divmod)

    def __neg__(self):
        return dispatch(np.negative, (self,))

    def __pos__(self):
        return self

    def __abs__(self):
        return dispatch(np.abs, (self,))

    def __getitem__(self, index):
        return dispatch(np.ndarray.__getitem__, (self, index))

    def __setitem__(self, index, value):
        # The reverse-mode Tensor records item assignment (PyTorch's semantics); other traced
        # values are immutable, as JAX's are: say how to write it out of place.
        raise TypeError(
            f"ad: x[...] = v on a traced value ({self.mode} mode) is not supported: build the "
            "new value out of place, e.g. np.where(mask, v, x), np.concatenate([...]) or "
            "ad.numpy.array([...]) (JAX's x.at[i].set(v)); reverse mode (ad.grad, ad.vjp, "
            "ad.jacrev, ad.Tensor) records it"
        )

    def __lt__(self, o):
        return dispatch(np.less, (self, o))

    def __le__(self, o):
        return dispatch(np.less_equal, (self, o))

    def __gt__(self, o):
        return dispatch(np.greater, (self, o))

    def __ge__(self, o):
        return dispatch(np.greater_equal, (self, o))

    def __eq__(self, o):
        return dispatch(np.equal, (self, o))

    def __ne__(self, o):
        return dispatch(np.not_equal, (self, o))

    __hash__ = object.__hash__

    # -- the ndarray methods: each is the registered op of NumPy's function of that name ---
    # Signatures are ndarray's. out= is refused; dtype= casts first (x.sum(dtype=d) is
    # x.astype(d).sum()); other options NumPy accepts go to the op, which refuses those it
    # does not differentiate through (initial=, where=, ...) with a NotImplementedError.
    def copy(self, order="C"):
        return dispatch(np.copy, (self,), {"order": order})

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        """x cast to dtype. To a float or complex dtype it is differentiable (float64 -> float32
        casts the tangent too); to an integer or bool dtype the result is a plain array of zero
        derivative. Complex to real keeps the real part with NumPy's ComplexWarning, as NumPy and
        JAX do; its derivative is the real part's."""
        return dispatch(np.ndarray.astype, (self, dtype, order, casting, subok, copy))

    @property
    def T(self):
        return dispatch(np.transpose, (self,))

    @property
    def mT(self):
        """The transpose of the last two axes: each matrix of a stack transposed."""
        if self.ndim < 2:
            raise ValueError("matrix transpose with ndim < 2 is undefined")
        return dispatch(np.swapaxes, (self, -2, -1))

    @property
    def real(self):
        return dispatch(np.real, (self,))

    @property
    def imag(self):
        return dispatch(np.imag, (self,))

    def conj(self):
        return dispatch(np.conjugate, (self,))

    conjugate = conj

    def reshape(self, *shape, order="C", copy=None):
        shape = shape[0] if len(shape) == 1 else shape
        if copy is False and not np.may_share_memory(np.reshape(raw(self), shape), raw(self)):
            raise ValueError("Unable to avoid creating a copy while reshaping.")
        out = dispatch(np.reshape, (self, shape), {"order": order})
        return dispatch(np.copy, (out,)) if copy else out

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 else (axes or None)
        return dispatch(np.transpose, (self, axes))

    def swapaxes(self, axis1, axis2, /):
        return dispatch(np.swapaxes, (self, axis1, axis2))

    def flatten(self, order="C"):
        """x flattened, as a copy (ravel returns a view where it can)."""
        return dispatch(np.copy, (dispatch(np.ravel, (self, order)),))

    def ravel(self, order="C"):
        return dispatch(np.ravel, (self, order))

    def squeeze(self, axis=None):
        return dispatch(np.squeeze, (self, axis))

    def sum(self, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
        return _method(np.sum, self, out, dtype, axis=axis, keepdims=keepdims, initial=initial, where=where)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
        return _method(np.mean, self, out, dtype, axis=axis, keepdims=keepdims, where=where)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None):
        return _method(
            np.std, self, out, dtype, axis=axis, ddof=ddof, keepdims=keepdims, where=where, mean=mean
        )

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None):
        return _method(
            np.var, self, out, dtype, axis=axis, ddof=ddof, keepdims=keepdims, where=where, mean=mean
        )

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
        return _method(np.prod, self, out, dtype, axis=axis, keepdims=keepdims, initial=initial, where=where)

    def max(self, axis=None, out=None, keepdims=False, initial=None, where=True):
        return _method(np.max, self, out, axis=axis, keepdims=keepdims, initial=initial, where=where)

    def min(self, axis=None, out=None, keepdims=False, initial=None, where=True):
        return _method(np.min, self, out, axis=axis, keepdims=keepdims, initial=initial, where=where)

    def cumsum(self, axis=None, dtype=None, out=None):
        return _method(np.cumsum, self, out, dtype, axis=axis)

    def cumprod(self, axis=None, dtype=None, out=None):
        return _method(np.cumprod, self, out, dtype, axis=axis)

    def all(self, axis=None, out=None, keepdims=False, *, where=True):
        return _method(np.all, self, out, axis=axis, keepdims=keepdims, where=where)

    def any(self, axis=None, out=None, keepdims=False, *, where=True):
        return _method(np.any, self, out, axis=axis, keepdims=keepdims, where=where)

    def argmax(self, axis=None, out=None, *, keepdims=False):
        return _method(np.argmax, self, out, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, out=None, *, keepdims=False):
        return _method(np.argmin, self, out, axis=axis, keepdims=keepdims)

    def dot(self, other, /, out=None):
        _refuse_out("dot", out)
        return dispatch(np.dot, (self, other))

    def clip(self, min=None, max=None, out=None, **kwargs):
        _refuse_out("clip", out)
        return dispatch(np.clip, (self, min, max), kwargs)

    def round(self, decimals=0, out=None):
        """x rounded to decimals: a plain array of zero derivative (piecewise constant)."""
        _refuse_out("round", out)
        return dispatch(np.round, (self, decimals))

    def __round__(self, ndigits=None):
        if ndigits is None:  # a Python int, as round() of a NumPy scalar gives: a concretization
            return round(np.asarray(self._concrete("round(x)", _INT_FIX)).item())
        return dispatch(np.round, (self, ndigits))

    def repeat(self, repeats, /, axis=None):
        return dispatch(np.repeat, (self, repeats, axis))

    def take(self, indices, /, axis=None, out=None, mode="raise"):
        _refuse_out("take", out)
        return dispatch(np.take, (self, indices), {"axis": axis, "mode": mode})

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return dispatch(np.diagonal, (self, offset, axis1, axis2))

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return _method(np.trace, self, out, dtype, offset=offset, axis1=axis1, axis2=axis2)

    def nonzero(self):
        return dispatch(np.nonzero, (self,))

    # NumPy's in-place methods. A Tensor records the write (its _inplace, as for x += y); a
    # Dual, or a value being compiled, refuses: only a Tensor's history records writes.
    def sort(self, axis=-1, kind=None, order=None, *, stable=None):
        """Sort x in place along axis, recorded as np.sort (a permutation of x); returns None."""
        if axis is None:
            raise TypeError(
                "x.sort(axis=None): an in-place sort needs an integer axis; np.sort(x, axis=None) flattens"
            )
        _in_place(self, "sort", "y = np.sort(x, axis=...)")
        self._inplace(lambda x: dispatch(np.sort, (x, axis, kind, order), {"stable": stable}))

    def fill(self, value):
        """Set every entry of x to the scalar value, in place; the derivative flows to value."""
        if np.ndim(value) != 0:
            raise ValueError(
                f"x.fill needs a scalar value; got shape {np.shape(value)}: write x[...] = value"
            )
        _in_place(
            self, "fill", "y = np.full_like(x, value), or np.broadcast_to(value, x.shape) for a traced value"
        )
        self._inplace(lambda x, v: dispatch(np.where, (True, v, x)), value)


def _refuse_out(name: str, out):
    if out is not None:
        raise NotImplementedError(
            f"ad: x.{name}(..., out=...) would write a traced value into a plain array and drop "
            f"its derivative; assign the result instead: y = x.{name}(...)"
        )


def _method(func, x, out, dtype=None, **options):
    """func(x, **options) as ndarray's method of that name calls it: out= refused, dtype= a
    cast first, and options at NumPy's defaults (None, where=True) left out."""
    _refuse_out(func.__name__, out)
    if dtype is not None:
        x = x.astype(dtype)
    given = {k: v for k, v in options.items() if v is not None}
    if given.get("where") is True:
        del given["where"]
    return dispatch(func, (x,), given)


def _in_place(x: Box, name: str, fix: str):
    """Refuse NumPy's in-place method `name` on any box but a Tensor."""
    if x.mode != "reverse":
        raise TypeError(
            f"ad: x.{name}() changes x in place, and a {x.mode}-mode value is never changed in "
            f"place (only a Tensor records in-place writes): write {fix} instead"
        )


# -- x op= y on an immutable traced value -----------------------------------------------
# A Dual, a value being compiled or a sparsity pattern is never changed in place (as a JAX
# tracer): Python falls back to x = x op y. Where x is a view, or is viewed, NumPy would
# write through to the other arrays; a rebound x would then differentiate another function
# than NumPy runs, so such a write is refused while the other value is alive. Each such box
# has an `aliases` slot: None, or weak references to the boxes whose values share memory
# with its own, one list shared by all of them.


class Rebinding:
    """x op= y as x = x op y, refused where another live value shares x's memory. A box
    class mixes this in and names, in ``_write_fix``, the way its users should take."""

    __slots__ = ()
    _write_fix = "differentiate in reverse mode (ad.grad, ad.vjp, ad.jacrev), which records in-place writes"

    def __iadd__(self, o):
        return refuse_aliased_write(self, "+")

    def __isub__(self, o):
        return refuse_aliased_write(self, "-")

    def __imul__(self, o):
        return refuse_aliased_write(self, "*")

    def __itruediv__(self, o):
        return refuse_aliased_write(self, "/")

    def __ifloordiv__(self, o):
        return refuse_aliased_write(self, "//")

    def __imod__(self, o):
        return refuse_aliased_write(self, "%")

    def __ipow__(self, o):
        return refuse_aliased_write(self, "**")

    def __imatmul__(self, o):
        return refuse_aliased_write(self, "@")


def note_views(operands, outputs, memory) -> None:
    """Join each output to the operand of its class and level whose memory it shares (a NumPy
    view, or the operand itself, as np.real returns a real array): memory(box) is the array
    that stands for a box's memory."""
    for y in outputs:
        v = memory(y)
        if not isinstance(v, np.ndarray):
            continue
        view = v.base is not None
        for x in operands:
            if type(x) is type(y) and x.level == y.level:
                p = memory(x)
                if p is v or view and np.may_share_memory(p, v):
                    join_aliases(x, y)
                    break


def join_aliases(x, y) -> None:
    """Record that y's value views x's: both join one list of weak references."""
    family = x.aliases
    if family is None:
        family = x.aliases = [weakref.ref(x)]
    family.append(weakref.ref(y))
    n = len(family)
    if n >= 32 and n & (n - 1) == 0:  # dead references dropped now and then: linear in the views
        family[:] = [r for r in family if r() is not None]
    y.aliases = family


def refuse_aliased_write(x, spelling: str):
    """NotImplemented (Python then rebinds x = x op y), or a TypeError where another live
    value shares x's memory."""
    for r in x.aliases or ():
        other = r()
        if other is not None and other is not x:
            raise TypeError(
                f"ad: x {spelling}= y on a {x.mode}-mode value that shares memory with another one "
                "still in use (a view such as x[1:], x.T or x.reshape(...), or the array it views): "
                f"NumPy would write into both, and a {x.mode}-mode value is never changed in place. "
                f"Write x = x {spelling} y and build the other value out of place (np.where, "
                f"np.concatenate), or {x._write_fix}"
            )
    return NotImplemented


_BUILD_ARRAYS = (
    "To build an array from traced values use np.stack([a, b]) or np.concatenate([...]), or "
    "ad.numpy.array([[a, b], [c, d]]) after `import ad.numpy as np`; to fill some entries of "
    "a traced array use np.where(mask, x, 0.0)."
)
_ARRAY_CALL = (
    "converting to a plain NumPy array (np.asarray(x), np.array([x, ...]), np.float64(x), "
    "out[i] = x into an array made by np.zeros ...)"
)
_AS_ARRAY = (
    " NumPy converts without asking a traced value in asarray, asanyarray, ascontiguousarray, "
    "asfortranarray, require and asarray_chkfinite: ad.numpy's (`import ad.numpy as np`) return "
    "a traced x itself, as jax.numpy's do."
)
_FLOAT_CALL = "float() (called by float(x), np.float64(x), math.sin(x), out[i] = x into a plain array ...)"
_FLOAT_FIX = (
    "Use NumPy on the array instead: np.sin(x) for math.sin(x), np.exp(x) for math.exp(x), "
    "and x itself for float(x) (a 0-d array works wherever a number does). " + _BUILD_ARRAYS
)
_INT_FIX = "Use np.trunc(x), np.floor(x) or np.round(x): the same value, as an array of zero derivative."
_COMPLEX_FIX = "Keep x as an array and build the complex value with arithmetic: x + 1j * y."
_INDEX_FIX = (
    "Indices and sizes must be plain integers: take them from x.shape or len(x), or compute "
    "them with a NumPy function of zero derivative, e.g. i = int(np.argmax(x))."
)
_ITEM_FIX = "Keep x as an array: x.reshape(()) is the one element as a traced 0-d array."
_TOLIST_FIX = "Use list(x), whose elements stay traced, or keep x as an array."


def concretization_error(x: Box, call: str, fix: str) -> TypeError:
    """The error for turning a traced value into a plain Python or NumPy value (JAX's
    ConcretizationTypeError): the call, why it would be wrong, and what to write instead."""
    where = "a hand-made Dual" if x.level == EAGER_DUAL else f"a traced value ({x.mode} mode)"
    return TypeError(f"ad: {call} on {where} would drop its derivative. {fix}")


def matrix_error() -> TypeError:
    """The error for an np.matrix among the values of a traced computation. Its operators mean
    other things than an array's (`*` is a matrix product, `**` a matrix power), and the rules,
    written with arrays' operators, would turn them into wrong derivatives without a word."""
    return TypeError(
        "ad does not differentiate through np.matrix: its * and ** are matrix operations, which "
        "the derivative rules (written for arrays) would misread into wrong derivatives. Convert "
        "it with np.asarray(m), and write matrix products with @"
    )


def array_error(x: Box) -> TypeError:
    """The error for np.asarray(x), np.array([x, ...]) or out[i] = x on a plain array."""
    return concretization_error(x, _ARRAY_CALL, _BUILD_ARRAYS + _AS_ARRAY)


_UFUNC_REDUCTIONS = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}
_UFUNC_ACCUMULATIONS = {np.add: np.cumsum, np.multiply: np.cumprod}


def raw(x):
    """The plain value under every level of boxing."""
    while isinstance(x, Box):
        x = x._value
    return x


def _plain(x):
    """The plain array under every level of boxing (a Python number as a 0-d array)."""
    v = raw(x)
    return v if isinstance(v, _ARRAYS) else np.asarray(v)


def is_complex(x) -> bool:
    """Whether x's plain value (any element, for a tuple or list) has a complex dtype."""
    while isinstance(x, Box):
        x = x._value
    if isinstance(x, _ARRAYS):  # first: the dispatch path asks this of most values
        return x.dtype.kind == "c"
    if isinstance(x, _SEQUENCES):
        return any(map(is_complex, x))
    return isinstance(x, complex)


# isinstance with a tuple: `X | Y` would build a union object on every call of a hot path
_ARRAYS = (np.ndarray, np.generic)
_SEQUENCES = (tuple, list)


def _refuse_complex(op, operands):
    """A complex operand of an op whose rules hold on real input only: an error, not a wrong number."""
    for x in operands:
        if is_complex(x):
            raise TypeError(
                f"ad: {op.name} has no complex rule, so it does not differentiate complex input "
                f"({_mode_of(operands)} mode): apply it to real values (np.real, np.imag, np.abs "
                "of the complex ones), or register an op with complex rules through "
                "ad.defop(..., complex=True)"
            )


def _mode_of(args) -> str:
    modes = sorted({a.mode for a in args if isinstance(a, Box)})
    return " and ".join(modes) or "plain"


def ufunc_module(ufunc) -> str:
    """The module a ufunc is spelled from: a ufunc has no __module__, so numpy's own attribute
    of its name, else scipy.special's (where SciPy's live), else numpy."""
    name = ufunc.__name__
    if getattr(np, name, None) is not ufunc:
        special = sys.modules.get("scipy.special")
        if special is not None and getattr(special, name, None) is ufunc:
            return "scipy.special"
    return "numpy"


def dispatch(func, args, kwargs=None):
    """Route a NumPy call on traced values to its registered op."""
    op = registry.lookup(func)
    if op is None:
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
        module = ufunc_module(func) if isinstance(func, np.ufunc) else "numpy"
        flat = [a for a in args if isinstance(a, Box)] or [
            b for a in args if isinstance(a, list | tuple) for b in a if isinstance(b, Box)
        ]
        raise NotImplementedError(
            f"ad has no rule for {module}.{name} ({_mode_of(flat)} mode): it would drop the "
            "derivative. Rewrite with supported ops (`python -m ad ops` lists them) or "
            "register a rule with ad.defop."
        )
    return call(op, args, kwargs or {})


def call(op, args, kwargs):
    """op on a NumPy-style call: a composite takes it as it is (its parts dispatch on their
    own); any other op splits it into operands and params first."""
    if op.kind == "composite":
        return apply(op, args, kwargs)
    operands, params = op.call(args, kwargs)
    return apply(op, operands, params)


def apply(op, operands, params):
    """Evaluate op at the highest level among its operands (plain NumPy if there is none)."""
    for top in operands:
        if isinstance(top, Box):
            break
    else:
        return op.impl(*operands, **params)
    if top._checks_levels and op.kind != "composite" and op.kind != "nondiff":
        # the common case: every box at the first one's level, which its engine checks
        if op.kind == "elementwise" and not params:
            out = top._elementwise(op, operands, top.level)
            if out is not NotImplemented:
                return out
        out = top._process(op, operands, params, top.level)
        if out is not NotImplemented:
            return out
    for x in operands:
        if isinstance(x, Box) and x.level > top.level:
            top = x
    if op.kind == "elementwise" and not params and top._elementwise is not None:
        out = top._elementwise(op, operands, top.level)  # a Tensor's fast path
        if out is not NotImplemented:
            return out
    if not op.complex:  # a composite too: its parts may take complex input it was not checked on
        _refuse_complex(op, operands)
    if op.kind == "composite":
        return op.impl(*operands, **params)
    if op.kind == "nondiff":
        return top._constant(op, operands, params)
    return top._process(op, operands, params, top.level)

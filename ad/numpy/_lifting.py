"""NumPy's functions made to take array_likes holding traced values.

NumPy reads a list or tuple argument as an array_like: `np.sum([a, b])` converts the list into
an array before any traced value inside can answer, which would drop its derivative. Every
function of ad.numpy that NumPy dispatches on its array arguments (and every ufunc) is NumPy's
own behind one wrapper: an argument that is a (nested) list or tuple holding traced values
becomes their stack (`ad.numpy.array` of it), and the call then dispatches to the registry as
any call on traced arrays does. Every other call reaches NumPy untouched, with NumPy's result,
for the cost of one Python call.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from ad.numpy._sequences import each_lifted, holds_traced, lifted

# The parameters that read a list or tuple otherwise than as one array_like, by NumPy callable:
# - entries: a sequence of arrays, each its own array_like (lists of several lengths join);
# - kept: no array the function computes a value from (callbacks and their extra arguments,
#   the array a function writes into, block's nested layout, whose blocks NumPy dispatches on).
# Every function's out= is kept too.
_ENTRIES = {
    np.concatenate: ("arrays",),
    np.stack: ("arrays",),
    np.hstack: ("tup",),
    np.vstack: ("tup",),
    np.dstack: ("tup",),
    np.column_stack: ("tup",),
    np.choose: ("choices",),
    np.select: ("condlist", "choicelist"),
    np.piecewise: ("condlist",),
    np.linalg.multi_dot: ("arrays",),
}
_KEPT = {
    np.block: ("arrays",),
    np.piecewise: ("funclist", "args", "kw"),
    np.apply_along_axis: ("func1d", "args", "kwargs"),
    np.apply_over_axes: ("func",),
    np.copyto: ("dst",),
    np.put: ("a",),
    np.putmask: ("a",),
    np.place: ("arr",),
    np.fill_diagonal: ("a",),
    np.put_along_axis: ("arr",),
}

# Functions that answer a failed conversion of an argument instead of raising it (array_equal
# and array_equiv return False): the wrapper cannot wait for NumPy to refuse a list holding a
# traced value, so it stacks such lists before the call.
_ANSWER_REFUSALS = frozenset({np.array_equal, np.array_equiv})

# The positional parameters of a ufunc's methods (their signatures are not introspectable)
_UFUNC_METHODS = {
    "reduce": ("array", "axis", "dtype", "out"),
    "accumulate": ("array", "axis", "dtype", "out"),
    "reduceat": ("array", "indices", "axis", "dtype", "out"),
    "outer": ("A", "B"),
    "at": ("a", "indices", "b"),
}
_UFUNC_ATTRIBUTES = ("nin", "nout", "nargs", "ntypes", "types", "identity", "signature")
_SEQUENCES = (list, tuple)


def _holds_traced(a) -> bool:
    """Whether a is a list or tuple holding a traced value (a traced argument itself needs
    nothing: NumPy hands the call to it)."""
    return isinstance(a, _SEQUENCES) and holds_traced(a)


def _kept(a):
    return a


class _Parameters:
    """The role of each of a function's parameters: one array_like (stacked), a sequence of
    arrays (each entry stacked) or neither (kept as it is)."""

    def __init__(self, positional: tuple, star=None, double_star=None, keywords=(), entries=(), kept=()):
        self.positional, self.star, self.double_star = positional, star, double_star
        self.named = frozenset(positional + keywords)
        self.roles = {name: each_lifted for name in entries} | {name: _kept for name in (*kept, "out")}

    @classmethod
    def of(cls, func):
        kinds = inspect.Parameter
        params = inspect.signature(func).parameters.values()
        return cls(
            tuple(p.name for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)),
            next((p.name for p in params if p.kind is kinds.VAR_POSITIONAL), None),
            next((p.name for p in params if p.kind is kinds.VAR_KEYWORD), None),
            tuple(p.name for p in params if p.kind is kinds.KEYWORD_ONLY),
            _ENTRIES.get(func, ()),
            _KEPT.get(func, ()),
        )

    def lift(self, args: tuple, kwargs: dict) -> tuple[list, dict]:
        """The arguments with each list or tuple holding traced values read by its role."""
        n, roles = len(self.positional), self.roles
        args = [roles.get(self.positional[i] if i < n else self.star, lifted)(a) for i, a in enumerate(args)]
        kwargs = {
            k: roles.get(k if k in self.named else self.double_star, lifted)(a) for k, a in kwargs.items()
        }
        return args, kwargs


def lifting(func, parameters=None, module="ad.numpy"):
    """func, taking each array_like argument holding traced values as their stack.

    NumPy is asked first, and the arguments lifted only when it refuses one: converting a list
    that holds a traced value raises a TypeError before NumPy computes anything. So a call that
    needs no lifting (arrays, traced arrays, lists of numbers, the sequence of traced arrays
    that np.stack takes) costs one Python call more than NumPy's own. A list of eager Tensors
    that do not require grad converts, as np.asarray(t) does. parameters (a function returning
    the _Parameters) replaces reading func's signature."""
    read = functools.partial(_Parameters.of, func) if parameters is None else parameters
    found = []  # the parameters, read at the first call that needs them
    eager = func in _ANSWER_REFUSALS

    def call(*args, **kwargs):
        try:
            if eager and (any(map(_holds_traced, args)) or any(map(_holds_traced, kwargs.values()))):
                raise TypeError  # NumPy would answer rather than refuse: lift now
            return func(*args, **kwargs)
        except TypeError:
            if not (any(map(_holds_traced, args)) or any(map(_holds_traced, kwargs.values()))):
                raise
        if not found:
            found.append(read())
        args, kwargs = found[0].lift(args, kwargs)
        return func(*args, **kwargs)

    functools.update_wrapper(call, func)
    call.__module__ = module
    return call


def lifting_ufunc(ufunc, module="ad.numpy"):
    """A ufunc whose inputs (and the operands of .reduce, .outer ...) may be array_likes holding
    traced values; its outputs (out=) are kept. It keeps the ufunc's attributes (nin, identity
    ...), but is a function: isinstance(f, numpy.ufunc) is False."""
    signature = tuple(f"x{i}" for i in range(ufunc.nin)) + ("out",) * ufunc.nout
    call = lifting(ufunc, parameters=lambda: _Parameters(signature), module=module)
    for name in _UFUNC_ATTRIBUTES:
        setattr(call, name, getattr(ufunc, name))
    for method, positional in _UFUNC_METHODS.items():
        kept = ("a",) if method == "at" else ()  # at writes into a
        lifted_method = lifting(
            getattr(ufunc, method),
            parameters=lambda positional=positional, kept=kept: _Parameters(
                positional, double_star="kwargs", kept=kept
            ),
            module=module,
        )
        lifted_method.__qualname__ = f"{ufunc.__name__}.{method}"
        setattr(call, method, lifted_method)
    return call


def lift_namespace(module, scope: dict, name: str) -> None:
    """Put into scope a lifting version of each of module's public functions that dispatch on
    their arguments (NumPy's array functions and ufuncs); every other name stays NumPy's."""
    array_function = type(np.sum)
    for attr in module.__all__:
        f = getattr(module, attr)
        if isinstance(f, np.ufunc):
            scope[attr] = lifting_ufunc(f, module=name)
        elif isinstance(f, array_function):
            scope[attr] = lifting(f, module=name)

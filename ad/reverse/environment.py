"""What a compiled tape depends on besides its argument: the values f can reach, checked at each replay.

A tape bakes in every value f read while recording. Environment keeps, for each binding f
can reach (closure cells, globals, defaults, attributes, containers), the object it held,
and for each array its bytes, so that a replay can tell that one changed and record again.
"""

from __future__ import annotations

import functools
import operator
import pickle
import types

import numpy as np

# What a replay checks of f's surroundings (Environment). Library code (NumPy's, ad's, ...)
# is not walked: its state is not the user's to change between calls.
_LIBRARIES = frozenset({"numpy", "ad", "scipy", "numba", "jax", "torch", "builtins"})
_DEPTH = 4  # functions, containers and objects followed from f
_ATOMS = (int, float, complex, str, bytes, type(None), np.generic, types.ModuleType, type)
_MISSING = object()
_RANDOM = (np.random.Generator, np.random.RandomState, np.random.BitGenerator)


class Environment:
    """What f reads besides its argument, as far as Python shows it: the values its closure
    cells, the globals its code names, its default arguments and its bound object hold, and
    through functions, lists, tuples, sets, dicts and objects' attributes, those values' own.
    A replay checks that each binding still holds the same object, each list, dict and
    object its number of entries, each set its members, and each array its values
    (torch.compile's guards on globals, by value for arrays, since a tape bakes them in); if
    not, f is recorded again.

    It also keeps the random generators f can reach, and NumPy's global one, to refuse a
    recording that drew from them: a tape would replay that one draw on every call."""

    def __init__(self, f):
        bindings: list[tuple] = []  # (container, key, value): read(container, key) is value
        self.lengths: list[tuple] = []  # (list, dict or an object's attributes, its length)
        self.members: list[tuple] = []  # (set, its members, their ids)
        self.arrays: dict[int, tuple] = {}  # id -> (array, its shape, its bytes)
        self.random = [np.random.mtrand._rand]
        seen: set[int] = set()
        todo = [(f, 0)]
        while todo:
            value, depth = todo.pop()
            if isinstance(value, _ATOMS) or id(value) in seen or depth > _DEPTH:
                continue
            seen.add(id(value))
            if isinstance(value, np.ndarray):
                self.watch(value)
            elif isinstance(value, _RANDOM):
                self.random.append(value)
            elif isinstance(value, list | tuple | set | frozenset | dict) or _module(value) not in _LIBRARIES:
                todo += [(v, depth + 1) for v in self._bind(value, bindings)]
        self.reads = _grouped(bindings)  # what each call reads: the bindings, by container

    def _bind(self, value, bindings: list) -> list:
        """Record what value holds (into bindings); return those values, to be walked in turn."""
        if isinstance(value, types.FunctionType):
            names = _names(value.__code__)
            held = [(c, "cell_contents") for c in value.__closure__ or ()]
            held += [(value.__globals__, n) for n in names if n in value.__globals__]
            held += [(value, "__defaults__"), (value, "__kwdefaults__")]
        elif isinstance(value, types.MethodType):
            held = [(value, "__self__"), (value, "__func__")]
        elif isinstance(value, functools.partial):
            held = [(value, "func"), (value, "args"), (value, "keywords")]
        elif isinstance(value, list):
            self.lengths.append((value, len(value)))
            held = [(value, i) for i in range(len(value))]
        elif isinstance(value, set):  # a member added or removed is a change
            members = tuple(value)  # kept alive, so that their ids stay theirs
            self.members.append((value, members, frozenset(map(id, members))))
            return list(members)
        elif isinstance(value, tuple | frozenset):
            return list(value)
        elif isinstance(value, dict):  # a key added is a change (d.get(k, default), a loop)
            self.lengths.append((value, len(value)))
            held = [(value, k) for k in value]
        elif isinstance(getattr(value, "__dict__", None), dict):
            self.lengths.append((vars(value), len(vars(value))))  # an attribute added
            held = [(vars(value), k) for k in vars(value)]
            held += [(type(value), "__call__")] if callable(value) else []
        else:
            return []
        read = [_read(c, k) for c, k in held]
        bindings += [(c, k, v) for (c, k), v in zip(held, read)]
        return read

    def watch(self, array: np.ndarray) -> None:
        if id(array) not in self.arrays and array.dtype.kind in "biufc":
            self.arrays[id(array)] = (array, array.shape, array.tobytes())

    def random_states(self) -> list:
        return [_random_state(r) for r in self.random]

    def changed(self) -> bool:
        """Whether a binding holds another object, a list, dict or object another number of
        entries, a set other members, or an array other bits (the bits: -0.0 for 0.0 is a
        change, a NaN kept is not)."""
        for read, container, kept in self.reads:  # on every call of a tape: one C call each
            try:
                now = read(container)
            except (LookupError, AttributeError, ValueError):  # gone (an empty cell: ValueError)
                return True
            if any(map(operator.is_not, now, kept)):
                return True
        for xs, n in self.lengths:
            if len(xs) != n:
                return True
        for xs, _, ids in self.members:
            if len(xs) != len(ids) or frozenset(map(id, xs)) != ids:
                return True
        for a, shape, kept in self.arrays.values():
            if a.shape != shape or a.tobytes() != kept:
                return True
        return False


def _grouped(bindings) -> list:
    """The bindings as (read, container, values), one per container: read(container) gives the
    tuple of what its keys hold now, in one call (itemgetter for dicts and lists, attrgetter
    for attributes), to be compared by identity with values. A container of one key has it
    asked twice, so that its read also gives a tuple."""
    by_container: dict[int, tuple] = {}
    for c, k, v in bindings:
        _, keys, values = by_container.setdefault(id(c), (c, [], []))
        keys.append(k)
        values.append(v)
    out = []
    for c, keys, values in by_container.values():
        if len(keys) == 1:
            keys, values = keys * 2, values * 2
        if any(v is _MISSING for v in values):  # absent when recorded: read one by one, each call
            out += [(functools.partial(_read_each, keys), c, tuple(values))]
        else:
            read = operator.itemgetter if isinstance(c, dict | list) else operator.attrgetter
            out.append((read(*keys), c, tuple(values)))
    return out


def _read_each(keys, container) -> tuple:
    return tuple(_read(container, k) for k in keys)


def _module(value) -> str:
    module = getattr(value, "__module__", None)  # an instance's is its class's
    return module.partition(".")[0] if isinstance(module, str) else ""


def _names(code) -> list:
    """The global names a code object and the functions defined in it read (attribute names too)."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _names(const)
    return names


def _read(container, key):
    if isinstance(container, dict):
        return container.get(key, _MISSING)
    if isinstance(container, list):
        return container[key] if key < len(container) else _MISSING
    try:
        return getattr(container, key)
    except (AttributeError, ValueError):  # an empty closure cell raises ValueError
        return _MISSING


def _random_state(r) -> bytes:
    if isinstance(r, np.random.RandomState):
        return pickle.dumps(r.get_state(legacy=False))
    return pickle.dumps((r.bit_generator if isinstance(r, np.random.Generator) else r).state)

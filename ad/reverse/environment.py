"""What a compiled tape depends on besides its argument: the values f can reach, checked at each replay.

A tape bakes in every value f read while recording. Environment keeps, for each binding f
can reach (closure cells, globals, defaults, attributes, containers), the object it held,
and for each array its bytes, so that a replay can tell that one changed and record again.
"""

from __future__ import annotations

import builtins
import functools
import keyword
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
    not, f is recorded again. That check, changed(), is generated as straight-line code for
    these bindings once f is recorded (finish, _check).

    It also keeps the random generators f can reach, and NumPy's global one, to refuse a
    recording that drew from them: a tape would replay that one draw on every call."""

    def __init__(self, f):
        self.bindings: list[tuple] = []  # (container, key, value): read(container, key) is value
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
                todo += [(v, depth + 1) for v in self._bind(value, self.bindings)]

    def _bind(self, value, bindings: list) -> list:
        """Record what value holds (into bindings); return those values, to be walked in turn."""
        if isinstance(value, types.FunctionType):
            names = _names(value.__code__)
            held = [(c, "cell_contents") for c in value.__closure__ or ()]
            held += [(value.__globals__, n) for n in names if n in value.__globals__]
            # defaults fill parameters a call leaves out: a function without such a
            # parameter is the same function whatever they are set to
            held += [(value, "__defaults__")] if value.__code__.co_argcount else []
            held += [(value, "__kwdefaults__")] if value.__code__.co_kwonlyargcount else []
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

    def finish(self) -> None:
        """Called once f is recorded (the arrays that became constants of the tape are watched
        by then): self.changed() is from now on the check a replay runs, generated for these
        bindings (_check)."""
        self.changed = _check(self.bindings, self.lengths, self.members, self.arrays.values())


# The generated check writes out one comparison per binding, length and array up to _INLINE
# of each, and reads a container of more than _INLINE_KEYS keys in one C call (itemgetter):
# past that, its source would take longer to compile (some tens of microseconds a line) than
# the loops that check the rest take to run.
_INLINE_KEYS = 16
_INLINE = 256
_LARGE = 1 << 17  # bytes of an array compared in place rather than copied (_differs)
_CHECK_ERRORS = (LookupError, AttributeError, ValueError)  # gone (an empty cell: ValueError)


def _check(bindings, lengths, members, arrays) -> types.FunctionType:
    """changed(), generated for one recording: whether a binding holds another object, a
    list, dict or object another number of entries, a set other members, or an array other
    bits (the bits: -0.0 for 0.0 is a change, a NaN kept is not).

    It is straight-line Python, one comparison per binding with the containers, keys and
    values as default arguments (local variables), the identities first and the arrays'
    bytes last, so that a call costs a few tens of nanoseconds per binding and no loop or
    call per container; past _INLINE of them, the rest are checked in loops (_moved,
    _rewritten), as a longer source would take longer to compile than they take to run.
    Code is memoised by its source, so that recording again (a guard that flips, a changed
    closure) compiles nothing.

    The compiled scalar chain's f reads a module's globals and a helper: its check takes
    0.13 to 0.15 us a call, where a loop calling a getter and any(map(is_not, ...)) per
    container took 0.82 to 0.98 us, and its specialised grad 0.34x to 0.40x the time of
    jax.jit(jax.grad) in the same run, where it was 0.54x to 0.60x (docs/compiled.md)."""
    by_container: dict[int, tuple] = {}
    for c, k, v in bindings:
        by_container.setdefault(id(c), (c, []))[1].append((k, v))
    consts: dict[str, object] = {}  # argument name -> the constant it defaults to
    names: dict[int, str] = {}  # id -> the argument name of a constant

    def name(value, prefix):
        if id(value) not in names:
            names[id(value)] = f"{prefix}{len(consts)}"
            consts[names[id(value)]] = value
        return names[id(value)]

    held, missing = [], []  # the comparisons written out: true when a binding changed
    rest = []  # the groups past them (_group), checked by _moved
    for c, kv in by_container.values():
        if len(kv) > _INLINE_KEYS or len(held) + len(missing) + len(kv) > _INLINE:
            rest.append(_group(c, kv))
            continue
        cn = name(c, "c")
        for k, v in kv:
            if v is _MISSING:  # absent when recorded: a change if it is there now
                consts |= {"read": _read, "MISSING": _MISSING}
                missing.append(f"read({cn}, {name(k, 'k')}) is not MISSING")
            else:
                held.append(f"{_access(cn, c, k, name)} is not {name(v, 'v')}")
    if rest:
        held.append(f"moved({name(rest, 'r')})")
    if len(lengths) > _INLINE:
        containers, sizes = zip(*lengths)
        sized = [f"any(map(ne, map(len, {name(containers, 'l')}), {name(sizes, 'n')}))"]
    else:
        sized = [f"len({name(xs, 'l')}) != {n}" for xs, n in lengths]
    sized += [
        f"len({name(xs, 's')}) != {len(ids)} or frozenset(map(id, {name(xs, 's')})) != {name(ids, 'i')}"
        for xs, _, ids in members
    ]
    arrays = list(arrays)
    bits = [
        f"{name(a, 'a')}.shape != {shape!r} or {_differs(a, kept, name)}"
        for a, shape, kept in arrays[:_INLINE]
    ]
    bits += [f"rewritten({name(arrays[_INLINE:], 'r')})"] if len(arrays) > _INLINE else []
    lines = [f"def changed({', '.join(f'{n}={n}' for n in consts)}):"]
    if held:
        lines += ["    try:", *(f"        if {e}:\n            return True" for e in held)]
        lines += ["    except ERRORS:", "        return True"]
    lines += [f"    if {e}:\n        return True" for e in missing + sized + bits]
    lines.append("    return False")
    code = _compiled("\n".join(lines), tuple(consts))
    return types.FunctionType(code, _GLOBALS, "changed", tuple(consts.values()))


def _group(container, kv) -> tuple:
    """(read, container, values): read(container) is the tuple of what the keys hold now, in
    one C call where every key was there when recorded (itemgetter, attrgetter)."""
    keys, values = zip(*kv)
    if len(keys) == 1 or any(v is _MISSING for v in values):  # _MISSING where a key is absent now too
        return functools.partial(_read_each, keys), container, values
    read = operator.itemgetter if isinstance(container, dict | list) else operator.attrgetter
    return read(*keys), container, values


def _read_each(keys, container) -> tuple:
    return tuple(_read(container, k) for k in keys)


def _moved(groups) -> bool:
    """Whether a key of a group (_group) holds another object: the bindings past those the
    generated check writes out."""
    for read, container, values in groups:
        if any(map(operator.is_not, read(container), values)):
            return True
    return False


def _rewritten(arrays) -> bool:
    """Whether an array has another shape or other bytes: the arrays past those the
    generated check writes out."""
    return any(a.shape != shape or a.tobytes() != kept for a, shape, kept in arrays)


# What generated checks name besides their arguments.
_GLOBALS = {
    "__builtins__": builtins,  # what the generated code's own frame reads builtins from
    "ERRORS": _CHECK_ERRORS,
    "ne": operator.ne,
    "not_equal": np.not_equal,
    "moved": _moved,
    "rewritten": _rewritten,
}


@functools.lru_cache(maxsize=256)
def _compiled(source: str, arguments: tuple) -> types.CodeType:
    """The code of the function source defines, whose arguments default to constants."""
    scope = _GLOBALS | dict.fromkeys(arguments)  # its defaults: replaced by the caller's
    exec(source, scope)
    return scope["changed"].__code__


def _differs(a: np.ndarray, kept: bytes, name) -> str:
    """The expression, true when the bits of a are not kept. A copy of the bytes and one
    comparison for most arrays; for a large contiguous one, its memory compared as
    integers (no copy: three times faster at a million float64)."""
    if a.nbytes < _LARGE or not a.flags.c_contiguous or a.nbytes % 8:
        return f"{name(a, 'a')}.tobytes() != {name(kept, 'b')}"
    words = a.reshape(-1).view(np.uint64)  # the memory of a, whatever its shape becomes
    return f"not_equal({name(words, 'w')}, {name(np.frombuffer(kept, np.uint64), 'b')}).any()"


def _access(cn: str, container, key, name) -> str:
    """The expression that reads key of container (named cn) in the generated check."""
    if isinstance(container, dict | list):
        literal = type(key) is str or type(key) is int  # noqa: E721  (a subclass's repr may differ)
        return f"{cn}[{key!r}]" if literal else f"{cn}[{name(key, 'k')}]"
    if key.isascii() and key.isidentifier() and not keyword.iskeyword(key):
        return f"{cn}.{key}"
    return f"getattr({cn}, {name(key, 'k')})"


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

"""User-defined ops: register rules and get back a function that dispatches through both engines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ad import rules
from ad.registry import elementwise, general
from ad.trace import Box, apply, raw
from ad.tree import DICTS, flatten


def defop(
    name: str,
    impl: Callable,
    *,
    jvp: Callable | None = None,
    vjp: Callable | None = None,
    derivs: tuple | None = None,
    handles=(),
    **kw,
) -> Callable:
    """Register a user op and return a callable that dispatches through both engines.

    Give ``derivs`` (elementwise partials ``d_i(*xs, y)``), or rules in the manner of JAX's
    custom_jvp and custom_vjp and autograd's defvjp:
    ``jvp(tangents, primals, out, params, batched)`` -> the output's tangent, and
    ``vjp(ct, primals, out, params, batched)`` -> a tuple of one cotangent per argument.
    With ``jvp`` alone, reverse mode transposes it (it is linear in the tangents); with
    ``vjp`` alone, forward mode raises. The op's own derivative is never used.

    Arguments may be pytrees (tuples, lists, dicts of arrays; ints, strings and None are held
    as they are); ``primals`` and ``tangents`` mirror them, ``out`` and the tangent mirror
    the result; keyword arguments are ``params``, never differentiated. A tangent is zeros
    where its argument is not being differentiated (None for an int, string or None leaf).
    With ``batched=True`` tangents and cotangents carry a leading axis of k directions: the
    rules must handle it (checked on first use), or pass ``loop_batch=True`` to have them
    called once per direction.
    """
    if derivs is not None:
        if jvp is not None or vjp is not None:
            raise TypeError(f"defop({name!r}): give derivs=(...) or jvp=/vjp= rules, not both")
        user_impl = impl

        def impl(*xs, **params):
            # every level unboxes its operands before the primal runs, so a traced value in the
            # result came from a closure, which the op would hide from the transform tracing it
            out = user_impl(*xs, **params)
            if isinstance(out, Box) or type(out) is tuple and any(isinstance(y, Box) for y in out):
                raise ClosedOver()
            return out

        impl.__doc__ = user_impl.__doc__
        op = elementwise(name, handles, *derivs, impl=impl, **kw)

        def call(*args, **kwargs):
            _refuse_hidden(name, args, kwargs, "elementwise ops take arrays: pass each array as an argument")
            operands, params = op.call(args, kwargs)
            try:
                return apply(op, operands, params)
            except ClosedOver:
                raise TypeError(_CLOSES_OVER.format(name=name)) from None

    elif jvp is None and vjp is None:
        raise TypeError(f"defop({name!r}): give derivs=(...), or a jvp= rule, a vjp= rule or both")
    else:
        structured = "parse" not in kw  # a parse decides the operands itself (the library's ops)
        if structured:
            user_impl = impl
            kw["parse"] = lambda *args, **kwargs: _structured(name, user_impl, args, kwargs)
            impl = lambda *xs, call: call.flat(*xs)  # noqa: E731
            impl.__doc__ = user_impl.__doc__
        checks = _Rules(name, jvp, vjp, check_batching="loop_batch" not in kw)
        op = general(name, handles, checks.jvp, checks.vjp, impl=impl, **kw)

        def call(*args, **kwargs):
            operands, params = op.call(args, kwargs)
            try:
                out = apply(op, operands, params)
            except ClosedOver:
                raise TypeError(_CLOSES_OVER.format(name=name)) from None
            if not structured:
                return out
            c = params["call"]
            return c.out_tree([out] if c.single else list(out))

        if structured:
            call.__doc__ = user_impl.__doc__

    call.__name__ = name
    call.__doc__ = op.doc or call.__doc__ or impl.__doc__
    call.op = op
    return call


_CLOSES_OVER = (
    "ad: the implementation of the op {name!r} computed with a traced value it closes over, whose "
    "derivative its rules cannot give: pass that value as an argument"
)

# How many random directions a rule's first batched call is checked on, against the rule
# called once per direction.
PROBE_DIRECTIONS = 3


class ClosedOver(Exception):
    """f's first run, the op's primal on plain values, returned a traced value f closes over,
    of a level the op would wrap and so hide from the transform that traces it."""


class LeafCall:
    """One call of f on pytree arguments, as an op sees it: the argument leaves, which of
    them are the op's operands (traced values and arrays of floats: what can have a
    derivative), f as a function of those operands alone (the other leaves held), and the
    structure of f's result once it has run.

    A traced value in f's first result comes from a closure. With ``inner_only`` that is
    refused (ClosedOver) only above the lowest level the operands carry, where an op of that
    level would wrap it; otherwise any such value is refused."""

    def __init__(self, f: Callable, args: tuple, kwargs: dict | None = None, *, inner_only=False):
        self.f, self.kwargs = f, kwargs or {}
        self.leaves, self.in_tree = flatten(tuple(args))
        self.operands = [i for i, a in enumerate(self.leaves) if _differentiable(a)]
        self.out_tree, self.single = None, True
        self.floor = _lowest_level([self.leaves[i] for i in self.operands]) if inner_only else 0

    def arguments(self, xs, held=True) -> tuple:
        """f's arguments with xs at the operand leaves; the held leaves as they are, or None."""
        full = list(self.leaves) if held else [None] * len(self.leaves)
        for i, x in zip(self.operands, xs):
            full[i] = x
        return self.in_tree(full)

    def flat(self, *xs):
        """f on the operand leaves, the others held: its output leaves, one or a tuple."""
        outs, tree = flatten(self.f(*self.arguments(xs), **self.kwargs))
        if self.out_tree is None:
            if any(isinstance(y, Box) and y.level > self.floor for y in outs):
                raise ClosedOver()
            self.out_tree, self.single = tree, len(outs) == 1
        return outs[0] if self.single else tuple(outs)

    def operand_leaves(self, per_argument, who: Callable[[], str]) -> list:
        """The values at the operand leaves of a tree shaped like the arguments (a None subtree
        gives None leaves)."""
        full = _leaves_like(self.in_tree, tuple(per_argument), who)
        return [full[i] for i in self.operands]


def _lowest_level(values) -> float:
    """The lowest level among the traced values, those under them included (inf: none)."""
    lowest = float("inf")
    for x in values:
        while isinstance(x, Box):
            lowest = min(lowest, x.level)
            x = x._value
    return lowest


def _differentiable(a) -> bool:
    """A leaf an op takes as an operand: a traced value, or a number or array of floats."""
    if isinstance(a, Box):
        return True
    dt = getattr(a, "dtype", None)
    if dt is not None:
        return rules.differentiable(dt)
    return isinstance(a, float | complex) and not isinstance(a, bool)


def _structured(name, impl, args, kwargs):
    """The parse of a user op without one of its own: the float leaves of its arguments are
    its operands; keyword arguments are fixed parameters."""
    _refuse_hidden(name, (), kwargs, "pass them as positional arguments, which are differentiated")
    call = LeafCall(impl, args, kwargs)
    return [call.leaves[i] for i in call.operands], {"call": call}


def _refuse_hidden(name, args, kwargs, fix):
    """A traced value the op cannot see (inside a container argument of an elementwise op, or a
    keyword argument) would be computed through the op's own implementation, past its rules."""
    where = [a for a in args if isinstance(a, list | tuple | dict)]
    if (where or kwargs) and any(isinstance(leaf, Box) for leaf in flatten((where, kwargs))[0]):
        raise TypeError(
            f"ad: the op {name!r} was given a traced value inside "
            f"{'a keyword argument' if not where else 'a list, tuple or dict'}, where its rules "
            f"cannot see it (the derivative would bypass them): {fix}"
        )


def _leaves_like(tree, value, who: Callable[[], str]) -> list:
    """value's leaves in the structure of `tree`: a None where tree has a subtree gives None
    for each of its leaves (a symbolic zero); any other difference of structure raises."""
    if value is None:
        return [None] * tree.size
    if tree.kind == "*":
        return [value]
    if tree.kind is None:
        return []
    if tree.kind in DICTS:
        ok = isinstance(value, dict) and len(value) == len(tree.keys) and all(k in value for k in tree.keys)
        parts = [value[k] for k in tree.keys] if ok else None
    else:
        ok = isinstance(value, tuple | list) and len(value) == len(tree.children)
        parts = list(value) if ok else None
    if not ok:
        raise ValueError(f"{who()} returned {_describe(value)} where the structure {tree} was due")
    return [leaf for c, v in zip(tree.children, parts) for leaf in _leaves_like(c, v, who)]


def _describe(value) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a value of shape {rules.shape(value)}"


class _Rules:
    """A user op's rules as the engines call them: the user's rules see pytrees, zeros for
    tangents of operands not being differentiated, and what they return is checked (shapes,
    one cotangent per argument) and cast to the operands' float dtype. A rule given alone
    stands for both modes where it can (a JVP transposed) and refuses where it cannot."""

    def __init__(self, name, jvp, vjp, check_batching: bool):
        self.name, self.user_jvp, self.user_vjp = name, jvp, vjp
        # a rule of the user's is checked once against itself run per direction; a VJP
        # transposed from the JVP is batched by the reverse engine itself
        self.unchecked = {w for w, r in (("JVP", jvp), ("VJP", vjp)) if check_batching and r is not None}

    # -- the engines' entry points ---------------------------------------------------------
    def jvp(self, tangents, primals, out, params, batched):
        if self.user_jvp is None:
            raise NotImplementedError(
                f"ad: the op {self.name!r} was registered with a VJP rule only (defop(..., vjp=...)), "
                "so forward mode cannot differentiate it (jvp, jacfwd, hessian, hvp with a forward "
                "mode): give defop a jvp= rule too, or differentiate in reverse mode (grad, vjp, "
                "jacrev, jacrev(grad(f)) for a Hessian, hvp(..., mode='rev-rev'))"
            )
        if batched and "JVP" in self.unchecked:
            self._check_batching("JVP", self._jvp, tangents, primals, out, params)
        return self._jvp(tangents, primals, out, params, batched)

    def vjp(self, ct, primals, out, params, batched):
        if batched and "VJP" in self.unchecked:
            self._check_batching("VJP", self._vjp, ct, primals, out, params)
        return self._vjp(ct, primals, out, params, batched)

    # -- the rules on the engines' values ----------------------------------------------------
    def _jvp(self, tangents, primals, out, params, batched):
        pre = (_batch(tangents),) if batched else ()
        ts = [
            rules.zeros(p, pre) if t is None and _differentiable(p) else t for t, p in zip(tangents, primals)
        ]
        call = params.get("call")
        single = not isinstance(out, tuple | list)
        if not isinstance(call, LeafCall):  # the op parses its own operands: the rule sees them
            t = self.user_jvp(ts, primals, out, params, batched)
            got = [t] if single else _leaves_like(flatten(out)[1], t, lambda: self._who("JVP"))
        else:
            t = self.user_jvp(
                call.arguments(ts, held=False),
                call.arguments(primals),
                _output(call, out),
                call.kwargs,
                batched,
            )
            got = _leaves_like(call.out_tree, t, lambda: self._who("JVP"))
        outs = [out] if single else out
        got = [_checked(g, o, pre, self, "JVP", "output") for g, o in zip(got, outs)]
        return got[0] if single else tuple(got)

    def _vjp(self, ct, primals, out, params, batched):
        if self.user_vjp is None:
            return self._transposed_jvp(ct, primals, out, params, batched)
        single = not isinstance(out, tuple | list)
        pre = (_batch([ct] if single else ct),) if batched else ()
        call = params.get("call")
        if not isinstance(call, LeafCall):
            r = self.user_vjp(ct, primals, out, params, batched)
            n = len(primals)
        else:
            cts = call.out_tree([ct] if single else list(ct))
            r = self.user_vjp(cts, call.arguments(primals), _output(call, out), call.kwargs, batched)
            n = len(call.in_tree.children)
        if not isinstance(r, tuple | list):
            raise TypeError(
                f"{self._who('VJP')} returned {_describe(r)}: return a tuple with one cotangent per "
                f"positional argument of the op (here {n}), None for an argument with none"
            )
        if len(r) != n:
            raise ValueError(
                f"{self._who('VJP')} returned {len(r)} cotangents for {n} operands (its positional "
                "arguments): return one per argument, None for an argument with none"
            )
        if isinstance(call, LeafCall):
            r = call.operand_leaves(r, lambda: self._who("VJP"))
        return tuple([_checked(g, p, pre, self, "VJP", "operand") for g, p in zip(r, primals)])

    def _who(self, which: str) -> str:
        return f"the {which} rule of {self.name!r}"

    def _transposed_jvp(self, ct, primals, out, params, batched):
        """VJP from the JVP rule, which is linear in the tangents: its transpose at ct, by a
        reverse sweep through the rule (JAX's custom_jvp in reverse mode)."""
        from ad.reverse.api import record  # here: ad.reverse's modules import the ops, made through defop

        single = not isinstance(out, tuple | list)
        outs = [out] if single else list(out)
        idx = [i for i, p in enumerate(primals) if _differentiable(p)]

        def linear(*ts):
            full = [None] * len(primals)
            for i, t in zip(idx, ts):
                full[i] = t
            t = self._jvp(full, primals, out, params, False)
            t = [t] if single else list(t)
            return [rules.zeros(o) if ti is None else ti for ti, o in zip(t, outs)]

        zero = [rules.zeros(primals[i]) for i in idx]
        try:
            rec = record(linear, zero, who=f"the VJP of {self.name!r}, from its JVP")
        except (TypeError, NotImplementedError) as e:
            raise type(e)(
                f"ad: reverse mode transposes the JVP rule of {self.name!r} (it has no VJP rule), so "
                "that rule must compute its tangent with NumPy functions on the tangents, which ad "
                f"can differentiate; it could not ({e}). Give defop a vjp= rule as well"
            ) from e
        cts = [ct] if single else list(ct)
        pulled = rec.pullback(cts, batch=_batch(cts) if batched else None)
        result = [None] * len(primals)
        for i, g in zip(idx, pulled):
            result[i] = g
        return tuple(result)

    # -- rules that forget the batch axis ----------------------------------------------------
    def _check_batching(self, which, rule, seeds, primals, out, params):
        """The first time a rule runs batched, compare it on random directions with the same rule
        run once per direction: a rule that ignores the leading axis of k directions gives
        another Jacobian without an error (A @ t for t of shape (k, n) with k = n)."""
        single = not isinstance(seeds, tuple | list)
        seeds = [seeds] if single else list(seeds)
        k = PROBE_DIRECTIONS  # any k: a rule that forgets the axis mixes random directions up
        rng = np.random.default_rng(0)
        probe = [
            None if s is None else _random(rng, (k, *rules.shape(s)[1:]), rules.tangent_dtype(s))
            for s in seeds
        ]
        primals = [raw(p) for p in primals]
        out = raw(out) if not isinstance(out, tuple | list) else type(out)(raw(o) for o in out)
        fix = (
            f"With batched=True its {'tangents' if which == 'JVP' else 'cotangents'} carry a "
            "leading axis of k directions: handle it, or pass loop_batch=True "
            "to defop to have the rule called once per direction"
        )
        apart = [  # first, so that an error of the rule itself is raised as it is
            rule(
                (lambda d: d[0] if single else d)([None if s is None else s[i] for s in probe]),
                primals,
                out,
                params,
                False,
            )
            for i in range(k)
        ]
        try:
            together = rule(probe[0] if single else probe, primals, out, params, True)
        except Exception as e:
            raise ValueError(
                f"ad: the {which} rule of {self.name!r} failed on {k} directions at once. {fix}"
            ) from e
        for j, value in enumerate(_as_list(together)):
            one = [_as_list(a)[j] for a in apart]
            if value is None and all(o is None for o in one):
                continue
            template = raw(next(o for o in one if o is not None)) if value is None else raw(value)[0]
            expected = np.stack([np.zeros_like(template) if o is None else raw(o) for o in one])
            value = np.zeros_like(expected) if value is None else raw(value)
            tol = np.sqrt(np.finfo(np.result_type(expected.dtype, np.float32)).eps)
            if not np.allclose(
                value, expected, rtol=tol, atol=tol * (1.0 + np.max(np.abs(expected), initial=0.0))
            ):
                raise ValueError(
                    f"ad: the {which} rule of {self.name!r} gives other values for {k} directions at "
                    f"once than for each direction alone, so its Jacobians would be wrong. {fix}"
                )
        self.unchecked.discard(which)


def _output(call, out):
    """The op's output as the user's rules see it: f's result structure."""
    return call.out_tree([out] if call.single else list(out))


def _batch(values) -> int:
    return next(rules.shape(v)[0] for v in values if v is not None)


def _as_list(v) -> list:
    return list(v) if isinstance(v, tuple | list) else [v]


def _random(rng, shape, dtype):
    r = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        r = r + 1j * rng.standard_normal(shape)
    return r.astype(dtype)


def _checked(value, like, pre: tuple, rules_of, which: str, what: str):
    """A tangent or cotangent a user rule returned for `like` (an output or an operand): its
    shape must be like's (after the batch axis), and a float of another width is cast to
    like's dtype, as the library's rules keep the input's dtype."""
    if value is None:
        return None
    expected = pre + tuple(rules.shape(like))
    if tuple(rules.shape(value)) != expected:
        raise ValueError(
            f"{rules_of._who(which)} returned shape {tuple(rules.shape(value))} for an {what} of shape "
            f"{tuple(rules.shape(like))}: expected {expected}"
            + (" (a leading axis of k directions, as batched=True says)" if pre else "")
            + "; broadcasting it would give a wrong derivative"
        )
    dt = getattr(value, "dtype", None)
    if dt is None or dt.kind == "f":
        want = getattr(raw(like), "dtype", None)
        if want is not None and want.kind == "f" and want != dt:
            value = np.asarray(value, want) if dt is None else value.astype(want)
    return value

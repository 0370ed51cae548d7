"""An adversarial review of the eager reverse engine's speed work, against PyTorch, JAX and
finite differences: recording in one pass (plans per op and needs, the first box's engine
checking levels and complex values), the sweep's shortcuts (.grad kept by reference count,
the next node run without the heap, a kept partial of 1 passing its cotangent on, scalar
products without shape checks, sum's filled cotangent, matmul's 1-D transposes) and grad's
cached read-only cotangent 1. Each test asks for numbers or an error that a wrong
shortcut would change."""

from __future__ import annotations

import itertools
import random
import threading

import numpy as np
import pytest

import ad

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)


def _value(t) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


# -- gradients that must stay apart ------------------------------------------------------------
_OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "times one": (lambda a, b: a * 1, lambda a, b: a * 1),  # a kept partial 1: no multiply
    "plus zero": (lambda a, b: a + 0, lambda a, b: a + 0),
    "negate": (lambda a, b: -a, lambda a, b: -a),
    "times minus one": (lambda a, b: a * -1.0, lambda a, b: a * -1.0),
    "one minus": (lambda a, b: 1.0 - b, lambda a, b: 1.0 - b),
    "sin": (lambda a, b: np.sin(a), lambda a, b: torch.sin(a)),
    "halve": (lambda a, b: a / 2.0, lambda a, b: a / 2.0),
}


def _random_program(seed: int):
    """Leaves of one dtype and shape (a NumPy scalar, 0-d, (1,) or (3,)), a few steps of
    arithmetic that pass cotangents on unchanged (add, * 1, + 0) or not, some values retained,
    and a loss summing a few values."""
    rng = random.Random(seed)
    dtype = rng.choice([np.float64, np.float32])
    shape = rng.choice(["scalar", (), (1,), (3,)])
    n_leaves = rng.randint(1, 3)
    values = []
    for i in range(n_leaves):
        v = np.random.default_rng(seed * 7 + i).uniform(0.5, 2.0, () if shape == "scalar" else shape)
        values.append(np.asarray(v, dtype))
    steps = []
    n = n_leaves
    for _ in range(rng.randint(1, 8)):
        steps.append((rng.choice(sorted(_OPS)), rng.randrange(n), rng.randrange(n), rng.random() < 0.4))
        n += 1
    loss = rng.sample(range(n), rng.randint(1, min(3, n)))
    seeds = [rng.choice([None, 1.5]) for _ in range(2)]
    return dtype, shape, values, steps, loss, seeds


def _run(on_torch: bool, program):
    dtype, shape, values, steps, loss, _ = program
    if on_torch:
        leaves = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    elif shape == "scalar":
        leaves = [ad.Tensor(dtype(v), requires_grad=True) for v in values]
    else:
        leaves = [ad.tensor(v, requires_grad=True) for v in values]
    vals, retained = list(leaves), []
    for name, i, j, keep in steps:
        r = _OPS[name][on_torch](vals[i], vals[j])
        if keep:
            r.retain_grad()
            retained.append(r)
        vals.append(r)
    y = 0
    for i in loss:
        y = y + vals[i].sum()
    return leaves, retained, y


@pytest.mark.parametrize("block", range(3))
def test_random_scalar_programs_give_separate_gradients_equal_to_pytorchs(block):
    # The oracle is torch.autograd.grad, summed by hand: PyTorch's own .grad accumulation
    # shares one stolen gradient between two leaves of `0 + a.sum() + b.sum()` and then
    # counts it twice (see the next test).
    for seed in range(150 * block, 150 * block + 150):
        program = _random_program(seed)
        leaves, retained, y = _run(False, program)
        if not isinstance(y, ad.Tensor) or not y.requires_grad:
            continue
        t_leaves, t_retained, ty = _run(True, program)
        ours, theirs = leaves + retained, t_leaves + t_retained
        want = [None] * len(theirs)
        for w in program[5]:
            if w is None:
                y.backward(retain_graph=True)
                gs = torch.autograd.grad(ty, theirs, retain_graph=True, allow_unused=True)
            else:
                v = np.array(w, dtype=y.dtype)
                y.backward(gradient=v, retain_graph=True)
                assert v == w, seed  # the caller's cotangent is never written
                ct = torch.tensor(w, dtype=ty.dtype)
                gs = torch.autograd.grad(ty, theirs, grad_outputs=ct, retain_graph=True, allow_unused=True)
            want = [a if g is None else (g.numpy() if a is None else a + g.numpy()) for a, g in zip(want, gs)]
            have = [t for t, w_ in zip(ours, want) if w_ is not None]
            for t, w_ in zip(ours, want):
                if w_ is None:
                    assert t.grad is None, seed
                    continue
                g = _value(t.grad)
                assert g.dtype == w_.dtype and np.allclose(g, w_, rtol=1e-5), (seed, program, g, w_)
            for a, b in itertools.combinations(have, 2):
                assert not np.shares_memory(_value(a.grad), _value(b.grad)), (seed, program)
            # a write into one .grad changes no other one
            for t in have:
                g = t.grad.numpy()
                before = [_value(u.grad).copy() for u in have]
                kept = g.copy()
                g[...] = 1000.0
                for u, b in zip(have, before):
                    assert u is t or np.array_equal(_value(u.grad), b), (seed, program)
                g[...] = kept


@pytest.mark.parametrize("shape", ["scalar", (), (1,), (3,)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_cotangent_passed_to_two_leaves_is_counted_once_per_backward(shape, dtype):
    # add hands its cotangent to both leaves as it is; the first leaf's .grad must not be the
    # array the second one keeps, or the second backward's in-place sum counts it twice
    def make(v):
        return (
            ad.Tensor(dtype(v), requires_grad=True)
            if shape == "scalar"
            else ad.tensor(np.full(shape, v, dtype), requires_grad=True)
        )

    a, b = make(1.0), make(2.0)
    y = 0 + b.sum() + a.sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    assert np.all(_value(a.grad) == 2.0) and np.all(_value(b.grad) == 2.0)
    assert _value(a.grad).dtype == dtype


def test_a_retained_value_that_passes_its_cotangent_on_keeps_its_own_gradient():
    for dtype, shape in itertools.product([np.float64, np.float32, np.complex128], [(), (1,), (2, 1)]):
        x = ad.tensor(np.full(shape, 2.0, dtype), requires_grad=True)
        w = ad.tensor(np.full(shape, 3.0, dtype), requires_grad=True)
        h = x + 0  # cotangent passed on unchanged
        h.retain_grad()
        k = h + w
        k.retain_grad()
        loss = (k * np.conj(k)).real.sum() if dtype == np.complex128 else k.sum()
        loss.backward(retain_graph=True)
        first = [_value(t.grad).copy() for t in (x, w, h, k)]
        for a, b in itertools.combinations((x, w, h, k), 2):
            assert not np.shares_memory(_value(a.grad), _value(b.grad))
        loss.backward()
        for t, g in zip((x, w, h, k), first):
            assert np.allclose(_value(t.grad), 2 * g)


# -- the sweep's order -------------------------------------------------------------------------
def test_a_chain_waits_for_a_node_made_later_that_reads_its_middle():
    # the chain x -> c1 -> ... -> c6 runs without the heap; `late`, made after it from c2,
    # must still send c2 its cotangent before c2 runs
    for make in (lambda v: ad.tensor(v, requires_grad=True), lambda v: torch.tensor(v, requires_grad=True)):
        x = make(np.array([0.3, -0.7]))
        sin = np.sin if isinstance(x, ad.Tensor) else torch.sin
        c = [x]
        for _ in range(6):
            c.append(sin(c[-1]) * 1.5 + c[-1])
        late = c[2] * c[2]
        shared = c[4] + 0  # a pass-through node shared by two consumers
        y = (c[-1] * late).sum() + (shared * shared).sum() + shared.sum()
        y.backward()
        if isinstance(x, ad.Tensor):
            ours = x.grad.numpy()
        else:
            assert np.allclose(ours, x.grad.numpy(), rtol=1e-13)


def test_in_place_writes_and_views_on_non_leaves_match_pytorch():
    def program(lib):
        if lib == "ad":
            x = ad.tensor(np.arange(1.0, 7.0), requires_grad=True)
            sin = np.sin
        else:
            x = torch.arange(1.0, 7.0, dtype=torch.float64, requires_grad=True)
            sin = torch.sin
        h = x * 1.0
        h.retain_grad()
        v = h[1:4]
        late = sin(v * 3.0 + 0)  # made before the write: keeps the old node
        v *= 2.0  # CopySlices into h
        h += 1.0
        u = h[2:5] + 0
        u.retain_grad()
        y = (late * late).sum() + (u * h[0:3]).sum() + h.sum()
        y.backward()
        return [_value(t.grad) for t in (x, h, u)]

    for a, b in zip(program("ad"), program("torch")):
        assert np.allclose(a, b, rtol=1e-13)


# -- levels --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "f, want",
    [
        (lambda: ad.grad(lambda x: x * ad.grad(lambda y: x + y)(1.0))(1.0), 1.0),
        (lambda: ad.grad(lambda x: ad.grad(lambda y: y + x)(1.0) * x)(1.0), 1.0),
        (lambda: ad.grad(lambda x: ad.grad(lambda y: y * x)(2.0) * x)(3.0), 6.0),
        (lambda: ad.jvp(lambda x: x * ad.grad(lambda y: x + y)(1.0), (1.0,), (1.0,))[1], 1.0),
        (lambda: ad.grad(lambda x: x * ad.jvp(lambda y: x + y, (1.0,), (1.0,))[1])(1.0), 1.0),
        (lambda: ad.grad(lambda x: ad.jvp(lambda y: y * x, (1.0,), (1.0,))[1] * x)(3.0), 6.0),
        (lambda: ad.grad(ad.grad(np.sin))(0.5), -np.sin(0.5)),
        (lambda: ad.grad(lambda x: ad.jvp(lambda y: y * x, (2.0,), (1.0,))[1])(5.0), 1.0),
    ],
    ids=[
        "rev-rev",
        "rev-rev-flipped",
        "rev-rev-product",
        "fwd-rev",
        "rev-fwd",
        "rev-fwd-product",
        "grad-grad",
        "tensor-in-dual",
    ],
)
def test_nested_transforms_have_no_perturbation_confusion(f, want):
    assert np.isclose(f(), want, rtol=1e-14)


def test_an_eager_tensor_first_among_the_operands_of_a_transforms_op():
    # the first box is the eager Tensor (the lower level): its engine declines, the op runs
    # at the transform's level, and the eager graph still records the eager part
    w = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = np.array([3.0, 4.0])
    assert np.allclose(ad.grad(lambda z: np.sum(w * z))(x).data, [1.0, 2.0])
    assert np.allclose(ad.grad(lambda z: np.concatenate([w, z]).sum())(x), [1.0, 1.0])
    assert np.allclose(ad.grad(lambda z: np.where(np.array([True, False]), w, z).sum())(x), [0.0, 1.0])
    assert np.allclose(ad.grad(lambda z: np.clip(w, z, 10.0).sum())(x), [1.0, 1.0])
    g = ad.grad(lambda z: np.sum(w * z * z))(x)  # an eager Tensor: d/dz = 2 w z, w's history
    assert np.allclose(g.data, [6.0, 16.0])
    g.sum().backward()
    assert np.allclose(w.grad.numpy(), 2 * x)
    assert np.allclose(ad.grad(lambda z: w @ z)(x).data, [1.0, 2.0])


def test_jvp_of_grad_and_grad_of_jvp_match_jax():
    x, v = np.array([1.0, 2.0]), np.array([1.0, -0.5])
    f, fj = (lambda x: np.sum(np.sin(x) * x**3)), (lambda x: jnp.sum(jnp.sin(x) * x**3))
    ours = ad.jvp(ad.grad(f), (x,), (v,))
    theirs = jax.jvp(jax.grad(fj), (x,), (v,))
    for a, b in zip(ours, theirs):
        assert np.allclose(a, b, rtol=1e-13)
    ours = ad.grad(lambda x: ad.jvp(f, (x,), (v,))[1])(x)
    theirs = jax.grad(lambda x: jax.jvp(fj, (x,), (v,))[1])(x)
    assert np.allclose(ours, theirs, rtol=1e-13)


_NO_COMPLEX = ["arctan2", "maximum", "minimum", "hypot", "fmax", "logaddexp", "copysign", "fmod", "remainder"]


def _complex_cases(h):
    x, z = np.array([1.0, 2.0]), np.array([1.0 + 1j, 2.0 - 1j])
    return {
        "complex leaf first": lambda: h(ad.tensor(z, requires_grad=True), ad.tensor(x, requires_grad=True)),
        "complex constant second": lambda: h(ad.tensor(x, requires_grad=True), z),
        "complex constant first": lambda: h(z, ad.tensor(x, requires_grad=True)),
        "complex number": lambda: h(ad.tensor(x, requires_grad=True), 1j),
        "complex scalar leaf": lambda: h(
            ad.Tensor(np.complex128(1j), requires_grad=True), ad.tensor(1.0, requires_grad=True)
        ),
        "complex64 scalar": lambda: h(ad.tensor(1.0, requires_grad=True), np.complex64(1j)),
        "complex list": lambda: ad.grad(lambda t: np.sum(h(t, [1j, 2j])))(x),
        "eager complex first, transform's second": lambda: ad.grad(lambda t: np.sum(h(ad.tensor(z), t)))(x),
        "transform's first, eager complex second": lambda: ad.grad(lambda t: np.sum(h(t, ad.tensor(z))))(x),
    }


@pytest.mark.parametrize("case", list(_complex_cases(None)))
@pytest.mark.parametrize("name", _NO_COMPLEX)
def test_complex_input_to_an_op_without_complex_rules_raises_the_same_error_as_before(name, case):
    with pytest.raises(TypeError) as e:
        _complex_cases(getattr(np, name))[case]()
    assert str(e.value) == (
        f"ad: {name} has no complex rule, so it does not differentiate complex input (reverse mode): "
        "apply it to real values (np.real, np.imag, np.abs of the complex ones), or register an op "
        "with complex rules through ad.defop(..., complex=True)"
    )


def test_complex_input_inside_jvp_over_an_eager_tensor_names_both_modes():
    z = np.array([1.0 + 1j, 2.0 - 1j])
    with pytest.raises(TypeError, match=r"ad: maximum has no complex rule.*\(forward and reverse mode\)"):
        ad.jvp(lambda t: np.maximum(ad.tensor(z, requires_grad=True), t), (np.ones(2),), (np.ones(2),))


# -- the scalar path ----------------------------------------------------------------------------
_KINDS = {
    "float64 scalar": lambda v: np.float64(v),
    "float64 0-d": lambda v: np.array(v),
    "float32 scalar": lambda v: np.float32(v),
    "float32 0-d": lambda v: np.array(v, np.float32),
    "float64 (1,)": lambda v: np.array([v]),
}
_SCALAR_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "int plus": lambda a, b: 3 + a,
    "times int": lambda a, b: a * 2,
    "negate": lambda a, b: -a,
    "times minus one": lambda a, b: a * -1.0,
    "times one": lambda a, b: (a * 1.0) * (b * 1),
}


@pytest.mark.parametrize("kb", list(_KINDS))
@pytest.mark.parametrize("ka", list(_KINDS))
def test_scalar_arithmetic_of_every_kind_and_edge_value_matches_pytorch(ka, kb, quiet):
    values = [2.0, -0.0, 0.0, np.inf, -np.inf, np.nan, 1.0, -1.0]
    for va, vb in itertools.product(values, repeat=2):
        for name, f in _SCALAR_OPS.items():
            a = ad.Tensor(_KINDS[ka](va), requires_grad=True)
            b = ad.Tensor(_KINDS[kb](vb), requires_grad=True)
            ta = torch.tensor(np.asarray(_KINDS[ka](va)), requires_grad=True)
            tb = torch.tensor(np.asarray(_KINDS[kb](vb)), requires_grad=True)
            y, ty = quiet(lambda: f(a, b)), f(ta, tb)
            v = np.full(y.shape, 0.75, y.dtype)
            quiet(lambda: y.backward(v))
            ty.backward(torch.tensor(v))
            for t, tt in ((a, ta), (b, tb)):
                if t.grad is None:
                    assert tt.grad is None or not tt.grad.any(), (ka, kb, va, vb, name)
                    continue
                g, want = _value(t.grad), tt.grad.numpy()
                assert g.shape == want.shape and g.dtype == want.dtype, (ka, kb, va, vb, name)
                assert np.array_equal(g, want, equal_nan=True), (ka, kb, va, vb, name, g, want)
                assert np.array_equal(np.signbit(g), np.signbit(want)) or np.isnan(g).any(), (va, vb, name)


# -- sum's filled cotangent, matmul's 1-D transposes ------------------------------------------
def _sum_cases():
    for dtype, shape in itertools.product([np.float64, np.float32], [(), (1,), (3,), (2, 3), (2, 1, 3)]):
        axes = [None, *range(len(shape))]
        if shape:
            axes.append(tuple(range(len(shape))))
        if len(shape) > 1:
            axes.append((0, len(shape) - 1))
        for axis, keepdims in itertools.product(axes, [False, True]):
            yield dtype, shape, axis, keepdims


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_sum_and_mean_of_every_axis_give_the_chain_rule_in_grad_jacrev_hessian_and_create_graph(reduce):
    # f(x) = reduce(sin(x) x): with d = f's elementwise derivative cos(x) x + sin(x) and
    # d2 = 2 cos(x) - sin(x) x, every derivative below is a formula in d, d2 and the reduction
    rng = np.random.default_rng(3)
    for dtype, shape, axis, keepdims in _sum_cases():
        tol = 1e-10 if dtype == np.float64 else 1e-4
        x = rng.normal(size=shape).astype(dtype)
        x64 = x.astype(np.float64)
        d, d2 = np.cos(x64) * x64 + np.sin(x64), 2 * np.cos(x64) - np.sin(x64) * x64
        red = getattr(np, reduce)

        def f(x):
            return red(np.sin(x) * x, axis=axis, keepdims=keepdims)

        case = (dtype, shape, axis, keepdims)
        y = red(np.sin(x64) * x64, axis=axis, keepdims=True)
        scale = np.size(x64) / np.size(y)  # mean divides by the entries reduced
        w = 1.0 if reduce == "sum" else 1.0 / scale
        g = ad.grad(lambda x: np.sum(f(x) ** 2))(x)
        assert g.dtype == dtype and np.allclose(g, 2 * w * y * d, rtol=tol, atol=tol), case
        # the Jacobian column of input i: the reduction of d e_i
        columns = []
        for i in range(x64.size):
            e = np.zeros_like(x64)
            e.flat[i] = d.flat[i]
            columns.append(red(e, axis=axis, keepdims=keepdims))
        want = np.moveaxis(
            np.array(columns).reshape(shape + np.shape(columns[0])), range(len(shape)), range(-len(shape), 0)
        )
        assert np.allclose(ad.jacrev(f)(x), want, rtol=tol, atol=tol), case
        total = np.sum(y)
        hess = 2 * w * w * np.multiply.outer(d, d) + np.diag(2 * w * total * d2.ravel()).reshape(
            shape + shape
        )
        assert np.allclose(ad.hessian(lambda x: np.sum(f(x)) ** 2)(x), hess, rtol=10 * tol, atol=10 * tol), (
            case
        )
        t = ad.tensor(x, requires_grad=True)
        np.sum(f(t)).backward(create_graph=True)
        g1, t.grad = t.grad, None
        np.sum(g1 * g1).backward()
        assert np.allclose(t.grad.numpy(), 2 * w * w * d * d2, rtol=10 * tol, atol=10 * tol), case


def test_the_cotangent_of_a_large_sum_and_of_a_0d_sum_is_the_seed_everywhere():
    for n in (1, 4096, 4097):
        x = np.linspace(-1.0, 1.0, n)
        g = ad.grad(lambda x: np.sum(x))(x)
        assert g.shape == (n,) and np.all(g == 1.0) and g.flags.writeable
        g[...] = 5.0
        assert np.all(ad.grad(lambda x: np.sum(x))(x) == 1.0)  # the cached seed is untouched
    t = ad.tensor(np.float32(2.0), requires_grad=True)
    np.sum(t).backward(np.float32(3.0))
    assert t.grad.dtype == np.float32 and t.grad.numpy() == 3.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize(
    "sa, sb",
    [((3, 4), (4,)), ((4,), (4, 3)), ((1, 4), (4,)), ((4,), (4, 1)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))],
)
def test_matmul_with_a_vector_matches_jax_in_grad_and_jacrev(dtype, sa, sb):
    rng = np.random.default_rng(5)

    def draw(s):
        v = rng.normal(size=s) + (1j * rng.normal(size=s) if dtype == np.complex128 else 0)
        return v.astype(dtype)

    a, b = draw(sa), draw(sb)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    loss = (lambda y: np.sum(np.abs(y) ** 2)) if dtype == np.complex128 else (lambda y: np.sum(np.tanh(y)))
    lossj = (
        (lambda y: jnp.sum(jnp.abs(y) ** 2)) if dtype == np.complex128 else (lambda y: jnp.sum(jnp.tanh(y)))
    )
    ours = ad.grad(lambda a, b: loss(a @ b), argnums=(0, 1))(a, b)
    theirs = jax.grad(lambda a, b: lossj(a @ b), argnums=(0, 1))(a, b)
    for o, t in zip(ours, theirs):
        assert o.dtype == dtype and np.allclose(o, t, rtol=tol, atol=tol)
    if dtype != np.complex128:
        assert np.allclose(
            ad.jacrev(lambda a: np.tanh(a @ b))(a), jax.jacrev(lambda a: jnp.tanh(a @ b))(a), rtol=tol
        )
        assert np.allclose(
            ad.jacrev(lambda b: np.tanh(a @ b))(b), jax.jacrev(lambda b: jnp.tanh(a @ b))(b), rtol=tol
        )


# -- the functional layer ----------------------------------------------------------------------
def _apart(arrays, caller):
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):  # a NumPy scalar: immutable
            continue
        assert a.flags.writeable
        for b in [*arrays[:i], *arrays[i + 1 :], *caller]:
            assert not np.shares_memory(a, b)


@pytest.mark.parametrize("shape", [(), (1,), (3,)])
def test_transform_results_share_memory_with_nothing(shape):
    x, y, ct = np.full(shape, 2.0), np.full(shape, 3.0), np.full(shape, 1.5)
    total = (lambda v: v) if shape == () else np.sum
    _apart(list(ad.grad(lambda a, b: total(a + b), argnums=(0, 1))(x, y)), [x, y])
    _apart(list(ad.grad(lambda a, b: total(a * 1.0 + b * 1), argnums=(0, 1))(x, y)), [x, y])
    _apart(list(ad.grad(lambda t: total(t[0] + t[1]))((x, y))), [x, y])
    _apart(list(ad.grad(lambda d: total(d["a"] + d["a"] + d["b"]))({"a": x, "b": y}).values()), [x, y])
    _apart(list(ad.value_and_grad(lambda a: total(a))(x)), [x])
    _apart(list(ad.jacrev(lambda a, b: a + b, argnums=(0, 1))(x, y)), [x, y])
    _, vjp_fn = ad.vjp(lambda a, b: a + b, x, y)
    first = list(vjp_fn(ct))
    _apart(first + list(vjp_fn(ct)), [x, y, ct])
    assert np.all(ct == 1.5)


def test_a_function_returning_one_value_several_times_gets_every_cotangent():
    x = np.array([1.0, 2.0])
    c = [np.array([1.0, 2.0]), np.array([10.0, 20.0]), np.array([100.0, 200.0])]
    _, vjp_fn = ad.vjp(lambda a: (lambda y: (y, y, {"z": y}))(np.sin(a) * 1.0), x)
    (ours,) = vjp_fn((c[0], c[1], {"z": c[2]}))
    assert np.allclose(ours, np.cos(x) * (c[0] + c[1] + c[2]))
    assert np.array_equal(c[0], [1.0, 2.0]) and np.array_equal(c[1], [10.0, 20.0])
    _, vjp_fn = ad.vjp(lambda a: (lambda y: (y, y))(a * 1.0), 2.0)
    assert vjp_fn((np.float64(3.0), np.float64(4.0)))[0] == 7.0


# -- threads --------------------------------------------------------------------------------------
def test_transforms_and_eager_backwards_in_threads_give_their_own_gradients():
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for i in range(150):
            x = rng.normal(size=(int(rng.integers(1, 4)),))
            g = ad.grad(lambda a: np.sum(np.sin(a) * a + a * 1.0))(x)
            if not np.allclose(g, np.cos(x) * x + np.sin(x) + 1.0, rtol=1e-12):
                errors.append(("grad", seed, i))
            g[...] = -100.0  # a result is the caller's: writing it changes no other thread's
            s = float(rng.normal())
            a, b = ad.tensor(s, requires_grad=True), ad.tensor(2.0 * s, requires_grad=True)
            y = a * b + a + 0.0 * b
            y.backward(retain_graph=True)
            y.backward()
            if not (np.isclose(a.grad.numpy(), 2 * (2 * s + 1)) and np.isclose(b.grad.numpy(), 2 * s)):
                errors.append(("eager", seed, i))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- bugs found, then mended -------------------------------------------------------------------
class _Swapped(np.ndarray):
    """An ndarray subclass whose * is a matrix product (as np.matrix's is)."""

    def __mul__(self, other):
        return np.matmul(np.asarray(self), np.asarray(other))


@pytest.mark.parametrize("op", [np.multiply, np.add, np.true_divide])
def test_a_tensor_over_an_ndarray_subclass_computes_by_the_ufunc(op):
    # the fast path computes a subclass's values with the ufunc, never its operator, on either
    # side, recorded or not
    m = np.array([[1.0, 2.0], [3.0, 4.0]]).view(_Swapped)
    expected = op(np.asarray(m), np.asarray(m))
    for t in (ad.from_numpy(m), ad.from_numpy(m.copy()).requires_grad_()):
        assert np.array_equal(np.asarray(op(ad.from_numpy(m), t).data), expected)
        assert np.array_equal(np.asarray(op(t, ad.from_numpy(m)).data), expected)


def _matrix_refused(call):
    with pytest.raises(TypeError, match="np.matrix"):
        call()


def test_np_matrix_is_refused_wherever_it_meets_a_derivative():
    # np.matrix's * is a matrix product: the rules, written with arrays' operators, gave the
    # derivative of x * M as ones @ M (a silent wrong gradient in both modes), so it is refused
    M = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    X = np.ones((2, 2))
    _matrix_refused(lambda: ad.from_numpy(M))
    _matrix_refused(lambda: ad.Tensor(M))
    x = ad.tensor(X, requires_grad=True)
    for f in (lambda x: x * M, lambda x: M * x, lambda x: np.multiply(M, x), lambda x: x @ M, np.sin):
        if f is np.sin:
            _matrix_refused(lambda: ad.grad(lambda x: np.sum(np.sin(x)))(M))
            _matrix_refused(lambda: ad.jacfwd(np.sin)(M))
            _matrix_refused(lambda: ad.jvp(np.sin, (M,), (X,)))
            _matrix_refused(lambda: ad.Dual(M, X))
            continue
        _matrix_refused(lambda f=f: f(x))
        _matrix_refused(lambda f=f: ad.jvp(f, (X,), (X,)))
        _matrix_refused(lambda f=f: ad.vjp(f, X))
        _matrix_refused(lambda f=f: ad.grad(lambda x: np.sum(f(x)))(X))
    # a plain view of the same memory is what to pass instead
    g = ad.grad(lambda x: np.sum(x * np.asarray(M)))(X)
    np.testing.assert_array_equal(g, np.asarray(M))


@pytest.mark.parametrize("shape", [(), (3,)])
def test_a_gradient_saved_by_a_later_op_then_accumulated_into_is_caught(shape):
    x = ad.tensor(np.full(shape, 2.0), requires_grad=True)
    w = ad.tensor(np.full(shape, 3.0), requires_grad=True)
    (x * x).sum().backward()  # x.grad = 4
    z = (w * x.grad).sum()  # saves x.grad's value for w's gradient
    (x * x).sum().backward()  # x.grad = 8, written in place: its version moves on
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()  # as PyTorch: the value z saved is gone, so no gradient is made up
    # accumulation in place still leaves .grad the same object with the sum
    g = x.grad
    (x * x).sum().backward()
    assert x.grad is g and np.all(g.numpy() == 12.0)

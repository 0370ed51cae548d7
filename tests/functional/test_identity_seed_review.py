"""An adversarial review of the one-pass identity seed and of the engine changes beside it.

The one-pass Jacobian seeds are views of a cached read-only identity (rules.eye); matmul's
batched JVP and VJP make the matrix itself, not a product, for a whole identity (rules.is_eye,
rules.product_with_eye). These tests look for a way that gives a wrong number: a seed
taken for the identity that is not all of it, the matrix leaking into a result or being
read after it changed, nested transforms through A @ x, and dtypes. The same file checks
backward(gradient=v, create_graph=True) against PyTorch, the lock around leaf accumulation
and the transforms' leaves (tensor.leaf). Oracles: JAX (64-bit) and PyTorch."""

import operator
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ad
from ad import rules

RNG = np.random.default_rng(20261129)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 4))
C = RNG.standard_normal((4, 3))
X = RNG.standard_normal(4)


def _close(got, want, tol=1e-12):
    import jax

    got, want = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
    return len(got) == len(want) and all(
        np.allclose(np.asarray(g), np.asarray(w), rtol=tol, atol=tol) for g, w in zip(got, want)
    )


def _programs(jnp):
    """name -> (f in NumPy, the same f in jax.numpy): each has A @ x with a plain matrix A
    and a vector x, where the one-pass seed reaches matmul whole or through views of it."""
    return {
        "linear": (lambda x: A @ x, lambda x: A @ x),
        "x used twice": (lambda x: A @ x + A @ (2 * x), lambda x: A @ x + A @ (2 * x)),
        "x through two paths": (lambda x: A @ x + A @ (B @ x), lambda x: A @ x + A @ (B @ x)),
        "chain of matrices": (lambda x: C @ (A @ x), lambda x: C @ (A @ x)),
        "square chain": (lambda x: B @ (B @ x), lambda x: B @ (B @ x)),
        "tanh": (lambda x: np.tanh(A @ x), lambda x: jnp.tanh(A @ x)),
        "quadratic": (lambda x: x * (B @ x), lambda x: x * (B @ x)),
        "two outputs": (lambda x: (A @ x, B @ x), lambda x: (A @ x, B @ x)),
        "output reshaped": (lambda x: (B @ x).reshape(2, 2), lambda x: (B @ x).reshape(2, 2)),
        "output transposed": (lambda x: (B @ x).reshape(2, 2).T, lambda x: (B @ x).reshape(2, 2).T),
        "x reversed": (lambda x: B @ x[::-1], lambda x: B @ x[::-1]),
        "x as a row": (lambda x: x @ B, lambda x: x @ B),
    }


_NAMES = list(_programs(np))


# -- the shortcut against JAX, through every transform that seeds in one pass -----------
@pytest.mark.parametrize("name", _NAMES)
@pytest.mark.parametrize("how", ["one pass", "chunk=1", "threads"])
def test_jacobians_through_the_identity_shortcut_equal_jaxs(jax64, name, how):
    f, fj = _programs(jax64.numpy)[name]
    kw = {"one pass": {}, "chunk=1": {"chunk": 1}, "threads": {"executor": ThreadPoolExecutor(2)}}[how]
    for ours, theirs in [(ad.jacfwd, jax64.jacfwd), (ad.jacrev, jax64.jacrev)]:
        assert _close(ours(f, **kw)(X), theirs(fj)(X)), ours.__name__
    assert _close(ad.jacobian(f, mode="auto")(X), jax64.jacfwd(fj)(X))


@pytest.mark.parametrize("name", ["tanh", "quadratic", "square chain", "chain of matrices"])
def test_nested_jacobians_through_the_identity_shortcut_equal_jaxs(jax64, name):
    f, fj = _programs(jax64.numpy)[name]
    pairs = [(ad.jacfwd, jax64.jacfwd), (ad.jacrev, jax64.jacrev)]
    for outer, jo in pairs:
        for inner, ji in pairs:
            assert _close(outer(inner(f))(X), jo(ji(fj))(X)), (outer.__name__, inner.__name__)


def test_hessians_and_hvps_through_a_matrix_product_equal_jaxs(jax64):
    jnp = jax64.numpy
    v = RNG.standard_normal(4)
    scalars = [
        (lambda x: x @ (B @ x), lambda x: x @ (B @ x)),
        (lambda x: np.sum(np.tanh(A @ x) ** 2), lambda x: jnp.sum(jnp.tanh(A @ x) ** 2)),
        (lambda x: np.log(np.sum(np.exp(B @ x))), lambda x: jnp.log(jnp.sum(jnp.exp(B @ x)))),
    ]
    for f, fj in scalars:
        assert _close(ad.hessian(f)(X), jax64.hessian(fj)(X))
        want = jax64.jvp(jax64.grad(fj), (X,), (v,))[1]
        for mode in ad.functional.HVP_MODES:
            assert _close(ad.hvp(f, (X,), (v,), mode=mode)[1], want), mode


def test_gradients_of_functions_that_take_a_jacobian_inside_equal_jaxs(jax64):
    jnp = jax64.numpy

    def ours(jac):
        return lambda x: np.sum(jac(lambda y: np.tanh(B @ y) * x)(x) ** 2)

    theirs = lambda x: jnp.sum(jax64.jacfwd(lambda y: jnp.tanh(B @ y) * x)(x) ** 2)  # noqa: E731
    for jac in (ad.jacfwd, ad.jacrev):
        assert _close(ad.grad(ours(jac))(X), jax64.grad(theirs)(X)), jac.__name__
        assert _close(ad.jacfwd(ad.grad(ours(jac)))(X), jax64.jacfwd(jax64.grad(theirs))(X))


def test_jacobians_in_the_matrix_of_a_jacobian_in_x_equal_jaxs(jax64):
    # A traced by the outer transform: the inner matmul sees a Box, never the shortcut
    jnp = jax64.numpy
    linear = lambda M: ad.jacfwd(lambda y: M @ y)(X)  # noqa: E731
    bent = lambda M: ad.jacrev(lambda y: np.tanh(M @ y))(X)  # noqa: E731
    linear_j = lambda M: jax64.jacfwd(lambda y: M @ y)(X)  # noqa: E731
    bent_j = lambda M: jax64.jacrev(lambda y: jnp.tanh(M @ y))(X)  # noqa: E731
    for outer, jo in [(ad.jacfwd, jax64.jacfwd), (ad.jacrev, jax64.jacrev)]:
        assert _close(outer(linear)(A), jo(linear_j)(A))
        assert _close(outer(bent)(A), jo(bent_j)(A))


@pytest.mark.parametrize("a_dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_, np.complex64])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64, np.complex128])
def test_the_shortcut_keeps_the_chunked_products_dtype_and_values(a_dtype, x_dtype):
    M = (RNG.standard_normal((3, 3)) * 3).astype(a_dtype)
    x = RNG.standard_normal(3).astype(x_dtype)
    holomorphic = np.iscomplexobj(x)
    if np.iscomplexobj(M) and not holomorphic:
        pytest.skip("a complex matrix of a real x gives a complex output: jacobians refuse it")
    for jac in (ad.jacfwd, ad.jacrev):
        one = jac(lambda x: M @ x, holomorphic=holomorphic)(x)
        chunked = jac(lambda x: M @ x, chunk=1, holomorphic=holomorphic)(x)
        assert one.dtype == chunked.dtype and np.array_equal(one, chunked), jac.__name__


# -- is_eye: only the whole cached identity ------------------------------------------------
def test_seeds_that_are_part_of_the_identity_are_not_taken_for_it():
    x, y = np.ones(2), np.ones(2)
    for _, seeds in ad.transform.one_hot_chunks([x, y], chunk=2):  # n = 4 in two chunks
        for s in seeds:
            assert s is None or not rules.is_eye(s)
    (kk, (seed,)), *_ = ad.transform.one_hot_chunks([np.ones(3)], chunk=2)
    assert not rules.is_eye(seed)
    e = rules.eye(4, np.float64)
    assert not rules.is_eye(e[:2, :2]) and not rules.is_eye(e[2:, 2:]) and not rules.is_eye(e[::-1])
    assert not rules.is_eye(e.T.copy()) and not rules.is_eye(e.astype(np.float32))
    shifted = np.lib.stride_tricks.as_strided(e[0, 1:], shape=(3, 3), strides=e.strides)
    assert not rules.is_eye(shifted)


def test_a_whole_seed_of_a_matrix_input_or_several_leaves_gives_jaxs_jacobian(jax64):
    X2 = RNG.standard_normal((2, 2))
    col = RNG.standard_normal((4, 1))
    assert _close(ad.jacfwd(lambda X: B @ X.reshape(-1))(X2), jax64.jacfwd(lambda X: B @ X.reshape(-1))(X2))
    assert _close(
        ad.jacfwd(lambda X: B @ X.T.reshape(-1))(X2), jax64.jacfwd(lambda X: B @ X.T.reshape(-1))(X2)
    )
    assert _close(ad.jacrev(lambda X: B @ X[:, 0])(col), jax64.jacrev(lambda X: B @ X[:, 0])(col))
    two = (lambda x, y: A @ x + A @ y, (X, 2 * X))
    for ours, theirs in [(ad.jacfwd, jax64.jacfwd), (ad.jacrev, jax64.jacrev)]:
        assert _close(ours(two[0], argnums=(0, 1))(*two[1]), theirs(two[0], argnums=(0, 1))(*two[1]))


def test_the_identity_cache_emptied_while_a_seed_lives_gives_the_right_jacobian():
    def f(x):
        for n in range(2, 12):  # more sizes than the cache keeps: it is emptied and rebuilt
            ad.jacfwd(lambda y: np.sin(y))(np.ones(n))
        return A @ x

    for jac in (ad.jacfwd, ad.jacrev):
        assert np.array_equal(jac(f)(X), A)


# -- the matrix itself handed over: never shared, never written, never read late -----------
@pytest.mark.parametrize(
    "transform",
    [
        lambda f: ad.jacfwd(f)(X),
        lambda f: ad.jacrev(f)(X),
        lambda f: ad.jacobian(f, mode="forward")(X),
        lambda f: ad.jacobian(f, mode="reverse")(X),
        lambda f: ad.jacfwd(f, executor=ThreadPoolExecutor(2))(X),
        lambda f: ad.jacrev(f, executor=ThreadPoolExecutor(2))(X),
    ],
)
def test_a_jacobian_of_a_linear_map_is_writable_and_not_the_callers_matrix(transform):
    M = A.copy()
    J = transform(lambda x: M @ x)
    assert np.array_equal(J, A) and J.flags.writeable and not np.shares_memory(J, M)
    M[...] = 0.0
    assert np.array_equal(J, A)


def test_a_hessian_of_a_quadratic_form_is_not_the_callers_matrix():
    M = B.copy()
    H = ad.hessian(lambda x: 0.5 * x @ (M @ x))(X)
    assert np.allclose(H, 0.5 * (B + B.T)) and not np.shares_memory(H, M)


@pytest.mark.parametrize(
    "body, want",
    [
        (lambda y, x: operator.iadd(y, 1.0), A),
        (lambda y, x: operator.imul(y, 2.0), 2 * A),
        (lambda y, x: operator.isub(y, A @ x / 2), A / 2),
        (lambda y, x: operator.iadd(y, x[:3]), A + np.eye(3, 4)),
    ],
)
def test_in_place_updates_of_a_matrix_products_result_leave_the_matrix_alone(body, want):
    M = A.copy()

    def f(x):
        y = M @ x
        y = body(y, x)
        return y

    for jac in (ad.jacfwd, ad.jacrev):
        assert np.allclose(jac(f)(X), want), jac.__name__
        assert np.array_equal(M, A), jac.__name__


def _workspace_program():
    """f(x) = stack_k (M_k x), with one workspace matrix refilled for each k (plain NumPy
    code that reuses a buffer), and its Jacobian."""
    work = np.empty((2, 3))
    base = np.arange(6.0).reshape(2, 3) + 1.0

    def f(x):
        out = []
        for k in range(3):
            work[...] = base * (k + 1)
            out.append(work @ x)
        return np.stack(out)

    return f, np.stack([base * (k + 1) for k in range(3)])


def test_forward_mode_with_a_refilled_workspace_matrix_chunked_is_right():
    f, want = _workspace_program()
    assert np.array_equal(ad.jacfwd(f, chunk=1)(np.ones(3)), want)


def test_forward_mode_with_a_refilled_workspace_matrix_in_one_pass_is_right():
    f, want = _workspace_program()
    assert np.array_equal(ad.jacfwd(f)(np.ones(3)), want)


@pytest.mark.parametrize("edge", [np.inf, -0.0])
def test_a_jacobian_with_an_edge_entry_does_not_depend_on_the_chunk_or_the_engine(edge):
    M = np.array([[1.0, edge], [2.0, 3.0]])
    x = np.ones(2)
    compiled = ad.compile(lambda x: M @ x, x)
    with np.errstate(invalid="ignore"):
        for jac, replay in [(ad.jacfwd, compiled.jacfwd), (ad.jacrev, compiled.jacrev)]:
            one, chunked = jac(lambda x: M @ x)(x), jac(lambda x: M @ x, chunk=1)(x)
            for other in (chunked, replay(x)):
                assert np.array_equal(one, other, equal_nan=True), jac.__name__
                assert np.array_equal(np.signbit(one), np.signbit(other)), jac.__name__


def test_a_matrix_of_python_objects_gets_the_transforms_own_error():
    M = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=object)
    for jac in (ad.jacfwd, ad.jacrev):
        with pytest.raises(TypeError, match="return arrays of numbers"):
            jac(lambda x: M @ x)(np.ones(2))


# -- backward(gradient=v, create_graph=True) against PyTorch ---------------------------------
def _both(body):
    """body(make) run on PyTorch and on ad, make(values, requires_grad) building the tensors;
    the arrays it returns (None kept), side by side."""
    torch = pytest.importorskip("torch")

    def torch_make(values, requires_grad=False):
        dtype = torch.complex128 if np.iscomplexobj(values) else torch.float64
        return torch.tensor(values, dtype=dtype, requires_grad=requires_grad)

    def ad_make(values, requires_grad=False):
        return ad.tensor(np.asarray(values), requires_grad=requires_grad)

    def arrays(out):
        return [None if o is None else np.array(o.detach().numpy()) for o in out]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns of the cycle a create_graph .grad makes
        return arrays(body(torch_make)), arrays(body(ad_make))


def _same(theirs, ours):
    return all(
        (p is None and q is None) or (p is not None and q is not None and np.allclose(p, q))
        for p, q in zip(theirs, ours, strict=True)
    )


def _carried_through_a_product(make):
    x, v0 = make([1.0, 2.0, 3.0], True), make([0.3, -1.0, 2.0], True)
    v = v0 * 1.5
    (x * x * make([1.0, 3.0, 0.5])).backward(gradient=v, create_graph=True)
    first = x.grad * 1.0
    (x.grad * x.grad).sum().backward()
    return first, v0.grad, x.grad


def _complex_carried(make):
    x = make(np.array([1 + 1j, 2 - 1j, 0.5j]), True)
    v0 = make(np.array([0.3 + 0.1j, -1 + 2j, 2.0 + 0j]), True)
    c = make(np.array([1 + 2j, 3 - 1j, 0.5j]))
    (c * x * x).backward(gradient=v0 * 1.0, create_graph=True)
    first = x.grad * 1.0
    (abs(x.grad) ** 2).sum().backward()
    return first, v0.grad, x.grad


def _v_is_the_leaf(make):
    x = make([1.0, 2.0], True)
    (x * 3.0).backward(gradient=x, create_graph=True)
    g = x.grad
    x.grad = None
    (g * g).sum().backward()
    return g, x.grad


def _twice_retained(make):
    x, v = make([1.0, 2.0], True), make([3.0, 4.0], True)
    y = x * x
    y.backward(gradient=v, create_graph=True, retain_graph=True)
    y.backward(gradient=v, create_graph=True)
    x.grad.sum().backward()
    return x.grad, v.grad


def _without_create_graph(make):
    x, v = make([1.0, 2.0], True), make([3.0, 4.0], True)
    (x * x).backward(gradient=v)
    return x.grad, v.grad


@pytest.mark.parametrize(
    "body",
    [_carried_through_a_product, _complex_carried, _v_is_the_leaf, _twice_retained, _without_create_graph],
)
def test_backward_with_a_gradient_that_requires_grad_matches_pytorch(body):
    theirs, ours = _both(body)
    assert _same(theirs, ours), (theirs, ours)


def _v_reaches_a_leaf_unchanged(make):
    x, v = make([1.0, 2.0], True), make([3.0, 4.0], True)
    (x + 1.0).backward(gradient=v, create_graph=True)  # x.grad is v itself
    (x.grad * v).sum().backward()  # d/dv <v, v> = 2 v
    return v.grad, x.grad


def _v_reaches_two_leaves_unchanged(make):
    x, w, v = make([1.0, 2.0], True), make([5.0, 6.0], True), make([3.0, 4.0], True)
    (x + w).backward(gradient=v, create_graph=True)
    (x.grad * w.grad * v).sum().backward()  # d/dv sum(v^3) = 3 v^2
    return v.grad, x.grad, w.grad


def _v_reaches_a_retained_gradient_unchanged(make):
    x, v = make([1.0, 2.0], True), make([3.0, 4.0], True)
    y = x * 2.0
    y.retain_grad()
    (y + 1.0).backward(gradient=v, create_graph=True)  # y.grad is v itself
    (y.grad * v).sum().backward()
    return v.grad, y.grad


@pytest.mark.parametrize(
    "body",
    [_v_reaches_a_leaf_unchanged, _v_reaches_two_leaves_unchanged, _v_reaches_a_retained_gradient_unchanged],
)
def test_a_gradient_leaf_that_reaches_a_leaf_unchanged_stays_in_the_graph(body):
    theirs, ours = _both(body)
    assert _same(theirs, ours), (theirs, ours)


def test_backward_with_a_gradient_traced_by_an_enclosing_transform_raises():
    # x.grad = 2 s: dropping v's derivative made d/ds sum(x.grad) = 0 instead of 6
    def g(s):
        x = ad.tensor(np.ones(3), requires_grad=True)
        (x * 2.0).backward(gradient=s * np.ones(3))
        return np.sum(x.grad)

    for transform in (ad.grad(g), ad.jacrev(g), lambda s: ad.jvp(g, (s,), (1.0,))):
        with pytest.raises(TypeError, match="traced at another level"):
            transform(1.0)


# -- saved values of a lower level are guarded by their versions ----------------------------
def test_a_lower_level_tensor_written_after_an_inner_transform_used_it_raises():
    def outer(w):
        y = w * 1.0

        def h(x):
            z = np.sum(x * y)  # the VJP in x reads y, a Tensor of the outer level
            y[0] = 5.0
            return z

        return np.sum(ad.grad(h)(np.ones(2)) ** 2)

    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        ad.grad(outer)(np.array([1.0, 2.0]))


def test_an_eager_tensor_written_after_a_transform_used_it_raises():
    e = ad.tensor(np.array([1.0, 2.0]))

    def h(x):
        z = np.sum(x * e)
        with ad.no_grad():
            e[0] = 5.0
        return z

    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        ad.grad(h)(np.ones(2))


# -- the lock around accumulation ------------------------------------------------------------
def test_create_graph_backwards_from_threads_into_one_leaf_add_every_gradient_without_deadlock():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    errors = []

    def run():
        try:
            for _ in range(20):
                (x * x).sum().backward(create_graph=True)  # accumulates out of place, by an op
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "deadlock in accumulate"
    assert not errors
    assert np.allclose(x.grad.detach().numpy(), 80 * 2 * np.array([1.0, 2.0]))
    g = x.grad
    x.grad = None
    g.sum().backward()  # the accumulated gradient 160 x still differentiates
    assert np.allclose(x.grad.numpy(), [160.0, 160.0])


# -- the transforms' leaves (tensor.leaf) ----------------------------------------------------
def test_leaves_over_complex_and_traced_inputs_give_jaxs_derivatives(jax64):
    jnp = jax64.numpy
    z = np.array([1.0 + 2.0j, -0.5 + 0.3j])
    f = lambda z: np.sum(np.abs(np.sin(z)) ** 2)  # noqa: E731
    fj = lambda z: jnp.sum(jnp.abs(jnp.sin(z)) ** 2)  # noqa: E731
    assert _close(ad.grad(f)(z), jax64.grad(fj)(z))
    assert _close(
        ad.jacrev(lambda z: np.sin(z), holomorphic=True)(z), jax64.jacrev(jnp.sin, holomorphic=True)(z)
    )
    g = lambda x: np.sum(np.tanh(A @ x) ** 3)  # noqa: E731
    gj = lambda x: jnp.sum(jnp.tanh(A @ x) ** 3)  # noqa: E731
    assert _close(ad.grad(g)(X), jax64.grad(gj)(X))
    assert _close(ad.jacrev(ad.grad(g))(X), jax64.hessian(gj)(X))
    assert _close(
        ad.grad(lambda s: np.sum(ad.grad(g)(X * s)))(1.5),
        jax64.grad(lambda s: jnp.sum(jax64.grad(gj)(X * s)))(1.5),
    )


def test_leaves_over_an_eager_tensor_keep_its_graph(jax64):
    # the transform's leaf wraps the eager Tensor (a Box of a lower level): the gradient is
    # a Tensor of that level, and its backward gives the Hessian's row sums
    jnp = jax64.numpy
    w = ad.tensor(X, requires_grad=True)
    got = ad.grad(lambda x: np.sum(np.tanh(A @ x) ** 2))(w)
    gj = lambda x: jnp.sum(jnp.tanh(A @ x) ** 2)  # noqa: E731
    assert np.allclose(got.detach().numpy(), jax64.grad(gj)(X), rtol=1e-12, atol=1e-12)
    got.sum().backward()
    assert np.allclose(w.grad.numpy(), jax64.hessian(gj)(X).sum(axis=0), rtol=1e-12, atol=1e-12)


def test_a_masked_array_input_is_refused_not_given_a_made_up_derivative():
    # the rules ran on the masked slot: d/dx sum(x * x) came out 1.0 there
    m = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    for transform in (
        ad.grad(lambda x: np.sum(x * x)),
        ad.jacfwd(lambda x: x * x),
        ad.jacrev(lambda x: x * x),
    ):
        with pytest.raises(TypeError, match="masked arrays"):
            transform(m)

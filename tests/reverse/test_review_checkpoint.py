"""ad.checkpoint against the same function unchecked and against jax.checkpoint: pytrees,
several outputs, held arguments, float32, every nesting; randomness, changed closures and side
effects, which JAX leaves to its functional random numbers and immutable arrays."""

import functools

import numpy as np
import pytest

import ad
from ad.testing import assert_trees_close

X = np.array([0.3, -0.7, 1.1])
W = np.array([[1.0, 0.5, -0.3], [0.2, 0.1, 0.7], [-1.0, 0.4, 0.9]])
P = {"W": W, "b": np.array([0.1, 0.2, -0.3])}
V = np.array([0.5, -1.0, 2.0])


@pytest.fixture(scope="module")
def jnp(jax64):
    import jax.numpy

    return jax.numpy


def _close(a, b, rtol=1e-12, atol=1e-13):
    assert_trees_close(a, b, rtol, atol)


def _layer(np):
    """(params, x, n) -> ({"y": ..., "s": ...}, [x * n, exp(b)]): pytrees in and out, n held."""

    def layer(p, x, n):
        y = np.tanh(p["W"] @ x + p["b"])
        return {"y": y, "s": np.sum(y**2)}, [x * n, np.exp(p["b"])]

    return layer


def _loss(np, wrap):
    layer = wrap(_layer(np))

    def loss(p, x):
        d, rest = layer(p, x, 3)
        return d["s"] + np.sum(d["y"] * rest[0]) + np.sum(rest[1] ** 2 * np.sin(x))

    return loss


def _jax_checkpoint(f):
    import jax

    return jax.checkpoint(f, static_argnums=(2,))


def _unchecked(f):
    return f


def test_pytree_arguments_and_results_give_the_unchecked_and_jax_gradients(jnp):
    import jax

    expected = jax.grad(_loss(jnp, _jax_checkpoint), argnums=(0, 1))(P, X)
    _close(ad.grad(_loss(np, _unchecked), argnums=(0, 1))(P, X), expected)
    for derivative in (ad.grad, ad.jacfwd, ad.jacrev):
        _close(derivative(_loss(np, ad.checkpoint), argnums=(0, 1))(P, X), expected)


def test_hessians_and_every_hvp_mode_through_a_checkpoint(jnp):
    import jax

    expected = jax.hessian(_loss(jnp, _jax_checkpoint), argnums=1)(P, X)
    f = _loss(np, ad.checkpoint)
    _close(ad.hessian(f, argnums=1)(P, X), expected)
    _close(ad.jacrev(ad.grad(f, argnums=1), argnums=1)(P, X), expected)
    g = lambda x: f(P, x)  # noqa: E731
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        _close(ad.hvp(g, (X,), (V,), mode=mode)[1], expected @ V)


def test_a_checkpoint_inside_grad_inside_jacfwd_and_a_checkpoint_of_a_checkpoint(jnp):
    import jax

    def f(np, wrap):
        inner = wrap(lambda x: np.tanh(W @ x) * np.sin(x))
        return lambda x: np.sum(wrap(lambda x: inner(x) ** 2)(x) * x)

    expected = jax.jacfwd(jax.grad(f(jnp, jax.checkpoint)))(X)
    _close(ad.jacfwd(ad.grad(f(np, ad.checkpoint)))(X), expected)
    _close(ad.jacrev(ad.grad(f(np, ad.checkpoint)))(X), expected)
    _close(ad.jacfwd(ad.grad(f(np, _unchecked)))(X), expected)


def test_several_outputs_some_unused_some_constant_some_integer(jnp):
    import jax

    def f(np, wrap):
        g = wrap(lambda x: (np.sin(x), np.cos(x).sum(), np.ones(2), np.argmax(x)))
        return lambda x: g(x)[0] * g(x)[3] + g(x)[2].sum()

    for ours, theirs in ((ad.jacrev, jax.jacrev), (ad.jacfwd, jax.jacfwd)):
        _close(ours(f(np, ad.checkpoint))(X), theirs(f(jnp, jax.checkpoint))(X))


def test_keyword_arguments_are_arguments_like_the_positional_ones(jnp):
    import jax

    def f(np, wrap):
        g = wrap(lambda x, scale=1.0, n=1: np.sin(x) ** n * scale)
        return lambda x, s: np.sum(g(x, n=3, scale=s))

    expected = jax.grad(f(jnp, _unchecked), argnums=(0, 1))(X, 2.0)
    _close(ad.grad(f(np, ad.checkpoint), argnums=(0, 1))(X, 2.0), expected)
    _close(ad.hessian(f(np, ad.checkpoint))(X, 2.0), jax.hessian(f(jnp, _unchecked))(X, 2.0))


def test_float32_derivatives_are_the_unchecked_ones_in_dtype_and_value():
    x32 = X.astype(np.float32)
    W32 = W.astype(np.float32)

    def f(wrap):
        return wrap(lambda x: np.tanh(W32 @ x) * np.sin(x))

    for derivative in (ad.jacfwd, ad.jacrev):
        ours, plain = derivative(f(ad.checkpoint))(x32), derivative(f(_unchecked))(x32)
        assert ours.dtype == plain.dtype == np.float32
        np.testing.assert_array_equal(ours, plain)
    g = ad.grad(lambda x: np.sum(f(ad.checkpoint)(x) ** 2))(x32)
    assert g.dtype == np.float32


def test_a_closure_over_a_traced_value(jnp):
    import jax

    def f(np, wrap):
        return lambda w: np.sum(wrap(lambda y: np.sin(w * y))(np.ones(3) * 2.0) * w)

    for ours, theirs in ((ad.grad, jax.grad), (ad.hessian, jax.hessian)):
        _close(ours(f(np, ad.checkpoint))(X), theirs(f(jnp, jax.checkpoint))(X))


def _inner_closure(np, wrap, grad):
    """f closes over w, which an inner grad differentiates: a level above f's argument x's."""

    def outer(x):
        g = grad(lambda w: np.sum(wrap(lambda y: np.sin(y * w) * y)(x) ** 2))(V)
        return np.sum(g * x)

    return outer


def _between_closure(np, wrap, grad):
    """f's arguments are traced by the outermost and the innermost grad, and f closes over w,
    traced by the grad between them."""

    def outer(x):
        def middle(w):
            inner = lambda z: np.sum(wrap(lambda a, b: np.sin(a * w) * b)(x, z) ** 2)  # noqa: E731
            return np.sum(grad(inner)(2.0 * V) * w)

        return np.sum(grad(middle)(V) * x)

    return outer


@pytest.mark.parametrize("program", [_inner_closure, _between_closure])
def test_f_closing_over_a_value_an_inner_transform_traces(program, jnp):
    # the gradient was 0: as one op of x's level, f's output hid w from the inner grad
    import jax

    expected = jax.grad(program(jnp, jax.checkpoint, jax.grad))(X)
    _close(ad.grad(program(np, ad.checkpoint, ad.grad))(X), expected)
    _close(ad.jacfwd(program(np, ad.checkpoint, ad.grad))(X), expected)


def test_an_eager_tensor_backpropagates_through_a_checkpoint_to_second_order():
    f = ad.checkpoint(lambda x: np.tanh(W @ x) * np.sin(x))
    t = ad.tensor(X, requires_grad=True)
    (f(t) ** 2).sum().backward(create_graph=True)
    g = t.grad
    np.testing.assert_allclose(g.detach().numpy(), ad.grad(lambda x: np.sum(f(x) ** 2))(X), rtol=1e-14)
    t.grad = None
    (g * V).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), ad.hessian(lambda x: np.sum(f(x) ** 2))(X) @ V, rtol=1e-12)


@pytest.mark.parametrize("strategy", ["all", "sqrt", "recursive"])
def test_checkpoint_sequential_gives_the_chains_gradient_and_hessian(strategy, jnp):
    import jax

    def chain(np, x):
        return functools.reduce(lambda v, i: np.tanh(W @ v + 0.1 * i), range(7), x)

    layers = [lambda v, i=i: np.tanh(W @ v + 0.1 * i) for i in range(7)]
    f = lambda x: np.sum(ad.checkpoint_sequential(layers, strategy)(x) ** 2)  # noqa: E731
    _close(ad.grad(f)(X), jax.grad(lambda x: jnp.sum(chain(jnp, x) ** 2))(X))
    _close(ad.hessian(f)(X), jax.hessian(lambda x: jnp.sum(chain(jnp, x) ** 2))(X), rtol=1e-11)


# -- what a recomputation may see: randomness, closures, side effects ---------------------------
def _dropout(x):
    mask = np.random.rand(*x.shape) < 0.5
    return np.where(mask, np.sin(x) * 2.0, 0.0)


@pytest.mark.parametrize(
    "derivative",
    [ad.grad, ad.hessian, lambda f: ad.jacrev(ad.grad(f))],
    ids=["grad", "hessian", "jacrev(grad)"],
)
def test_numpys_global_random_numbers_are_replayed_in_the_recomputation(derivative):
    # The derivative is that of the function with the masks it drew, as without checkpointing
    # (PyTorch's checkpoint restores its random state likewise); the stream afterwards is the same
    f = lambda x: np.sum(ad.checkpoint(_dropout)(np.tile(x, 8)) ** 2)  # noqa: E731
    g = lambda x: np.sum(_dropout(np.tile(x, 8)) ** 2)  # noqa: E731
    np.random.seed(7)
    ours = derivative(f)(X)
    after = np.random.rand()
    np.random.seed(7)
    expected = derivative(g)(X)
    assert np.random.rand() == after
    np.testing.assert_allclose(ours, expected, rtol=1e-14)
    assert np.any(expected != 0.0)


def test_a_generators_random_numbers_raise_instead_of_a_gradient_of_other_numbers():
    rng = np.random.default_rng(0)
    f = ad.checkpoint(lambda x: x * rng.standard_normal(3))
    with pytest.raises(ValueError, match=r"checkpoint\(<lambda>\): recomputing.*another output.*Generator"):
        ad.grad(lambda x: np.sum(f(x)))(X)
    out, pull = ad.vjp(f, X)  # without a checkpoint the gradient is the draw itself
    assert np.all(out != 0.0)


def test_an_array_changed_between_forward_and_backward_raises():
    m = np.array([1.0, 2.0, 3.0])
    f = ad.checkpoint(lambda x: np.sin(x) * m)
    out, pull = ad.vjp(lambda x: np.sum(f(x) ** 2), X)
    m[:] = [10.0, 20.0, 30.0]
    with pytest.raises(ValueError, match="modified after the first run"):
        pull(1.0)


def test_side_effects_run_again_in_the_backward_pass_and_once_in_forward_mode():
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x)

    ad.grad(lambda x: np.sum(ad.checkpoint(f)(x)))(X)
    assert len(calls) == 2  # the forward run and the recomputation
    calls.clear()
    ad.jacfwd(ad.checkpoint(f))(X)
    assert len(calls) == 1  # forward mode stores nothing: f runs once

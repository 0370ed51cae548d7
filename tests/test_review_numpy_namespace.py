"""Programs written for HIPS autograd, run through `import ad.numpy as np`: the same numbers.

Each program is written once against a namespace `np` and runs three ways: with ad.numpy under
ad's transforms, with jax.numpy under JAX's (the oracle CI has), and with autograd.numpy under
autograd's where autograd is installed. The programs are autograd's own examples cut to a few
dimensions (its RNN, LSTM, fluid simulation, Gaussian process, MLP, mixture model, HMM and
Taylor series) and the idioms of its test suite: arrays built from lists of traced values,
r_ and c_, stacks of scalars, reductions of lists, np.linalg.
"""

import warnings

import numpy
import pytest

import ad
import ad.numpy as anp
from ad.testing import assert_trees_close


@pytest.fixture(scope="module")
def jnp(jax64):
    import jax.numpy

    return jax.numpy


@pytest.fixture(scope="module")
def autograd():
    return pytest.importorskip("autograd")


def _programs(np, logsumexp):
    """autograd's examples, each f(params, *data) -> a scalar loss."""

    def sigmoid(x):
        return 0.5 * (np.tanh(x) + 1.0)

    def concat_and_multiply(weights, *args):
        cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
        return np.dot(cat_state, weights)

    def log_probs(params, hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)

    def rnn(params, inputs):
        hiddens = np.repeat(params["init hiddens"], inputs.shape[1], axis=0)
        output = [log_probs(params, hiddens)]
        for x in inputs:
            hiddens = np.tanh(concat_and_multiply(params["change"], x, hiddens))
            output.append(log_probs(params, hiddens))
        loglik = 0.0
        for t in range(inputs.shape[0]):
            loglik += np.sum(output[t] * inputs[t])
        return -loglik / (inputs.shape[0] * inputs.shape[1])

    def lstm(params, inputs):
        hiddens = np.repeat(params["init hiddens"], inputs.shape[1], axis=0)
        cells = np.repeat(params["init cells"], inputs.shape[1], axis=0)
        loglik = 0.0
        for x in inputs:
            change = np.tanh(concat_and_multiply(params["change"], x, hiddens))
            forget = sigmoid(concat_and_multiply(params["forget"], x, hiddens))
            ingate = sigmoid(concat_and_multiply(params["ingate"], x, hiddens))
            outgate = sigmoid(concat_and_multiply(params["outgate"], x, hiddens))
            cells = cells * forget + ingate * change
            hiddens = outgate * np.tanh(cells)
            loglik = loglik + np.sum(log_probs(params, hiddens) * x)
        return -loglik

    def project(vx, vy):
        p = np.zeros(vx.shape)
        h = 1.0 / vx.shape[0]
        div = (
            -0.5
            * h
            * (
                np.roll(vx, -1, axis=0)
                - np.roll(vx, 1, axis=0)
                + np.roll(vy, -1, axis=1)
                - np.roll(vy, 1, axis=1)
            )
        )
        for _ in range(10):
            p = (
                div
                + np.roll(p, 1, axis=0)
                + np.roll(p, -1, axis=0)
                + np.roll(p, 1, axis=1)
                + np.roll(p, -1, axis=1)
            ) / 4.0
        vx -= 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
        vy -= 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
        return vx, vy

    def advect(f, vx, vy):
        rows, cols = f.shape
        cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
        center_xs = (cell_xs - vx).ravel()
        center_ys = (cell_ys - vy).ravel()
        left_ix = np.floor(center_xs).astype(int)
        top_ix = np.floor(center_ys).astype(int)
        rw = center_xs - left_ix
        bw = center_ys - top_ix
        left_ix = np.mod(left_ix, rows)
        right_ix = np.mod(left_ix + 1, rows)
        top_ix = np.mod(top_ix, cols)
        bot_ix = np.mod(top_ix + 1, cols)
        flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) + rw * (
            (1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix]
        )
        return np.reshape(flat_f, (rows, cols))

    def fluid(params, smoke):
        rows, cols = smoke.shape
        vx = np.reshape(params[: rows * cols], (rows, cols))
        vy = np.reshape(params[rows * cols :], (rows, cols))
        for _ in range(3):
            vx_updated = advect(vx, vx, vy)
            vy_updated = advect(vy, vx, vy)
            vx, vy = project(vx_updated, vy_updated)
            smoke = advect(smoke, vx, vy)
        return np.mean((smoke - 0.3) ** 2)

    def gaussian_process(params, x, y):
        mean, noise, kernel = params[0], np.exp(params[1]) + 0.0001, params[2:]
        lengthscales = np.exp(kernel[1:])
        diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(x / lengthscales, 0)
        cov = np.exp(kernel[0]) * np.exp(-0.5 * np.sum(diffs**2, axis=2)) + noise * np.eye(len(y))
        r = y - mean * np.ones(len(y))
        return 0.5 * (np.dot(r, np.linalg.solve(cov, r)) + np.linalg.slogdet(cov)[1])

    def mlp(params, inputs, targets):
        for W, b in params:
            outputs = np.dot(inputs, W) + b
            inputs = np.tanh(outputs)
        log_lik = np.sum((outputs - logsumexp(outputs, axis=1, keepdims=True)) * targets)
        return -log_lik + 0.1 * sum(np.sum(W**2) + np.sum(b**2) for W, b in params)

    def mixture(params, data):
        proportions = params["log proportions"] - logsumexp(params["log proportions"])
        cluster_lls = []
        for log_proportion, mean, cov_sqrt in zip(proportions, params["means"], params["lower triangles"]):
            cov = np.dot(cov_sqrt.T, cov_sqrt)
            d = data - mean
            quadratic = np.sum(d * np.linalg.solve(cov, d.T).T, axis=1)
            cluster_lls.append(log_proportion - 0.5 * quadratic - 0.5 * np.linalg.slogdet(cov)[1])
        return -np.sum(logsumexp(np.vstack(cluster_lls), axis=0))

    def hmm(natural_params, data):
        log_pi, log_A, log_B = natural_params
        log_alpha = log_pi
        for y in data:
            log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]
        return logsumexp(log_alpha)

    return {
        "rnn": rnn,
        "lstm": lstm,
        "fluid": fluid,
        "gaussian_process": gaussian_process,
        "mlp": mlp,
        "mixture": mixture,
        "hmm": hmm,
    }


def _arguments():
    rs = numpy.random.RandomState(0)
    inputs = numpy.eye(4)[rs.randint(0, 4, size=(5, 3))]  # one-hot characters: 5 steps, 3 strings
    lstm = {
        name: rs.randn(*shape) * 0.3
        for name, shape in [
            ("init cells", (1, 5)),
            ("init hiddens", (1, 5)),
            ("change", (10, 5)),
            ("forget", (10, 5)),
            ("ingate", (10, 5)),
            ("outgate", (10, 5)),
            ("predict", (6, 4)),
        ]
    }
    rnn = {k: lstm[k] for k in ("init hiddens", "change", "predict")}
    mixture = {
        "log proportions": rs.randn(3) * 0.1,
        "means": rs.randn(3, 2),
        "lower triangles": numpy.eye(2) + 0.1 * rs.randn(3, 2, 2),
    }
    hmm = [
        numpy.log(rs.dirichlet(numpy.ones(3))),
        numpy.log(rs.dirichlet(numpy.ones(3), size=3)),
        numpy.log(rs.dirichlet(numpy.ones(4), size=3)),
    ]
    return {
        "rnn": (rnn, inputs),
        "lstm": (lstm, inputs),
        "fluid": (rs.randn(50) * 0.7, rs.rand(5, 5)),
        "gaussian_process": (rs.randn(5) * 0.3, rs.randn(8, 2), rs.randn(8)),
        "mlp": (
            [(rs.randn(3, 4), rs.randn(4)), (rs.randn(4, 2), rs.randn(2))],
            rs.randn(5, 3),
            numpy.eye(2)[[0, 1, 1, 0, 1]],
        ),
        "mixture": (mixture, rs.randn(10, 2)),
        "hmm": (hmm, rs.randint(0, 4, size=7)),
    }


ARGUMENTS = _arguments()
OURS = _programs(anp, ad.logsumexp)


def _assert_trees_close(ours, theirs, rtol=1e-9, atol=1e-11):
    assert_trees_close(ours, theirs, rtol, atol)


def _as_jax_tree(tree):
    return ad.tree.flatten(tree)[1]([numpy.asarray(v) for v in ad.tree.flatten(tree)[0]])


@pytest.mark.parametrize("name", list(OURS))
def test_autograd_examples_give_jax_gradients(name, jnp):
    import jax
    import jax.scipy.special

    theirs = _programs(jnp, jax.scipy.special.logsumexp)[name]
    args = ARGUMENTS[name]
    value, g = ad.value_and_grad(OURS[name])(*args)
    # compiled, but for the fluid simulation, whose unrolled loop takes longer to compile
    # than to run op by op
    value_and_grad = jax.value_and_grad(theirs)
    if name != "fluid":
        value_and_grad = jax.jit(value_and_grad)
    expected_value, expected = value_and_grad(*_as_jax_tree(args))
    numpy.testing.assert_allclose(value, expected_value, rtol=1e-12)
    _assert_trees_close(g, expected)


@pytest.mark.parametrize("name", list(OURS))
def test_autograd_examples_give_autograd_gradients(name, autograd):
    import autograd.numpy
    import autograd.scipy.special

    theirs = _programs(autograd.numpy, autograd.scipy.special.logsumexp)[name]
    args = ARGUMENTS[name]
    _assert_trees_close(ad.grad(OURS[name])(*args), autograd.grad(theirs)(*args))


def _flat_mixture(v):
    return {
        "log proportions": v[:3],
        "means": anp.reshape(v[3:9], (3, 2)),
        "lower triangles": anp.reshape(v[9:], (3, 2, 2)),
    }


def test_the_mixture_models_newton_cg_hessian_vector_product(jnp):
    # autograd's gmm.py hands hessian_vector_product(objective) to scipy's Newton-CG
    import jax
    import jax.scipy.special

    theirs = _programs(jnp, jax.scipy.special.logsumexp)["mixture"]
    params, data = ARGUMENTS["mixture"]
    flat = numpy.concatenate(
        [numpy.ravel(params[k]) for k in ("log proportions", "means", "lower triangles")]
    )
    v = numpy.random.default_rng(1).standard_normal(flat.size)
    expected = jax.jvp(jax.grad(lambda u: theirs(_flat_mixture(u), data)), (flat,), (v,))[1]
    for mode in ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"):
        Hv = ad.hvp(lambda u: OURS["mixture"](_flat_mixture(u), data), (flat,), (v,), mode=mode)[1]
        numpy.testing.assert_allclose(Hv, expected, rtol=1e-8, atol=1e-10)


def _taylor_sin(np):
    def sin(x):  # autograd's sinusoid.py: a series cut off by a data-dependent test
        term = x
        total = term
        for i in range(1000):
            term = -term * x**2 / ((2 * i + 3) * (2 * i + 2))
            total = total + term
            if np.abs(term) < 0.2:
                break
        return total

    return sin


@pytest.mark.parametrize("x", [-3.0, 0.5, 2.0])
def test_a_series_with_python_control_flow_differentiates_twice_as_jax_does(x, jnp):
    import jax

    sin, jsin = _taylor_sin(anp), _taylor_sin(jnp)
    assert ad.grad(sin)(x) == pytest.approx(float(jax.grad(jsin)(x)), rel=1e-12)
    assert ad.grad(ad.grad(sin))(x) == pytest.approx(float(jax.grad(jax.grad(jsin))(x)), rel=1e-12)


def test_the_fourth_elementwise_derivative_of_tanh_written_with_exp():
    # autograd's tanh.py applies elementwise_grad four times. Exact: with t = tanh(x),
    # d/dx p(t) = p'(t) (1 - t^2), so each derivative is a polynomial in t
    def tanh(x):
        return (1.0 - anp.exp(-2 * x)) / (1.0 + anp.exp(-(2 * x)))

    def elementwise_grad(f):
        return lambda x: ad.vjp(f, x)[1](numpy.ones_like(x))[0]

    xs = numpy.linspace(-3.0, 3.0, 7)
    g = tanh
    for _ in range(4):
        g = elementwise_grad(g)
    p = numpy.polynomial.Polynomial([0.0, 1.0])
    for _ in range(4):
        p = p.deriv() * numpy.polynomial.Polynomial([1.0, 0.0, -1.0])
    numpy.testing.assert_allclose(g(xs), p(numpy.tanh(xs)), rtol=1e-9, atol=1e-12)


# -- the idioms of autograd's test suite, one function each, and their Hessians ----------------
X = numpy.array([0.7, -1.3, 2.1])
M = numpy.array([[1.2, 0.3, -0.5], [0.1, 0.9, 0.4], [-0.7, 0.2, 1.5]])
IDIOMS = {
    "array of traced scalars": lambda np, x: np.array([x[0] * x[1], np.sin(x[2]), 2.5]),
    "2-d array of traced scalars": lambda np, x: np.array(
        [[x[0], x[0] * 1.0, x[1] + 2.5], [x[2] ** 2, x[0], x[1] / 2.0]]
    ),
    "array of a traced array": lambda np, x: np.array(x) * np.array(x[0]),
    "array of traced arrays": lambda np, x: np.array([x, x**2, [1.0, x[0], 2.0]]),
    "array of a tuple with a constant": lambda np, x: np.array((x[0], 2.0)),
    "array of 0-d results": lambda np, x: np.array([np.sum(x), np.prod(x), np.max(x)]),
    "asarray of a list": lambda np, x: np.asarray([x[2], x[0] * x[1]]),
    "list comprehension": lambda np, x: np.array([xi**2 for xi in x]),
    "concatenate traced lists": lambda np, x: np.concatenate([[x[0]], [x[1], 3.0], x**2]),
    "r_": lambda np, x: np.r_[x, x[0], 1.0, 0:2],
    "r_ of one array": lambda np, x: np.r_[x],
    "c_": lambda np, x: np.c_[x, x**2, [1.0, 2.0, 3.0]],
    "stack of scalars": lambda np, x: np.stack([x[0], x[1] * x[2]]),
    "hstack of scalars": lambda np, x: np.hstack([x[0], x[1]]),
    "vstack": lambda np, x: np.vstack([x, x**2]),
    "column_stack": lambda np, x: np.column_stack([x, np.cos(x)]),
    "mean of a list": lambda np, x: np.mean([x[0], x[1] ** 2]),
    "norm of a list": lambda np, x: np.linalg.norm([x[0], x[1] * x[2]]),
    "max of an array with ties": lambda np, x: np.max(np.array([x[0], x[0], x[1]])),
    "min over an axis with ties": lambda np, x: np.min(np.array([[x[0], x[0]], [x[1], 0.5]]), axis=1),
    "where": lambda np, x: np.where(x > 0, x**2, -x),
    "var with ddof": lambda np, x: np.var(x * x[0], ddof=1),
}


# The same function written without lists of traced values, for an oracle that refuses them
# (jax.numpy's concatenate, mean and norm take arrays only; autograd's asarray makes an object array)
PORTABLE = {
    "asarray of a list": lambda np, x: np.array([x[2], x[0] * x[1]]),
    "concatenate traced lists": lambda np, x: np.concatenate([np.stack([x[0]]), np.stack([x[1], 3.0]), x**2]),
    "mean of a list": lambda np, x: np.mean(np.stack([x[0], x[1] ** 2])),
    "norm of a list": lambda np, x: np.linalg.norm(np.stack([x[0], x[1] * x[2]])),
}


def _sum_cubed(np, f):
    return lambda x: np.sum(np.reshape(f(np, x), (-1,)) ** 3)


@pytest.mark.parametrize("name", list(IDIOMS))
def test_idioms_give_jax_jacobians_and_hessians(name, jnp):
    import jax

    f, oracle = IDIOMS[name], PORTABLE.get(name, IDIOMS[name])
    numpy.testing.assert_allclose(f(anp, X), oracle(jnp, X), rtol=1e-12)
    expected = jax.jacfwd(lambda x: oracle(jnp, x))(X)
    for mode in ("forward", "reverse"):
        numpy.testing.assert_allclose(
            ad.jacobian(lambda x: f(anp, x), mode=mode)(X), expected, rtol=1e-12, atol=1e-14
        )
    numpy.testing.assert_allclose(
        ad.hessian(_sum_cubed(anp, f))(X), jax.hessian(_sum_cubed(jnp, oracle))(X), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("name", list(IDIOMS))
def test_idioms_give_autograd_jacobians(name, autograd):
    import autograd.numpy

    f, oracle = IDIOMS[name], PORTABLE.get(name, IDIOMS[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # autograd warns that r_ is slow
        expected = autograd.jacobian(lambda x: oracle(autograd.numpy, x))(X)
        expected_h = autograd.hessian(_sum_cubed(autograd.numpy, oracle))(X)
    numpy.testing.assert_allclose(ad.jacobian(lambda x: f(anp, x))(X), expected, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(ad.hessian(_sum_cubed(anp, f))(X), expected_h, rtol=1e-10, atol=1e-12)


def test_eigh_reads_the_lower_triangle_as_numpy_and_autograd_do(autograd):
    # jax.numpy.linalg.eigh symmetrizes its input instead, so autograd is the oracle here
    import autograd.numpy

    def f(np, A):
        return np.sum(np.linalg.eigh(A + 3 * np.eye(3))[0] ** 3)

    numpy.testing.assert_allclose(
        ad.grad(lambda A: f(anp, A))(M), autograd.grad(lambda A: f(autograd.numpy, A))(M), rtol=1e-10
    )
    assert numpy.all(numpy.triu(ad.grad(lambda A: f(anp, A))(M), 1) == 0)


LINALG = {
    "inv": lambda np, A: np.linalg.inv(A),
    "det": lambda np, A: np.linalg.det(A),
    "slogdet": lambda np, A: np.linalg.slogdet(A)[1],
    "solve": lambda np, A: np.linalg.solve(A, A[:, 0] ** 2),
    "cholesky": lambda np, A: np.linalg.cholesky(A @ A.T + np.eye(3)),
    "eigh values": lambda np, A: np.linalg.eigh(A @ A.T)[0],
    "svd values": lambda np, A: np.linalg.svd(A, full_matrices=False)[1],
    "pinv": lambda np, A: np.linalg.pinv(A),
    "norm": lambda np, A: np.linalg.norm(A),
    "norm over an axis": lambda np, A: np.linalg.norm(A, axis=1),
    "nuclear norm": lambda np, A: np.linalg.norm(A, "nuc"),
    "multi_dot": lambda np, A: np.linalg.multi_dot([A, A.T, A]),
}


@pytest.mark.parametrize("name", list(LINALG))
def test_np_linalg_gives_jax_jacobians(name, jnp):
    import jax

    f = LINALG[name]
    expected = jax.jacfwd(lambda A: f(jnp, A))(M)
    numpy.testing.assert_allclose(ad.jacrev(lambda A: f(anp, A))(M), expected, rtol=1e-9, atol=1e-12)
    numpy.testing.assert_allclose(ad.jacfwd(lambda A: f(anp, A))(M), expected, rtol=1e-9, atol=1e-12)


# -- what ad.numpy's constructors do that NumPy does -------------------------------------------
@pytest.mark.parametrize("build", [lambda y: anp.asarray(y, copy=True), lambda y: anp.array(y)])
def test_a_copy_asked_for_is_a_copy_so_writing_into_it_leaves_the_value_alone(build):
    # NumPy: z = np.asarray(y, copy=True) is a new array; z[0] = 5 leaves y, so dy/dx = I
    def f(x):
        y = x * 1.0
        z = build(y)
        z[0] = 5.0
        return y

    numpy.testing.assert_array_equal(ad.jacrev(f)(X), numpy.eye(3))
    t = ad.tensor(X, requires_grad=True)
    y = t * 1.0
    z = build(y)
    z[0] = 5.0
    numpy.testing.assert_array_equal(y.detach().numpy(), X)


def test_asarray_without_a_copy_is_the_traced_value_itself():
    same = []
    ad.grad(lambda x: same.append(anp.asarray(x) is x and anp.asarray(x, copy=None) is x) or anp.sum(x))(X)
    assert same == [True]


def test_copy_false_refuses_a_stack_as_numpy_does():
    with pytest.raises(ValueError, match="copy=False.*needs a copy.*copy=None"):
        ad.grad(lambda x: anp.sum(anp.array([x[0], x[1]], copy=False)))(X)
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        numpy.array([1.0, 2.0], copy=False)


@pytest.mark.parametrize(
    "build",
    [
        lambda np, x: np.r_[x, 1.0],
        lambda np, x: np.r_[x[0], 2, x],
        lambda np, x: np.r_[x, numpy.float64(1.0)],
        lambda np, x: np.r_[x, 0:2],
        lambda np, x: np.c_[x, x],
        lambda np, x: np.c_[x, [1.0, 2.0, 3.0]],
        lambda np, x: np.r_[x, 1j],
    ],
)
def test_r_and_c_give_numpys_dtype_with_scalars_as_values(build):
    x32 = X.astype(numpy.float32)
    expected = build(numpy, x32)
    seen = []
    ad.jacrev(lambda x: seen.append(build(anp, x).dtype) or numpy.real(build(anp, x)))(x32)
    assert seen[0] == expected.dtype


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "cumsum", "any"])
def test_a_reduction_of_a_list_of_traced_values_is_the_reduction_of_their_stack(name):
    # ad.numpy reads the list as autograd does, as the array of its entries; plain NumPy would
    # turn it into an array of numbers and drop the derivative, so it refuses and names the fix
    ours, plain = getattr(anp, name), getattr(numpy, name)
    with pytest.raises(TypeError, match="ad.numpy.array"):
        ad.grad(lambda x: plain([x[0], x[1]]))(X)
    with pytest.raises(TypeError, match="ad.numpy.array"):
        a = ad.tensor(1.0, requires_grad=True)
        plain([a * 2.0, a])

    def through_a_list(x):
        return numpy.sum(ours([x[0] * x[1], x[1], 0.5]) * x[2])

    def through_an_array(x):
        return numpy.sum(plain(anp.array([x[0] * x[1], x[1], 0.5])) * x[2])

    for transform in (ad.grad, ad.jacfwd):
        numpy.testing.assert_array_equal(transform(through_a_list)(X), transform(through_an_array)(X))
    a = ad.tensor(1.5, requires_grad=True)
    numpy.sum(ours([a * 2.0, a]) * a).backward()
    b = ad.tensor(1.5, requires_grad=True)
    numpy.sum(plain(anp.stack([b * 2.0, b])) * b).backward()
    assert a.grad.item() == b.grad.item()


def test_a_user_op_that_handles_an_ad_numpy_function_takes_the_numpy_function_over():
    from ad import registry

    library_sin = registry.lookup(numpy.sin)
    doubled = ad.defop(
        "doubled_sin_via_ad_numpy", numpy.sin, derivs=(lambda x, y: 2.0 * numpy.cos(x),), handles=anp.sin
    )
    try:
        g = ad.grad(lambda x: anp.sum(anp.sin(x)))(X)
    finally:
        registry.unregister(doubled.op.name)
        if registry.lookup(numpy.sin) is not library_sin:  # put it back for the rest of the session
            registry.unregister(library_sin.name)
            registry.register(library_sin)
    numpy.testing.assert_allclose(g, 2.0 * numpy.cos(X))


@pytest.mark.parametrize(
    "build", [lambda x: anp.reshape(x, (3, 1), order=None), lambda x: anp.ravel(x, order=None)]
)
def test_order_none_is_c_order_as_in_numpy(build):
    numpy.testing.assert_array_equal(ad.jacfwd(lambda x: anp.ravel(build(x)))(X), numpy.eye(3))

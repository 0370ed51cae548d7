"""Programs of the kinds HIPS autograd users write, ported by `import ad.numpy as np`.

Each program is written once against a namespace `np` and returns (loss, params): loss(params)
is a scalar, params an array or a pytree of arrays. It runs three ways: autograd.numpy under
autograd's transforms, ad.numpy under ad's, and jax.numpy under JAX's. Values, gradients,
Jacobians, Hessians and Hessian-vector products must agree to rounding.
"""

import numpy
import pytest

import ad
import ad.numpy as anp
from ad.testing import assert_trees_close
from ad.tree import flatten as ad_flatten

try:  # an optional peer: without it, the programs are still checked against JAX
    import autograd
    import autograd.numpy as agnp
    from autograd.misc import flatten
except ImportError:
    autograd = agnp = flatten = None
needs_autograd = pytest.mark.skipif(autograd is None, reason="autograd (an optional peer) is not installed")

_data = numpy.random.RandomState(0)
X = _data.randn(20, 3)
Y = numpy.sign(X @ numpy.array([1.0, -2.0, 0.5]) + 0.3 * _data.randn(20))  # labels in {-1, 1}
CLASSES = 3
FEATURES = _data.randn(30, 4)
ONEHOT = numpy.eye(CLASSES)[_data.randint(0, CLASSES, 30)]
GP_X = numpy.linspace(-2.0, 2.0, 8)[:, None]
GP_Y = numpy.sin(2.0 * GP_X[:, 0]) + 0.1 * _data.randn(8)
SEQUENCE = _data.randn(5, 2, 3)  # time, batch, features
POINTS = _data.randn(15, 2)
DRAW = _data.randn(10, 2)  # the variational step's fixed random draw
RATINGS = _data.randn(6, 5)
OBSERVED = _data.rand(6, 5) < 0.6
IMAGE = _data.randn(6, 6)


def logistic_regression(np):
    """Negative log-likelihood of a logistic model with an L2 penalty; w[-1] is the bias."""

    def sigmoid(z):
        return 0.5 * (np.tanh(z / 2.0) + 1.0)

    def loss(w):
        p = sigmoid(np.dot(X, w[:-1]) + w[-1])
        label_probabilities = p * (Y > 0) + (1 - p) * (Y <= 0)
        return -np.sum(np.log(label_probabilities)) + 0.1 * np.dot(w, w)

    return loss, numpy.array([0.3, -0.2, 0.1, 0.05])


def _layers(sizes, seed):
    r = numpy.random.RandomState(seed)
    return [(0.3 * r.randn(m, n), 0.1 * r.randn(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def classifier(np):
    """A tanh network with a log-softmax output (a hand-written logsumexp) and an L2 penalty;
    parameters a list of (W, b) tuples."""

    def logsumexp(a):
        top = np.max(a, axis=1, keepdims=True)
        return top + np.log(np.sum(np.exp(a - top), axis=1, keepdims=True))

    def log_probabilities(params, inputs):
        for W, b in params:
            outputs = np.dot(inputs, W) + b
            inputs = np.tanh(outputs)
        return outputs - logsumexp(outputs)

    def loss(params):
        penalty = sum(np.sum(W**2) for W, _ in params)
        return -np.sum(log_probabilities(params, FEATURES) * ONEHOT) + 0.01 * penalty

    return loss, _layers([4, 5, CLASSES], seed=1)


def gaussian_process(np):
    """Negative log marginal likelihood of a GP with a squared-exponential kernel, in its
    log hyperparameters: Cholesky solves for the data term, slogdet for the volume term."""

    def kernel(x, xp, log_scale, log_length):
        d = (x[:, None, :] - xp[None, :, :]) / np.exp(log_length)
        return np.exp(log_scale) * np.exp(-0.5 * np.sum(d**2, axis=2))

    def loss(theta):
        log_scale, log_length, log_noise = theta[0], theta[1], theta[2]
        n = len(GP_Y)
        K = kernel(GP_X, GP_X, log_scale, log_length) + (np.exp(log_noise) + 1e-6) * np.eye(n)
        L = np.linalg.cholesky(K)
        alpha = np.linalg.solve(L.T, np.linalg.solve(L, GP_Y))
        _, logdet = np.linalg.slogdet(K)
        return 0.5 * np.dot(GP_Y, alpha) + 0.5 * logdet + 0.5 * n * np.log(2 * np.pi)

    return loss, numpy.array([0.1, -0.3, -2.0])


def lstm(np):
    """An LSTM over a short sequence: the input and hidden state joined by np.concatenate, the
    hidden states kept in a list and stacked by np.array at the end."""
    H = 4

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def loss(params):
        W, b, W_out = params
        h = np.zeros((SEQUENCE.shape[1], H))
        c = np.zeros((SEQUENCE.shape[1], H))
        hiddens = []
        for x in SEQUENCE:
            z = np.dot(np.concatenate((x, h), axis=1), W) + b
            i, f, o = sigmoid(z[:, :H]), sigmoid(z[:, H : 2 * H]), sigmoid(z[:, 2 * H : 3 * H])
            c = f * c + i * np.tanh(z[:, 3 * H :])
            h = o * np.tanh(c)
            hiddens.append(h)
        outputs = [np.dot(h, W_out) for h in hiddens]
        return np.sum(np.array(outputs) ** 2) / len(outputs)

    r = numpy.random.RandomState(2)
    return loss, [0.3 * r.randn(3 + H, 4 * H), 0.1 * r.randn(4 * H), 0.3 * r.randn(H, 1)]


def gaussian_mixture(np):
    """Log-density of points under a mixture of diagonal Gaussians, a logsumexp over the
    components; parameters a tuple (means, log standard deviations, logits)."""

    def loss(params):
        means, log_stds, logits = params
        log_weights = logits - np.log(np.sum(np.exp(logits)))
        z = (POINTS[:, None, :] - means[None, :, :]) / np.exp(log_stds)
        per_component = -0.5 * np.sum(z**2, axis=2) - np.sum(log_stds, axis=1) - np.log(2 * np.pi)
        a = per_component + log_weights
        top = np.max(a, axis=1)
        return np.sum(top + np.log(np.sum(np.exp(a - top[:, None]), axis=1)))

    means = numpy.array([[0.0, 1.0], [1.0, -1.0], [-1.0, 0.0]])
    log_stds = numpy.array([[0.1, -0.2], [0.0, 0.3], [-0.1, 0.1]])
    return loss, (means, log_stds, numpy.array([0.2, -0.1, 0.0]))


def pendulum_rk4(np):
    """A damped pendulum integrated by fixed-step RK4 in a Python loop, its state built with
    np.array from traced scalars; the loss is the distance of the end state to a target."""

    def dynamics(y, theta):
        return np.array([y[1], -theta[0] * np.sin(y[0]) - theta[1] * y[1]])

    def integrate(theta, y, steps=20, dt=0.05):
        for _ in range(steps):
            k1 = dynamics(y, theta)
            k2 = dynamics(y + dt / 2 * k1, theta)
            k3 = dynamics(y + dt / 2 * k2, theta)
            k4 = dynamics(y + dt * k3, theta)
            y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return y

    def loss(theta):
        y = integrate(theta, np.array([1.0, 0.0]))
        return np.sum((y - np.array([0.2, -0.5])) ** 2)

    return loss, numpy.array([2.0, 0.3])


def variational_step(np):
    """Black-box variational inference: the negative ELBO of a diagonal Gaussian family on a
    non-Gaussian target, by the reparameterisation with a fixed random draw."""

    def log_target(z):
        return -0.5 * np.sum(z**2 / np.array([1.0, 4.0]), axis=1) - 0.25 * np.sin(z[:, 0] * z[:, 1])

    def loss(params):
        mean, log_std = params[:2], params[2:]
        samples = DRAW * np.exp(log_std) + mean
        entropy = np.sum(log_std) + 0.5 * len(mean) * (1.0 + np.log(2 * np.pi))
        return -(entropy + np.mean(log_target(samples)))

    return loss, numpy.array([0.5, -0.5, 0.1, -0.2])


def matrix_factorization(np):
    """Low-rank factorization of a matrix with missing entries: the residual masked by
    np.where, and again by fancy indexing of the observed rows and columns."""
    rows, cols = numpy.nonzero(OBSERVED)

    def loss(params):
        U, V = params
        residual = np.where(OBSERVED, RATINGS - np.dot(U, V.T), 0.0)
        predicted = np.sum(U[rows] * V[cols], axis=1)
        penalty = np.sum(U**2) + np.sum(V**2)
        return np.sum(residual**2) + np.sum((predicted - RATINGS[rows, cols]) ** 2) + 0.1 * penalty

    r = numpy.random.RandomState(3)
    return loss, (r.randn(6, 2), r.randn(5, 2))


def convolution(np):
    """A 3x3 filter applied twice: by np.pad and shifted slices, then by np.einsum over a
    stack of patches; a relu between the loss terms."""

    def by_slices(image, k):
        kh, kw = k.shape
        padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="constant")
        out = 0.0
        for i in range(kh):
            for j in range(kw):
                out = out + k[i, j] * padded[i : i + image.shape[0], j : j + image.shape[1]]
        return out

    def by_einsum(image, k):
        padded = np.pad(image, 1, mode="constant")
        patches = np.array([[padded[i : i + 6, j : j + 6] for j in range(3)] for i in range(3)])
        return np.einsum("ijhw,ij->hw", patches, k)

    def loss(k):
        a = by_slices(IMAGE, k)
        b = by_einsum(np.tanh(a), k)
        return np.sum(np.maximum(b, 0.0) ** 2) + np.sum(a * IMAGE)

    return loss, 0.5 * numpy.random.RandomState(4).randn(3, 3)


def tree_parameters(np):
    """A network whose parameters are a dict holding a list of dicts and a tuple."""

    def loss(params):
        h = FEATURES
        for layer in params["layers"]:
            h = np.tanh(np.dot(h, layer["W"]) + layer["b"])
        scale, readout = params["scale"]
        return scale**2 * np.sum(h**2) + np.sum(np.dot(h, readout))

    r = numpy.random.RandomState(5)
    layers = [{"W": r.randn(4, 3), "b": r.randn(3)}, {"W": r.randn(3, 2), "b": r.randn(2)}]
    return loss, {"layers": layers, "scale": (numpy.array(0.7), numpy.array([1.5, -0.5]))}


PROGRAMS = {
    p.__name__: p
    for p in [
        logistic_regression,
        classifier,
        gaussian_process,
        lstm,
        gaussian_mixture,
        pendulum_rk4,
        variational_step,
        matrix_factorization,
        convolution,
        tree_parameters,
    ]
}
# the programs whose parameter is one array: Hessians and Hessian-vector products
ARRAY_PROGRAMS = [name for name, p in PROGRAMS.items() if isinstance(p(numpy)[1], numpy.ndarray)]


def _flat(tree):
    """Every leaf of tree, raveled and joined (ad's own pytree order: both sides alike)."""
    return numpy.concatenate([numpy.ravel(leaf) for leaf in ad_flatten(tree)[0]])


@needs_autograd
@pytest.mark.parametrize("name", PROGRAMS)
def test_a_ported_program_gives_autograds_value_and_gradient(name):
    ours, params = PROGRAMS[name](anp)
    theirs, _ = PROGRAMS[name](agnp)
    value, gradient = ad.value_and_grad(ours)(params)
    assert numpy.allclose(value, theirs(params), rtol=1e-13, atol=0)
    # the gradient has the parameters' structure, list for list and tuple for tuple
    assert_trees_close(gradient, autograd.grad(theirs)(params), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", PROGRAMS)
def test_a_ported_program_gives_jaxs_gradient(name, jax64):
    import jax.numpy as jnp

    ours, params = PROGRAMS[name](anp)
    theirs, _ = PROGRAMS[name](jnp)
    gradient = jax64.grad(theirs)
    if name != "pendulum_rk4":  # compiled whole, JAX runs the program in a fraction of its op-by-op
        gradient = jax64.jit(gradient)  # time; its RK4 loop would take minutes to compile
    expected = gradient(jax64.tree_util.tree_map(jnp.asarray, params))
    expected = jax64.tree_util.tree_map(numpy.asarray, expected)
    assert numpy.allclose(_flat(ad.grad(ours)(params)), _flat(expected), rtol=1e-12, atol=1e-14)


@needs_autograd
@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("transform", [ad.jacfwd, ad.jacrev])
def test_the_jacobian_of_a_ported_program_is_its_gradient_in_either_mode(name, transform):
    ours, params = PROGRAMS[name](anp)
    theirs, _ = PROGRAMS[name](agnp)
    expected = _flat(autograd.grad(theirs)(params))
    assert numpy.allclose(_flat(transform(ours)(params)), expected, rtol=1e-12, atol=1e-14)


@needs_autograd
@pytest.mark.parametrize("name", ARRAY_PROGRAMS)
def test_a_ported_program_gives_autograds_hessian(name):
    ours, params = PROGRAMS[name](anp)
    theirs, _ = PROGRAMS[name](agnp)
    expected = autograd.hessian(theirs)(params)
    assert numpy.allclose(ad.hessian(ours)(params), expected, rtol=1e-11, atol=1e-13)


@needs_autograd
@pytest.mark.parametrize("name", ARRAY_PROGRAMS)
@pytest.mark.parametrize("mode", ["fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"])
def test_a_ported_program_gives_autograds_hessian_vector_product(name, mode):
    ours, params = PROGRAMS[name](anp)
    theirs, _ = PROGRAMS[name](agnp)
    v = numpy.linspace(-1.0, 1.0, params.size).reshape(params.shape)
    value, Hv = ad.hvp(ours, (params,), (v,), mode=mode)
    assert numpy.allclose(value, theirs(params), rtol=1e-13, atol=0)
    expected = autograd.hessian_vector_product(theirs)(params, v)
    assert numpy.allclose(Hv, expected, rtol=1e-11, atol=1e-13)


def _train(grad, loss, params, steps=5, rate=0.1):
    for _ in range(steps):
        g = grad(loss)(params)
        params = [(W - rate * dW, b - rate * db) for (W, b), (dW, db) in zip(params, g)]
    return params


@needs_autograd
def test_training_the_classifier_follows_autograds_steps():
    ours, start = classifier(anp)
    theirs, _ = classifier(agnp)
    trained = _train(ad.grad, ours, start)
    assert ours(trained) < ours(start)
    assert_trees_close(trained, _train(autograd.grad, theirs, start), rtol=1e-12, atol=1e-14)


def _unflattener(tree):
    """The inverse of flatten(tree)'s vector, as its unflatten, written with
    slicing and reshape so that it runs on a traced vector (ad has no flatten of its own)."""
    shapes = [numpy.shape(x) for x in _leaves(tree)]
    ends = numpy.cumsum([int(numpy.prod(s)) for s in shapes])

    def unflatten(v):
        starts = numpy.concatenate([[0], ends[:-1]])
        return _rebuild(tree, (anp.reshape(v[a:b], s) for a, b, s in zip(starts, ends, shapes)))

    return unflatten


def _leaves(tree):
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in _leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [x for t in tree for x in _leaves(t)]
    return [tree]


def _rebuild(tree, pieces):
    if isinstance(tree, dict):
        return {k: _rebuild(tree[k], pieces) for k in sorted(tree)}
    if isinstance(tree, list | tuple):
        return type(tree)(_rebuild(t, pieces) for t in tree)
    return next(pieces)


@needs_autograd
def test_a_loss_of_flattened_tree_parameters_gives_autograds_gradient_and_hessian():
    ours, params = tree_parameters(anp)
    theirs, _ = tree_parameters(agnp)
    flat, their_unflatten = flatten(params)
    our_unflatten = _unflattener(params)
    assert_trees_close(our_unflatten(flat), params, rtol=0, atol=0)

    def flat_loss(v):
        return ours(our_unflatten(v))

    def their_flat_loss(v):
        return theirs(their_unflatten(v))

    assert numpy.allclose(
        ad.grad(flat_loss)(flat), autograd.grad(their_flat_loss)(flat), rtol=1e-12, atol=1e-14
    )
    expected = autograd.hessian(their_flat_loss)(flat)
    assert numpy.allclose(ad.hessian(flat_loss)(flat), expected, rtol=1e-11, atol=1e-13)


def _accumulated(np, w):
    """A loss summed over batches into a Python accumulator, `total += ...`, as autograd
    programs write it (autograd rebinds total; NumPy would add in place)."""
    total = 0.0
    for batch in range(0, 20, 5):
        margins = Y[batch : batch + 5] * np.dot(X[batch : batch + 5], w)
        total += np.sum(np.logaddexp(0.0, -margins))
    return total


@needs_autograd
def test_an_accumulated_loss_gives_autograds_gradient():
    w = numpy.array([0.3, -0.2, 0.1])
    expected = autograd.grad(lambda w: _accumulated(agnp, w))(w)
    assert numpy.allclose(ad.grad(lambda w: _accumulated(anp, w))(w), expected, rtol=1e-13, atol=0)


@needs_autograd
@pytest.mark.parametrize("how", ["hessian", "hvp fwd-rev"])
def test_an_accumulated_loss_gives_autograds_hessian(how):
    w = numpy.array([0.3, -0.2, 0.1])
    v = numpy.array([1.0, 0.5, -2.0])
    expected = autograd.hessian(lambda w: _accumulated(agnp, w))(w)
    if how == "hessian":
        got = ad.hessian(lambda w: _accumulated(anp, w))(w)
    else:
        got, expected = ad.hvp(lambda w: _accumulated(anp, w), (w,), (v,), mode="fwd-rev")[1], expected @ v
    assert numpy.allclose(got, expected, rtol=1e-12, atol=1e-14)


@needs_autograd
@pytest.mark.parametrize("moment", ["var", "std"])
def test_a_moment_with_dtype_gives_autograds_gradient(moment):
    x = numpy.array([1.0, 2.0, 4.0])
    expected = autograd.grad(lambda x: getattr(agnp, moment)(x, dtype=numpy.float64))(x)
    got = ad.grad(lambda x: getattr(anp, moment)(x, dtype=numpy.float64))(x)
    assert numpy.allclose(got, expected, rtol=1e-14, atol=0)


@needs_autograd
def test_logsumexp_with_weights_gives_autograds_gradient():
    from autograd.scipy.special import logsumexp

    x = numpy.array([[0.7, -1.3, 2.1], [1.0, 2.0, 3.0]])
    b = numpy.array([1.0, 2.0, 0.5])
    expected = autograd.grad(lambda x: agnp.sum(logsumexp(x, axis=1, b=b)))(x)
    assert numpy.allclose(
        ad.grad(lambda x: anp.sum(ad.logsumexp(x, axis=1, b=b)))(x), expected, rtol=1e-13, atol=0
    )


# scipy.special's ufuncs, imported from scipy.special where autograd code imports them from
# autograd.scipy.special: each as f(special, x) on x in (0.4, 2.7), where every one is defined
SPECIAL = {
    "gamma": lambda sp, x: sp.gamma(x),
    "rgamma": lambda sp, x: sp.rgamma(x),
    "gammaln": lambda sp, x: sp.gammaln(x),
    "digamma": lambda sp, x: sp.digamma(x),
    "psi": lambda sp, x: sp.psi(x),
    "erf": lambda sp, x: sp.erf(x),
    "erfc": lambda sp, x: sp.erfc(x),
    "erfinv": lambda sp, x: sp.erfinv(x / 3.0),
    "erfcinv": lambda sp, x: sp.erfcinv(x / 2.0),
    "expit": lambda sp, x: sp.expit(x),
    "logit": lambda sp, x: sp.logit(x / 3.0),
    "i0": lambda sp, x: sp.i0(x),
    "i1": lambda sp, x: sp.i1(x),
    "j0": lambda sp, x: sp.j0(x),
    "j1": lambda sp, x: sp.j1(x),
    "y0": lambda sp, x: sp.y0(x),
    "y1": lambda sp, x: sp.y1(x),
    "jn": lambda sp, x: sp.jn(2, x),
    "yn": lambda sp, x: sp.yn(2, x),
    "iv": lambda sp, x: sp.iv(1.5, x),
    "ive": lambda sp, x: sp.ive(1.5, x),
    "gammainc": lambda sp, x: sp.gammainc(2.5, x),
    "gammaincc": lambda sp, x: sp.gammaincc(2.5, x),
    "beta in a": lambda sp, x: sp.beta(x, 2.0),
    "beta in b": lambda sp, x: sp.beta(1.5, x),
    "betaln": lambda sp, x: sp.betaln(x, x + 1.0),
    "gammasgn": lambda sp, x: sp.gammasgn(x - 1.0) * x,
}


@needs_autograd
@pytest.mark.parametrize("name", SPECIAL)
def test_scipy_special_gives_autograds_first_and_second_derivatives(name):
    import autograd.scipy.special as their_special
    import scipy.special

    x = numpy.array([0.4, 1.3, 2.7])
    f = SPECIAL[name]
    first = autograd.elementwise_grad(lambda x: f(their_special, x))
    assert numpy.allclose(ad.grad(lambda x: anp.sum(f(scipy.special, x)))(x), first(x), rtol=1e-12, atol=0)
    H = ad.hessian(lambda x: anp.sum(f(scipy.special, x)))(x)
    assert numpy.allclose(H, numpy.diag(autograd.elementwise_grad(first)(x)), rtol=1e-10, atol=1e-14)


def test_scipy_special_refuses_a_traced_order_rather_than_give_it_zero_derivative():
    import scipy.special

    x = numpy.array([0.4, 1.3, 2.7])
    with pytest.raises(NotImplementedError, match="not in its order v: pass the order v as a constant"):
        ad.grad(lambda v: anp.sum(scipy.special.jv(v, x)))(x)
    with pytest.raises(NotImplementedError, match="gammainc in its argument, not in its shape a"):
        ad.jacfwd(lambda a: scipy.special.gammainc(a, x))(x)


COUNTS = numpy.array([3.0, 0.0, 7.0, 2.0, 5.0, 1.0])


def _negative_binomial(np, gammaln):
    """Log-likelihood of counts under a negative binomial in (log r, logit p), gammaln for
    the binomial coefficient, as autograd's maximum-likelihood example writes it."""

    def loss(params):
        r, p = np.exp(params[0]), 1.0 / (1.0 + np.exp(-params[1]))
        coefficient = gammaln(COUNTS + r) - gammaln(COUNTS + 1.0) - gammaln(r)
        return -np.sum(coefficient + COUNTS * np.log(p) + r * np.log(1.0 - p))

    return loss, numpy.array([0.5, 0.2])


def _probit(np, log_ndtr):
    """A probit regression's negative log-likelihood, through the log of the normal CDF."""

    def loss(w):
        z = Y * np.dot(X, w)
        return -np.sum(log_ndtr(z)) + 0.05 * np.sum(w**2)

    return loss, numpy.array([0.4, -0.7, 0.2])


@needs_autograd
@pytest.mark.parametrize("program", [_negative_binomial, _probit])
def test_a_program_with_scipy_special_gives_autograds_and_jaxs_gradient_and_hessian(program, jax64):
    import autograd.scipy.special
    import autograd.scipy.stats.norm
    import jax.numpy as jnp
    import jax.scipy.special
    import scipy.special

    # the same function from scipy.special (ad), autograd and JAX
    name = "gammaln" if program is _negative_binomial else "log_ndtr"
    their_function = autograd.scipy.special.gammaln if name == "gammaln" else autograd.scipy.stats.norm.logcdf
    ours, params = program(anp, getattr(scipy.special, name))
    theirs, _ = program(agnp, their_function)
    jaxs, _ = program(jnp, getattr(jax.scipy.special, name))
    gradient, H = ad.grad(ours)(params), ad.hessian(ours)(params)
    assert numpy.allclose(gradient, autograd.grad(theirs)(params), rtol=1e-12, atol=0)
    assert numpy.allclose(gradient, jax64.grad(jaxs)(params), rtol=1e-12, atol=0)
    assert numpy.allclose(H, autograd.hessian(theirs)(params), rtol=1e-10, atol=1e-13)
    assert numpy.allclose(H, jax64.hessian(jaxs)(params), rtol=1e-10, atol=1e-13)


def test_the_coverage_table_names_scipy_special_functions_by_their_module():
    from ad.coverage import markdown

    table = markdown()
    assert "| gammaln | elementwise | `scipy.special.gammaln` |" in table
    assert "| erf | elementwise | `scipy.special.erf` |" in table


def test_the_no_rule_error_names_a_scipy_ufunc_by_its_module():
    import scipy.special

    with pytest.raises(NotImplementedError, match=r"no rule for scipy\.special\.struve \(reverse mode\)"):
        ad.grad(lambda x: anp.sum(scipy.special.struve(1.0, x)))(numpy.array([0.5, 1.5]))


def test_compile_says_gammaln_has_no_compiled_instruction_and_which_elementwise_ops_do():
    import scipy.special

    def f(x):
        return anp.sum(scipy.special.gammaln(x))

    with pytest.raises(
        NotImplementedError,
        match=r"no compiled rule for gammaln\. .*compiled instruction \(abs, add, .*tanh\);",
    ):
        ad.compile(f, numpy.array([1.5, 2.5]))


def _leaky_square(a):
    """A scalar function with a branch, as np.vectorize is written for."""
    return a * a if a > 0 else 0.1 * a


VECTORIZED = {
    "a smooth function": lambda np, x: np.sum(np.vectorize(lambda a: np.exp(a) * a)(x)),
    "a branch on the value": lambda np, x: np.sum(np.vectorize(_leaky_square)(np.outer(x, x))),
    "two arguments broadcast": lambda np, x: np.sum(np.vectorize(lambda a, b: a * np.sin(b))(x, x[:, None])),
    "an excluded argument": lambda np, x: np.sum(np.vectorize(lambda a, k: a**k, excluded={1})(x, 3)),
    "a keyword argument": lambda np, x: np.sum(np.vectorize(lambda a, b=1.0: a * b)(x, b=x[::-1])),
    "two outputs": lambda np, x: np.prod(np.vectorize(lambda a: (a * a, a + 1.0))(x)[1]),
    "a scalar": lambda np, x: np.vectorize(lambda a: a**3)(x[0]),
}


@needs_autograd
@pytest.mark.parametrize("name", VECTORIZED)
def test_vectorize_calls_the_function_on_each_traced_entry(name):
    f = VECTORIZED[name]
    x = numpy.array([0.7, -1.3, 2.1])
    gradient = ad.grad(lambda x: f(anp, x))(x)
    assert ad.gradcheck(lambda x: f(anp, x), x)
    if name == "a smooth function":  # autograd calls such a function once, on the whole array
        assert numpy.allclose(gradient, autograd.grad(lambda x: f(agnp, x))(x))

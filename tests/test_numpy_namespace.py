"""`import ad.numpy as np`: NumPy itself, plus constructors that take sequences of traced values."""

import numpy
import pytest

import ad
import ad.numpy as anp
from ad.testing import central_difference

CONSTRUCTORS = {
    "array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "require", "asarray_chkfinite",
    "r_", "c_", "full", "full_like", "vectorize",
}  # fmt: skip


def _dispatches(f) -> bool:
    """Whether NumPy hands a call of f on traced values to them: a ufunc or an array function."""
    return isinstance(f, numpy.ufunc | type(numpy.sum))


@pytest.mark.parametrize("ours, theirs", [(anp, numpy), (anp.linalg, numpy.linalg), (anp.fft, numpy.fft)])
def test_functions_that_take_arrays_wrap_numpys_and_every_other_name_is_numpys_own(ours, theirs):
    for name in theirs.__all__:
        f = getattr(theirs, name)
        if name in CONSTRUCTORS or name in ("linalg", "fft"):
            assert getattr(ours, name) is not f, name
        elif _dispatches(f):
            assert getattr(ours, name).__wrapped__ is f, name
            assert getattr(ours, name).__name__ == f.__name__ and getattr(ours, name).__doc__ == f.__doc__
        else:
            assert getattr(ours, name) is f, name
    assert anp.random is numpy.random and anp.newaxis is None and anp.pi == numpy.pi


def test_a_ufunc_keeps_its_attributes_and_methods():
    for attr in ("nin", "nout", "nargs", "identity", "ntypes", "types", "signature"):
        assert getattr(anp.add, attr) == getattr(numpy.add, attr)
    assert anp.matmul.signature == "(n?,k),(k,m?)->(n?,m?)"
    numpy.testing.assert_array_equal(anp.add.reduce([[1.0, 2.0], [3.0, 4.0]], axis=1), [3.0, 7.0])
    numpy.testing.assert_array_equal(anp.maximum.accumulate([1.0, 3.0, 2.0]), [1.0, 3.0, 3.0])
    numpy.testing.assert_array_equal(anp.multiply.outer([1.0, 2.0], [3.0, 4.0]), [[3.0, 4.0], [6.0, 8.0]])
    numpy.testing.assert_array_equal(anp.add.reduceat([1.0, 2.0, 3.0], [0, 2]), [3.0, 3.0])
    a = numpy.zeros(3)
    anp.add.at(a, [0, 0, 2], 1.0)
    numpy.testing.assert_array_equal(a, [2.0, 0.0, 1.0])


def test_star_import_gives_ours_and_numpys():
    scope = {}
    exec("from ad.numpy import *", scope)
    assert scope["array"] is anp.array and scope["sin"] is anp.sin and scope["linalg"] is anp.linalg
    assert scope["pi"] == numpy.pi and scope["float32"] is numpy.float32 and scope["fft"] is anp.fft


def test_functions_pickle_as_themselves():
    import pickle

    for f in (anp.sum, anp.sin, anp.add.reduce, anp.linalg.norm, anp.fft.fft, anp.concatenate, anp.array):
        assert pickle.loads(pickle.dumps(f)) is f


A, B = numpy.array([[1.0, 2.0], [3.0, 4.0]]), numpy.array([5.0, 6.0])
PLAIN = [
    lambda np: np.array([[1, 2], [3, 4]]),
    lambda np: np.array([1.0, 2.0], dtype=numpy.float32, ndmin=2),
    lambda np: np.asarray([(1, 2.5), (3, 4)]),
    lambda np: np.r_[1, 2:4, [5, 6], B],
    lambda np: np.r_["0,2", B, B],
    lambda np: np.c_[B, B, [7, 8]],
    lambda np: np.c_[A, B],
    lambda np: np.stack([B, [7.0, 8.0]], axis=1),
    lambda np: np.hstack([[1.0], B]),
    lambda np: np.vstack([B, [7.0, 8.0]]),
    lambda np: np.concatenate([[1.0], B]),
    lambda np: np.mean([[1.0, 2.0], [4.0, 8.0]], axis=0),
    lambda np: np.std([1.0, 2.0, 4.0], ddof=1),
    lambda np: np.var([1.0, 2.0, 4.0]),
    lambda np: np.linalg.norm([3.0, 4.0]),
    lambda np: np.linalg.norm(A, ord="fro"),
    lambda np: np.sum([[1, 2], [3, 4]], axis=0),
    lambda np: np.max((1.0, 5.0, 2.0)),
    lambda np: np.dot([1.0, 2.0], B),
    lambda np: np.sin([0.5, 1.5]),
    lambda np: np.add([1, 2], 3),
    lambda np: np.add.reduce([[1, 2], [3, 4]]),
    lambda np: np.cumsum([1.0, 2.0, 3.0]),
    lambda np: np.fft.fft([1.0, 2.0, 0.5]),
    lambda np: np.concatenate([[1, 2], [3]], dtype=numpy.float32),
    lambda np: np.stack([B, B], dtype=numpy.int8, casting="unsafe"),
    lambda np: np.asanyarray([1.5, 2.5], dtype=numpy.float32),
    lambda np: np.full((2,), [1.0, 2.0]),
    lambda np: np.full_like([1, 2], 7.5),
    lambda np: np.full_like(B, [1.0, 2.0], dtype=numpy.float32),
    lambda np: np.where([True, False], [1.0, 2.0], 0),
]


@pytest.mark.parametrize("build", PLAIN)
def test_plain_values_pass_straight_to_numpy(build):
    ours, theirs = build(anp), build(numpy)
    assert type(ours) is type(theirs) and numpy.result_type(ours) == numpy.result_type(theirs)
    numpy.testing.assert_array_equal(ours, theirs)


def test_asarray_of_an_array_is_the_array_and_array_copies():
    assert anp.asarray(A) is A and anp.asanyarray(A) is A
    assert anp.array(A) is not A


def test_a_plain_call_is_numpys_own_views_and_out_included():
    assert numpy.shares_memory(anp.reshape(A, (4,)), A) and numpy.shares_memory(anp.transpose(A), A)
    out = numpy.zeros(2)
    assert anp.sum(A, axis=0, out=out) is out and anp.add(B, 1.0, out=out) is out
    numpy.testing.assert_array_equal(out, B + 1.0)
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):  # NumPy's own refusal, untouched
        anp.copyto([1.0], [2.0])


# Each f maps x (3,) to a vector through one constructor of lists holding traced values;
# `np` is ad.numpy inside, and numpy on plain values for the finite differences.
X = numpy.array([0.7, -1.3, 2.1])
VECTOR_FUNCTIONS = {
    "array of scalars": lambda np, x: np.array([x[0] * x[1], np.sin(x[2]), 3.0]),
    "array nested": lambda np, x: np.array([[x[0], 2.0], [x[1] * x[2], x[0] ** 2]]).ravel(),
    "array of arrays and scalars": lambda np, x: np.array([x, [1.0, x[0], 2.0]]).ravel(),
    "array ndmin": lambda np, x: np.array([x[0], x[1]], ndmin=2).ravel() * 2.0,
    "asarray of a tuple": lambda np, x: np.asarray((x[2], x[0] * x[1])),
    "r_": lambda np, x: np.r_[x[0], 1.0, x**2, 0:2],
    "c_": lambda np, x: np.c_[x, x**2, [1.0, 2.0, 3.0]].ravel(),
    "stack of nested lists": lambda np, x: np.stack([[x[0], x[1]], [x[2], 1.0]], axis=1).ravel(),
    "hstack": lambda np, x: np.hstack([[x[0], 5.0], x]),
    "vstack": lambda np, x: np.vstack([[x[0], x[1], 1.0], x]).ravel(),
    "concatenate": lambda np, x: np.concatenate([[x[2] * x[0]], x, [4.0]]),
    "mean": lambda np, x: np.mean([[x[0], x[1]], [x[2] ** 2, 1.0]], axis=0),
    "std": lambda np, x: np.std([x[0], x[1], 2.0 * x[2]], ddof=1, keepdims=True),
    "var": lambda np, x: np.var([[x[0], x[1]], [x[2], 0.5]], axis=1),
    "linalg.norm": lambda np, x: np.reshape(np.linalg.norm([x[0], x[1] * x[2], 1.0]), (1,)),
}


def _finite_difference_jacobian(f, x):
    columns = [central_difference(f, (x,), (e,)) for e in numpy.eye(len(x))]
    return numpy.stack(columns, axis=1)


@pytest.mark.parametrize("name", list(VECTOR_FUNCTIONS))
@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
def test_jacobians_through_the_constructors_match_finite_differences(name, mode):
    f = VECTOR_FUNCTIONS[name]
    J = getattr(ad, mode)(lambda x: f(anp, x))(X)
    numpy.testing.assert_allclose(f(anp, X), f(numpy, X))
    numpy.testing.assert_allclose(
        J, _finite_difference_jacobian(lambda x: f(numpy, x), X), rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("name", list(VECTOR_FUNCTIONS))
@pytest.mark.parametrize("transform", [ad.grad, lambda f: ad.jacfwd(f)])
def test_gradients_of_a_scalar_through_the_constructors(name, transform):
    f = VECTOR_FUNCTIONS[name]
    w = numpy.arange(1.0, 1.0 + numpy.size(f(numpy, X)))
    g = transform(lambda x: anp.dot(w, f(anp, x)))(X)
    numpy.testing.assert_allclose(g, w @ _finite_difference_jacobian(lambda x: f(numpy, x), X), rtol=1e-6)


def test_hand_derived_jacobian_of_a_vector_built_from_a_list():
    # f(x, y) = (x^2 y, 5x + sin y): J = [[2xy, x^2], [5, cos y]]
    f = lambda v: anp.array([v[0] ** 2 * v[1], 5 * v[0] + anp.sin(v[1])])
    x, y = 1.5, -0.4
    expected = [[2 * x * y, x * x], [5.0, numpy.cos(y)]]
    for jac in (ad.jacfwd, ad.jacrev):
        numpy.testing.assert_allclose(jac(f)(numpy.array([x, y])), expected)


def test_second_order_through_a_stack_of_traced_values():
    # f = (xy)^2 + x^4: H = [[2y^2 + 12x^2, 4xy], [4xy, 2x^2]]
    f = lambda v: anp.sum(anp.array([v[0] * v[1], v[0] ** 2]) ** 2)
    x, y = 0.5, 2.0
    numpy.testing.assert_allclose(
        ad.hessian(f)(numpy.array([x, y])), [[2 * y * y + 12 * x * x, 4 * x * y], [4 * x * y, 2 * x * x]]
    )


def test_an_eager_tensor_list_becomes_a_tensor_that_backpropagates():
    a, b = ad.tensor(2.0, requires_grad=True), ad.tensor(3.0, requires_grad=True)
    y = anp.sum(anp.array([a * b, a, 1.0]) ** 2)  # (ab)^2 + a^2 + 1
    y.backward()
    assert a.grad.item() == pytest.approx(2 * a.item() * b.item() ** 2 + 2 * a.item())
    assert b.grad.item() == pytest.approx(2 * b.item() * a.item() ** 2)


def test_a_cast_of_traced_values_to_a_float_dtype_differentiates_and_to_int_is_refused():
    with pytest.raises(TypeError, match=r"dtype=int64.*drop it silently.*Leave dtype out"):
        ad.grad(lambda x: anp.sum(anp.array([x, x], dtype=int)))(1.0)
    assert ad.grad(lambda x: anp.sum(anp.array([x, 2.0 * x], dtype=float)))(1.0) == 3.0
    y = anp.array([ad.tensor(1.5, requires_grad=True)], dtype=numpy.float32)
    assert y.dtype == numpy.float32
    assert ad.grad(lambda x: anp.sum(anp.array([x, 3.0 * x], dtype=numpy.float32)))(1.0) == 4.0


def test_r_with_a_directive_string_and_traced_values_says_what_to_use():
    with pytest.raises(NotImplementedError, match="concatenate or stack"):
        ad.grad(lambda x: anp.sum(anp.r_["0,2", [x, x]]))(1.0)


AUTOGRAD_STYLE = """
def tanh(x):
    y = np.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)

def logistic_loss(w, inputs, targets):
    preds = 0.5 * (np.tanh(np.dot(inputs, w) / 2.0) + 1.0)
    probs = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(probs))

def features(x):
    return np.array([x[0], x[0] * x[1], np.cos(x[1]), 1.0])

def pendulum_energy(state):
    theta, omega = state[0], state[1]
    parts = np.array([0.5 * omega ** 2, 9.81 * (1.0 - np.cos(theta))])
    return (np.sum(parts) + np.mean([theta ** 2, omega ** 2]) + np.linalg.norm(np.r_[theta, omega, 1.0])
            + np.sum([theta * omega, 1.0]) + np.max([theta, omega ** 2]) + np.prod((theta, omega)))
"""

INPUTS = numpy.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
TARGETS = numpy.array([1.0, 1.0, 0.0, 1.0])
W = numpy.array([0.1, -0.2, 0.3])
STATE = numpy.array([0.4, -1.1])


def _program(np):
    scope = {"np": np}
    exec(AUTOGRAD_STYLE, scope)
    return scope


def test_code_written_for_autograd_runs_and_matches_finite_differences():
    ours, plain = _program(anp), _program(numpy)
    assert ad.grad(ours["tanh"])(1.0) == pytest.approx(1 - numpy.tanh(1.0) ** 2)
    for name, x, extra in [("logistic_loss", W, (INPUTS, TARGETS)), ("pendulum_energy", STATE, ())]:
        g = ad.grad(ours[name])(x, *extra)
        fd = _finite_difference_jacobian(lambda x: plain[name](x, *extra), x)[0]
        numpy.testing.assert_allclose(g, fd, rtol=1e-6)
        numpy.testing.assert_allclose(ad.jacfwd(ours[name])(x, *extra), g)
    numpy.testing.assert_allclose(
        ad.jacrev(ours["features"])(STATE),
        [[1, 0], [STATE[1], STATE[0]], [0, -numpy.sin(STATE[1])], [0, 0]],
    )


@pytest.mark.filterwarnings("ignore:r_ is slow")  # autograd's own advice about its r_
def test_code_written_for_autograd_gives_autograds_gradients():
    autograd = pytest.importorskip("autograd")
    agnp = pytest.importorskip("autograd.numpy")

    ours, theirs = _program(anp), _program(agnp)
    for name, x, extra in [("logistic_loss", W, (INPUTS, TARGETS)), ("pendulum_energy", STATE, ())]:
        numpy.testing.assert_allclose(ad.grad(ours[name])(x, *extra), autograd.grad(theirs[name])(x, *extra))
    numpy.testing.assert_allclose(
        ad.jacrev(ours["features"])(STATE), autograd.jacobian(theirs["features"])(STATE)
    )

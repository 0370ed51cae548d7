"""argnums and pytrees, the same for every transform: negative positions, None as an empty
subtree, Jacobians laid out as the output tree of input trees, and what grad refuses."""

import numpy as np
import pytest

import ad
from ad.testing import assert_trees_close

A = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])


def _jacobians():
    return {
        "jacfwd": ad.jacfwd,
        "jacrev": ad.jacrev,
        "jacobian-forward": lambda f, argnums=0: ad.jacobian(f, argnums, mode="forward"),
        "jacobian-reverse": lambda f, argnums=0: ad.jacobian(f, argnums, mode="reverse"),
        "jacobian-auto": lambda f, argnums=0: ad.jacobian(f, argnums),
    }


TRANSFORMS = {"grad": ad.grad, "value_and_grad": ad.value_and_grad, "hessian": ad.hessian, **_jacobians()}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_negative_argnums_count_from_the_end(name):
    # d/db sum(a * b^3) = 3 a b^2 = 12 at a = 1, b = 2; the second derivative is 6 a b = 12 too
    def f(*a):
        return np.sum(a[0] * a[-1] ** 3)

    out = TRANSFORMS[name](f, argnums=-1)(np.ones(1), 2 * np.ones(1))
    got = out[1] if name == "value_and_grad" else out
    np.testing.assert_allclose(np.ravel(got), [12.0])
    pair = TRANSFORMS[name](f, argnums=(-1, 0))(np.ones(1), 2 * np.ones(1))
    pair = pair[1] if name == "value_and_grad" else pair
    assert isinstance(pair, tuple) and len(pair) == 2
    np.testing.assert_allclose(np.ravel(pair[0]) if name != "hessian" else np.ravel(pair[0][0]), [12.0])


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize(
    "argnums,error,message",
    [
        ((0, 0), ValueError, r"argnums=\(0, 0\) names the same argument twice.*once"),
        ((1, -1), ValueError, r"twice \(positions \(1, 1\)\)"),
        (2, IndexError, r"argnums=2 names argument 2, but f was called with 2 argument.*from -2 to 1"),
        (-3, IndexError, "names argument -3"),
    ],
)
def test_bad_argnums_name_the_problem_and_the_fix(name, argnums, error, message):
    calls = []

    def f(x, y):
        calls.append(1)
        return np.sum(x * y)

    with pytest.raises(error, match=message):
        TRANSFORMS[name](f, argnums=argnums)(np.ones(2), np.ones(2))
    assert not calls  # refused before f ran


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("argnums", ["0", 1.0, True, (0, None), None])
def test_non_integer_argnums_are_refused_when_the_transform_is_made(name, argnums):
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        TRANSFORMS[name](np.sum, argnums=argnums)


def test_empty_argnums_is_refused():
    with pytest.raises(ValueError, match="names no argument"):
        ad.grad(np.sum, argnums=())


def test_numpy_integers_are_argnums_too():
    g = ad.grad(lambda x, y: np.sum(x * y), argnums=np.int64(1))(np.ones(2), np.ones(2) * 3)
    np.testing.assert_allclose(g, [1.0, 1.0])


def test_none_is_an_empty_subtree_in_every_transform():
    x = np.array([0.5, -1.0])

    def f(x, unused):
        assert unused is None or unused["skip"] is None
        return np.sum(x**2)

    gx, gn = ad.grad(f, argnums=(0, 1))(x, None)
    np.testing.assert_allclose(gx, 2 * x)
    assert gn is None
    g = ad.grad(lambda d: np.sum(d["x"] ** 2))({"x": x, "skip": None})
    assert g["skip"] is None
    out, tan = ad.jvp(f, (x, None), (np.ones(2), None))
    np.testing.assert_allclose(tan, np.sum(2 * x))
    _, pull = ad.vjp(f, x, {"skip": None})
    gx, gd = pull(1.0)
    np.testing.assert_allclose(gx, 2 * x)
    assert gd == {"skip": None}
    for jac in _jacobians().values():
        J = jac(lambda d: {"y": d["x"] * 2.0, "none": None})({"x": x, "skip": None})
        assert J["none"] is None and J["y"]["skip"] is None
        np.testing.assert_allclose(J["y"]["x"], 2 * np.eye(2))


def _tree_f(p):
    """A dict input, a tuple-of-dict output: Jacobian blocks are easy to derive by hand."""
    return ({"lin": A @ p["x"], "sq": p["s"] ** 2}, np.sum(p["x"]) * p["s"])


P = {"x": np.array([1.0, -2.0, 0.5]), "s": np.array(3.0)}


def _check_tree_jacobian(J):
    x, s = P["x"], P["s"]
    assert isinstance(J, tuple) and set(J[0]) == {"lin", "sq"} and set(J[1]) == {"x", "s"}
    np.testing.assert_allclose(J[0]["lin"]["x"], A)  # (2,) + (3,)
    np.testing.assert_array_equal(J[0]["lin"]["s"], np.zeros((2,)))  # (2,) + ()
    np.testing.assert_allclose(J[0]["sq"]["s"], 2 * s)  # () + ()
    np.testing.assert_array_equal(J[0]["sq"]["x"], np.zeros(3))
    np.testing.assert_allclose(J[1]["x"], s * np.ones(3))
    np.testing.assert_allclose(J[1]["s"], np.sum(x))
    assert J[0]["lin"]["s"].shape == (2,) and J[1]["s"].shape == ()


@pytest.mark.parametrize("name", sorted(_jacobians()))
def test_jacobians_of_pytrees_are_the_output_tree_of_input_trees(name):
    _check_tree_jacobian(_jacobians()[name](_tree_f)(P))


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_pytree_jacobians_in_chunks_that_straddle_leaves(chunk):
    for jac in (ad.jacfwd, ad.jacrev):
        _check_tree_jacobian(jac(_tree_f, chunk=chunk)(P))


def test_jacobians_with_a_sequence_argnums_nest_the_argument_tuple_inside_each_output():
    x, y = np.array([1.0, 2.0]), np.array(3.0)
    for jac in _jacobians().values():
        (Jx, Jy), total = jac(lambda x, y: (x * y, np.sum(x) + y), argnums=(0, 1))(x, y)
        np.testing.assert_allclose(Jx, 3.0 * np.eye(2))
        np.testing.assert_allclose(Jy, x)
        np.testing.assert_allclose(total[0], [1.0, 1.0])
        np.testing.assert_allclose(total[1], 1.0)


def test_hessian_of_a_dict_is_a_dict_of_dicts():
    # f = sum(a^2 b) with a vector a and scalar b: H_aa = 2b I, H_ab = 2a, H_bb = 0
    a, b = np.array([1.0, -2.0]), np.array(1.5)
    H = ad.hessian(lambda p: np.sum(p["a"] ** 2 * p["b"]))({"a": a, "b": b})
    np.testing.assert_allclose(H["a"]["a"], 2 * b * np.eye(2))
    np.testing.assert_allclose(H["a"]["b"], 2 * a)
    np.testing.assert_allclose(H["b"]["a"], 2 * a)
    np.testing.assert_allclose(H["b"]["b"], 0.0)


def test_hvp_of_a_pytree_is_shaped_like_the_tangent():
    a, b = np.array([1.0, -2.0]), np.array(1.5)
    f = lambda p: np.sum(p["a"] ** 2 * p["b"])  # noqa: E731
    v = {"a": np.array([1.0, 0.0]), "b": np.array(2.0)}
    for mode in ad.functional.HVP_MODES:
        value, Hv = ad.hvp(f, ({"a": a, "b": b},), (v,), mode=mode)
        np.testing.assert_allclose(Hv["a"], 2 * b * v["a"] + 2 * a * v["b"], err_msg=mode)
        np.testing.assert_allclose(Hv["b"], 2 * a @ v["a"], err_msg=mode)
    with pytest.raises(ValueError, match="structure"):
        ad.hvp(f, ({"a": a, "b": b},), ({"a": a},))


@pytest.mark.parametrize(
    "f,what",
    [
        (lambda x: None, "returned None"),
        (lambda x: "loss", r"returned a str \('loss'\)"),
        (lambda x: (np.sum(x), np.sum(x)), "returned a tuple"),
        (lambda x: {"loss": np.sum(x)}, "returned a dict"),
        (lambda x: 3, r"returned 3 \(an int, dtype int64\)"),
        (lambda x: np.sum(x) > 0, r"returned .*True.* \(a bool, dtype bool\)"),
        (lambda x: np.ones(1, int), r"returned an array of dtype int64 and shape \(1,\)"),
    ],
)
def test_grad_of_what_is_not_one_float_raises_naming_what_came_back(f, what):
    with pytest.raises(TypeError, match=f"grad needs f to return a float scalar; it {what}"):
        ad.grad(f)(np.ones(2))


def test_grad_accepts_any_size_one_output_and_shapes_the_gradient_like_the_input():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = ad.grad(lambda x: np.sum(x**2).reshape(1, 1))(x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, 2 * x)
    with pytest.raises(TypeError, match=r"scalar output; got shape \(2,\)"):
        ad.grad(lambda x: x[0])(x)


def test_grad_of_a_constant_is_zero_in_the_inputs_dtype():
    g = ad.grad(lambda x: 2.0)(np.ones(3, np.float32))
    assert g.dtype == np.float32 and not g.any()


def test_namedtuples_are_pytrees():
    from collections import namedtuple

    Point = namedtuple("Point", "x y")
    g = ad.grad(lambda p: p.x * p.y**2)(Point(np.array(2.0), np.array(3.0)))
    assert isinstance(g, Point)
    np.testing.assert_allclose([g.x, g.y], [9.0, 12.0])


# -- JAX as an oracle: values and layouts -------------------------------------------------------
def _same_tree(ours, theirs):
    assert_trees_close(ours, theirs, 1e-12, 1e-12)


def test_pytree_jacobians_match_jax(jax64):
    jnp = jax64.numpy

    def f(xp, p):
        return ({"lin": xp.tanh(A @ p["x"]), "sq": p["s"] ** 2}, [xp.sum(p["x"]) * p["s"], None])

    def ours(p):
        return f(np, p)

    def theirs(p):
        return f(jnp, p)

    _same_tree(ad.jacfwd(ours)(P), jax64.jit(jax64.jacfwd(theirs))(P))  # jit: one compile
    J = jax64.jit(jax64.jacrev(theirs))(P)
    _same_tree(ad.jacrev(ours)(P), J)
    _same_tree(ad.jacobian(ours)(P), J)
    g = lambda x, y, z: jnp.sum(jnp.sin(x) * y) * z  # noqa: E731
    h = lambda x, y, z: np.sum(np.sin(x) * y) * z  # noqa: E731
    args = (np.array([0.1, 0.2]), np.array([1.5, -1.0]), np.array(2.0))
    for argnums in (-1, (2, 0)):
        _same_tree(ad.grad(h, argnums)(*args), jax64.jit(jax64.grad(g, argnums))(*args))
    _same_tree(ad.hessian(h, (-1, 0))(*args), jax64.jit(jax64.hessian(g, (-1, 0)))(*args))

"""Questions about traced values (dtype, shape, memory, equality) answer as NumPy does on the
primal values, in every engine, and the joins take dtype= and casting= in plain NumPy too."""

import numpy
import pytest

import ad
import ad.numpy as anp
from ad.trace import new_level

X = numpy.array([1.0, 2.0, 3.0])
Y = numpy.array([1.0, 2.0, 3.5])

QUERIES = {
    "iscomplexobj": lambda np, a: np.iscomplexobj(a),
    "isrealobj": lambda np, a: np.isrealobj(a),
    "result_type": lambda np, a: np.result_type(a, numpy.float32, 1j),
    "can_cast": lambda np, a: (np.can_cast(a, numpy.float32), np.can_cast(a, complex)),
    "common_type": lambda np, a: np.common_type(a, numpy.ones(2, numpy.float32)),
    "min_scalar_type": lambda np, a: np.min_scalar_type(a),
    "shares_memory": lambda np, a: (np.shares_memory(a, a), np.shares_memory(a, Y)),
    "may_share_memory": lambda np, a: (np.may_share_memory(a, a), np.may_share_memory(a, Y)),
    "array_equiv": lambda np, a: (np.array_equiv(a, X), np.array_equiv(a, Y), np.array_equiv(a[:1], a[0])),
    "array_equal": lambda np, a: (np.array_equal(a, X), np.array_equal(a, Y)),
    "allclose": lambda np, a: (np.allclose(a, X), np.allclose(a, Y)),
    "isclose": lambda np, a: np.isclose(a, Y).tolist(),
    "einsum_path": lambda np, a: np.einsum_path(
        "i,ij,jk->k", a, numpy.ones((3, 5)), numpy.ones((5, 2)), optimize="greedy"
    ),
    "ndim, shape, size": lambda np, a: (np.ndim(a), np.shape(a), np.size(a), np.size(a, 0)),
    "lists of traced values": lambda np, a: (
        np.iscomplexobj([a, a]),
        np.shape([a, a]),
        np.array_equal([a, a], [X, X]),
        np.array_equiv([a, a], X),
        np.allclose([a[0], a[1]], [1.0, 2.0]),
    ),
}


def _in_grad(query, x):
    seen = []
    ad.grad(lambda a: seen.append(query(a)) or anp.sum(anp.abs(a)))(x)
    return seen[0]


def _in_jvp(query, x):
    seen = []
    ad.jvp(lambda a: seen.append(query(a)) or a, (x,), (numpy.ones_like(x),))
    return seen[0]


def _on_a_tensor(query, x):
    return query(ad.tensor(x, requires_grad=True))


def _on_a_dual(query, x):
    return query(ad.Dual(x, numpy.ones_like(x), new_level()))


ENGINES = [_in_grad, _in_jvp, _on_a_tensor, _on_a_dual]


@pytest.mark.parametrize("engine", ENGINES, ids=lambda f: f.__name__[1:])
@pytest.mark.parametrize("name", list(QUERIES))
@pytest.mark.parametrize("x", [X, X.astype(numpy.float32), X + 0.5j], ids=["float64", "float32", "complex"])
def test_a_query_on_a_traced_value_is_numpys_answer_about_its_primal(name, engine, x):
    query = QUERIES[name]
    assert engine(lambda a: query(anp, a), x) == query(numpy, x)
    if name != "lists of traced values":  # plain NumPy refuses a list holding traced values
        assert engine(lambda a: query(numpy, a), x) == query(numpy, x)


def test_the_answers_are_constants_of_the_derivative():
    def f(a):
        return a * a * numpy.ndim(a) * numpy.iscomplexobj(a + 0j) * numpy.allclose(a, X)

    numpy.testing.assert_array_equal(ad.grad(lambda a: numpy.sum(f(a)))(X), 2 * X)
    numpy.testing.assert_array_equal(ad.jacfwd(f)(X), numpy.diag(2 * X))


def test_a_compiled_tape_keeps_dtype_queries_and_refuses_value_queries():
    def by_dtype(a):
        return numpy.sum(a * a) * (2.0 if numpy.isrealobj(a) else 1.0)

    tape = ad.compile(by_dtype, X)
    assert tape(X) == by_dtype(X)
    with pytest.raises(NotImplementedError, match="array_equal"):
        ad.compile(lambda a: numpy.sum(a) * numpy.array_equal(a, X), X)


def test_an_einsum_path_planned_on_traced_operands_drives_einsum_in_every_engine():
    B = numpy.arange(12.0).reshape(3, 4) / 7
    C = numpy.arange(8.0).reshape(4, 2) / 5

    def f(a):
        path, _ = numpy.einsum_path("i,ij,jk->k", a, B, C, optimize="greedy")
        return numpy.einsum("i,ij,jk->k", a, B, C, optimize=path)

    expected = (B @ C).T
    numpy.testing.assert_allclose(ad.jacfwd(f)(X), expected)
    numpy.testing.assert_allclose(ad.jacrev(f)(X), expected)
    numpy.testing.assert_allclose(
        ad.compile(lambda a: numpy.sum(a * a) * len(numpy.einsum_path("i,ij->j", a, B)[0]), X).grad(X),
        2 * X * 2,
    )


def test_sparsity_detection_takes_a_branch_on_the_dtype():
    def f(a):
        return numpy.real(a) ** 2 if numpy.iscomplexobj(a) else a**2

    numpy.testing.assert_array_equal(ad.sparse_jacobian(f, X).toarray(), numpy.diag(2 * X))


# -- joins with dtype= and casting= in plain NumPy ----------------------------------------------

JOINS = {
    "concatenate": lambda np, x, **kw: np.concatenate([x, x**2], **kw),
    "stack": lambda np, x, **kw: np.stack([x, x**2], axis=1, **kw),
    "hstack": lambda np, x, **kw: np.hstack([x, x**2], **kw),
    "vstack": lambda np, x, **kw: np.vstack([x, x**2], **kw),
}


@pytest.mark.parametrize("name", list(JOINS))
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.complex128])
def test_plain_numpy_joins_cast_traced_operands_to_dtype_with_jaxs_jacobian(name, dtype, jax64):
    import jax.numpy as jnp

    f = JOINS[name]
    expected = numpy.asarray(jax64.jacfwd(lambda x: f(jnp, x, dtype=dtype))(X))
    # a complex output of real input: jacrev, like JAX's, asks for holomorphic=True
    for jac in (ad.jacfwd, ad.jacrev) if dtype is numpy.float32 else (ad.jacfwd,):
        seen = []
        J = jac(lambda x: seen.append(f(numpy, x, dtype=dtype)) or seen[-1])(X)
        numpy.testing.assert_allclose(J, expected, rtol=1e-6)
        assert seen[0].dtype == f(numpy, X, dtype=dtype).dtype == numpy.dtype(dtype)
    t = f(numpy, ad.tensor(X), dtype=dtype)
    numpy.testing.assert_array_equal(t.numpy(), f(numpy, X, dtype=dtype))


def test_plain_numpy_joins_follow_numpys_casting_rule():
    x32 = X.astype(numpy.float32)
    for casting, operands in [("same_kind", None), ("no", [X, x32]), ("safe", None)]:
        kw = {"dtype": int} if operands is None else {}
        operands = operands or [X, X]
        with pytest.raises(TypeError, match=f"according to the rule '{casting}'") as numpys:
            numpy.concatenate(operands, casting=casting, **kw)
        with pytest.raises(TypeError, match=f"according to the rule '{casting}'") as ours:
            ad.grad(lambda a: numpy.sum(numpy.concatenate([a, operands[1]], casting=casting, **kw)))(X)
        assert str(ours.value) == str(numpys.value)
    # unsafe asks for the truncation: integer values, of zero derivative
    seen = []
    truncated = lambda a: numpy.stack([a, X / 2], dtype=int, casting="unsafe")  # noqa: E731
    g = ad.grad(lambda a: seen.append(truncated(a)) or numpy.sum(a))(X)
    numpy.testing.assert_array_equal(seen[0], numpy.stack([X, X / 2], dtype=int, casting="unsafe"))
    numpy.testing.assert_array_equal(g, numpy.ones(3))


def test_a_join_into_out_refuses_naming_the_fix():
    with pytest.raises(NotImplementedError, match=r"concatenate\(\.\.\., out=\.\.\.\).*assign the result"):
        ad.grad(lambda a: numpy.sum(numpy.concatenate([a, a], out=numpy.zeros(6))))(X)

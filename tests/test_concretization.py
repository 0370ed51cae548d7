"""Turning a traced value into a plain Python or NumPy value raises inside every transform
(it would drop the derivative); an eager Tensor gives its value, as in PyTorch."""

import math
import operator
import re
from dataclasses import dataclass

import numpy as np
import pytest

import ad
from ad.functional import HVP_MODES
from ad.trace import Box


@dataclass
class Call:
    name: str
    run: object  # x -> anything; x is a traced 0-d array
    message: str  # regex: the call and the NumPy spelling the error suggests
    dunders: tuple  # the Box methods Python and NumPy reach for


def _into_zeros(x):
    out = np.zeros(3)
    out[0] = x * 2.0


def _into_zeros_slice(x):
    out = np.zeros(3)
    out[:1] = np.reshape(x, (1,))


BUILD = r"np\.stack.*np\.concatenate.*ad\.numpy\.array"
CALLS = [
    Call("float", float, r"float\(\).*drop its derivative.*np\.sin\(x\)", ("__float__",)),
    Call("math.sin", math.sin, r"math\.sin\(x\).*drop its derivative.*np\.sin\(x\)", ("__float__",)),
    Call("int", int, r"int\(\).*np\.trunc\(x\)", ("__int__",)),
    Call("complex", complex, r"complex\(\).*x \+ 1j \* y", ("__complex__",)),
    Call("item", lambda x: x.item(), r"\.item\(\).*x\.reshape\(\(\)\)", ("item",)),
    Call("tolist", lambda x: x.tolist(), r"\.tolist\(\).*list\(x\)", ("tolist",)),
    Call("np.float64", np.float64, r"np\.float64\(x\).*" + BUILD, ("__float__", "__array__")),
    Call("operator.index", operator.index, r"operator\.index\(\).*x\.shape", ("__index__",)),
    Call("np.asarray", np.asarray, r"np\.asarray\(x\).*" + BUILD, ("__array__",)),
    Call(
        "np.array of a list",
        lambda x: np.array([x, x]),
        r"np\.array\(\[x, \.\.\.\]\).*" + BUILD,
        ("__array__",),
    ),
    Call("out[0] = x", _into_zeros, r"out\[i\] = x.*" + BUILD, ("__float__", "__array__")),
    Call("out[:1] = x", _into_zeros_slice, r"out\[i\] = x.*" + BUILD, ("__array__",)),
]

X, V = np.array(0.3), np.array(1.0)
TRANSFORMS = {
    "jvp": lambda f: ad.jvp(f, (X,), (V,)),
    "vjp": lambda f: ad.vjp(f, X),
    "grad": lambda f: ad.grad(f)(X),
    "jacfwd": lambda f: ad.jacfwd(f)(X),
    "jacrev": lambda f: ad.jacrev(f)(X),
    "hessian": lambda f: ad.hessian(f)(X),
    "jacobian forward": lambda f: ad.jacobian(f, mode="forward")(X),
    "jacobian reverse": lambda f: ad.jacobian(f, mode="reverse")(X),
    **{f"hvp {m}": (lambda m: lambda f: ad.hvp(f, (X,), (V,), mode=m))(m) for m in HVP_MODES},
    "compile": lambda f: ad.compile(f, X),
}


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_a_python_conversion_of_a_traced_value_raises_and_says_what_to_write(transform, call):
    seen = []

    def f(x):
        if isinstance(x, Box):  # some transforms also evaluate f on the plain input
            seen.append(type(x))
            call.run(x)
        return x * x

    try:
        TRANSFORMS[transform](f)
        message = None
    except TypeError as e:
        message = str(e)
    except ValueError as e:  # out[0] = x: NumPy re-raises our error as "setting an array element
        message = str(e.__cause__)  # with a sequence" (a box has __getitem__), caused by ours
    if message is None or not re.search(call.message, message, re.S):
        pytest.fail(f"{call.name} in {transform}: expected /{call.message}/, got {message!r}")
    assert "detach" not in message and ".primal" not in message  # both would drop the derivative


@pytest.mark.parametrize(
    "call", [c for c in CALLS if c.name in ("float", "math.sin", "int", "complex", "item", "tolist")]
)
def test_a_hand_made_dual_refuses_too(call):
    with pytest.raises(TypeError, match="hand-made Dual would drop its derivative"):
        call.run(ad.Dual(np.array(0.3), np.array(1.0)))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_an_eager_tensor_gives_its_value_as_in_pytorch(requires_grad):
    t = ad.tensor(2.5, requires_grad=requires_grad)
    assert float(t) == 2.5 and int(t) == 2 and complex(t) == 2.5 + 0j
    assert t.item() == 2.5 and t.tolist() == 2.5
    assert np.float64(t) == 2.5 and math.sin(t) == math.sin(2.5)
    assert ad.tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]
    assert operator.index(ad.tensor(3)) == 3 and [10, 11, 12, 13][ad.tensor(2)] == 12


def test_the_numpy_spellings_the_errors_suggest_give_the_derivative():
    np.testing.assert_allclose(ad.grad(lambda x: np.sin(x))(0.3), math.cos(0.3))
    np.testing.assert_allclose(ad.grad(lambda x: x.reshape(()) * 3.0)(np.array([0.3])), [3.0])
    np.testing.assert_allclose(
        ad.grad(lambda x: sum(v * v for v in list(x)))(np.array([1.0, 2.0])), [2.0, 4.0]
    )
    np.testing.assert_allclose(ad.grad(lambda x: np.trunc(x) * x)(2.5), 2.0)  # trunc: zero derivative


# f(x) = sum_i x_i^2 / n written with the shape, len and a loop over range(len(x)): dims are
# never traced, so every transform differentiates it. Its gradient is 2 x / n.
def _mean_square(x):
    n = x.shape[0]
    assert len(x) == n
    return sum(x[i] * x[i] for i in range(len(x))) / n


@pytest.mark.parametrize(
    "gradient",
    [
        lambda f, x: ad.grad(f)(x),
        lambda f, x: ad.jacfwd(f)(x),
        lambda f, x: ad.jacrev(f)(x),
        lambda f, x: ad.vjp(f, x)[1](1.0)[0],
        lambda f, x: ad.compile(f, x).grad(x),
    ],
    ids=["grad", "jacfwd", "jacrev", "vjp", "compile"],
)
def test_shape_len_and_range_are_plain_numbers_inside_transforms(gradient):
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(gradient(_mean_square, x), 2 * x / 3)


def test_shape_metadata_feeds_the_hessian():
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(ad.hessian(_mean_square)(x), 2 * np.eye(3) / 3)


@pytest.mark.parametrize("x, slope", [(0.3, 0.6), (-0.3, -1.0)])
def test_branching_on_a_comparison_or_on_truth_works_inside_transforms(x, slope):
    """`if x > 0:` tests a comparison (a plain array); bool(x) has no derivative to drop."""
    by_comparison = lambda x: x * x if x > 0 else -x
    by_truth = lambda x: x * x if bool(x > 0) and x else -x
    for f in (by_comparison, by_truth):
        assert ad.grad(f)(x) == pytest.approx(slope)
        assert ad.jacfwd(f)(x) == pytest.approx(slope)

"""Every transform refuses an f whose output is not arrays of numbers (a function, a string):
its derivative is not a number either, so a zero in its place would be a wrong answer."""

import numpy as np
import pytest

import ad

X = np.float64(1.0)
CLOSURE = lambda x: lambda y: x * y  # noqa: E731  (its derivative in x is y -> y)

TRANSFORMS = {
    "jvp": lambda f: ad.jvp(f, (X,), (X,)),
    "jacfwd": lambda f: ad.jacfwd(f)(X),
    "jacrev": lambda f: ad.jacrev(f)(X),
    "jacobian": lambda f: ad.jacobian(f)(X),
    "grad": lambda f: ad.grad(f)(X),
    "hvp": lambda f: ad.hvp(f, (X,), (X,)),
}


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("f", [CLOSURE, lambda x: "label"], ids=["a closure", "a string"])
def test_a_transform_refuses_an_output_that_is_not_numbers(transform, f):
    with pytest.raises(TypeError, match="return"):
        TRANSFORMS[transform](f)


def test_vjp_refuses_an_output_that_is_not_numbers():
    with pytest.raises(TypeError, match="return arrays of numbers"):
        ad.vjp(CLOSURE, X)

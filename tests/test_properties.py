"""Property tests: random programs composed from the registry's smooth elementwise ops, plus
matmul and sum, differentiated by jacfwd and jacrev and checked against finite differences."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ad
from ad import registry, testing
from ad.trace import apply

SMOOTH = [
    op
    for op in registry.all_ops()
    if op.kind == "elementwise" and op.smooth and all(d == "real" for d in op.domain) and op.examples is None
]
UNARY = [op for op in SMOOTH if len(op.derivs) == 1]
BINARY = [op for op in SMOOTH if len(op.derivs) == 2]
A = np.random.default_rng(0).uniform(-1, 1, (3, 3))

step = st.one_of(
    st.tuples(st.just("unary"), st.sampled_from(UNARY), st.integers(0, 50)),
    st.tuples(st.just("binary"), st.sampled_from(BINARY), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("matmul"), st.integers(0, 50)),
    st.tuples(st.just("sum"), st.integers(0, 50), st.integers(0, 50)),
)


def run(program, x):
    vals = [x]
    for s in program:
        pick = lambda i: vals[i % len(vals)]  # noqa: E731
        if s[0] == "unary":
            v = apply(s[1], (pick(s[2]),), {})
        elif s[0] == "binary":
            v = apply(s[1], (pick(s[2]), pick(s[3])), {})
        elif s[0] == "matmul":
            v = A @ pick(s[1])
        else:
            v = np.sum(pick(s[1])) * pick(s[2])
        vals.append(np.tanh(v))  # keeps every value in (-1, 1): no overflow down the chain
    return vals[-1]


def test_the_pools_come_from_the_registry():
    assert len(UNARY) >= 10 and len(BINARY) >= 3


@settings(max_examples=60, deadline=None)
@given(program=st.lists(step, min_size=1, max_size=8), seed=st.integers(0, 2**16))
def test_random_programs_jacfwd_equals_jacrev_and_finite_differences(program, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, 3)
    f = lambda x: run(program, x)  # noqa: E731
    Jf = ad.jacfwd(f)(x)
    Jr = ad.jacrev(f)(x)
    testing.assert_close(Jf, Jr, testing.EXACT_RTOL * 10, testing.EXACT_ATOL * 10, "jacfwd vs jacrev")
    Jd = np.stack([testing.central_difference(f, [x], [e]) for e in np.eye(3)], axis=-1)
    testing.assert_close(Jf, Jd, testing.FD_RTOL * 10, testing.FD_ATOL * 10, "jacfwd vs finite differences")

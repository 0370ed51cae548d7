"""ad.compile and ad.checkpoint against eager ad.grad on the same function, where a replay
could differ without raising: what f reads besides its argument changed between calls,
random numbers drawn while recording, inputs of another dtype than the recording's, and a
checkpoint's recomputation that differs from its first run."""

import types

import numpy as np
import pytest

import ad

X = np.array([0.5, -1.0, 2.0])
Y = np.array([1.5, 0.25, -3.0])


def _same_as_eager(c, f, x):
    np.testing.assert_allclose(c(x), f(x), rtol=1e-13)
    np.testing.assert_allclose(c.grad(x), ad.grad(f)(x), rtol=1e-13)


# -- what f reads besides x -----------------------------------------------------------------
def test_an_array_f_derives_a_constant_from_is_checked_when_changed_in_place():
    A = np.array([2.0, 3.0, 4.0])
    f = lambda x: np.sum(A.sum() * x)  # noqa: E731  (only A.sum(), a number, enters the tape)
    c = ad.compile(f, X)
    A[0] = 100.0
    _same_as_eager(c, f, X)


def test_a_closed_over_array_rebound_to_another_array_records_again():
    B = np.ones(3)

    def f(x):
        return np.sum(B * np.sin(x))

    c = ad.compile(f, X)
    B = np.full(3, 5.0)  # noqa: F841  (read by f through its closure)
    _same_as_eager(c, f, X)


def test_a_global_rebound_records_again():
    scope = {"np": np, "scale": 2.0}
    f = types.FunctionType(compile("lambda x: np.sum(scale * x * x)", "<f>", "eval").co_consts[0], scope)
    c = ad.compile(f, X)
    scope["scale"] = 7.0
    _same_as_eager(c, f, X)


def test_a_number_read_from_a_list_or_an_object_records_again():
    weights = [2.0]

    class Model:
        def __init__(self):
            self.bias = np.zeros(3)

        def loss(self, x):
            return np.sum(weights[0] * x * x + self.bias * x)

    model = Model()
    c = ad.compile(model.loss, X)
    weights[0] = 9.0
    _same_as_eager(c, model.loss, X)
    model.bias = np.ones(3)
    _same_as_eager(c, model.loss, X)
    assert c.records == 3


def test_a_helper_function_rebound_records_again():
    def helper(x):
        return np.sin(x)

    def f(x):
        return np.sum(helper(x))

    c = ad.compile(f, X)
    helper = np.cos  # noqa: F811
    _same_as_eager(c, f, X)


def test_an_unchanged_environment_replays_without_recording():
    A = np.array([1.0, 2.0, 3.0])
    c = ad.compile(lambda x: np.sum(A.sum() * x * x), X)
    for _ in range(3):
        c.grad(Y)
    assert c.records == 1


@pytest.mark.parametrize(
    "draw",
    [lambda x: np.random.randn(3), lambda x: RNG.standard_normal(3)],
    ids=["np.random", "Generator"],
)
def test_random_numbers_drawn_while_recording_are_refused(draw):
    before = np.random.get_state()
    with pytest.raises(ValueError, match="random numbers.*replay the same draw"):
        ad.compile(lambda x: np.sum(draw(x) * x), X)
    np.random.set_state(before)


RNG = np.random.default_rng(0)


# -- inputs of another dtype than the recording's -------------------------------------------
@pytest.mark.parametrize("x", [X + 1j, np.array([1, 2, 3]), np.array([True, False, True])], ids=str)
def test_a_replay_refuses_an_input_that_is_not_real_floats(x):
    c = ad.compile(lambda x: np.sum(np.sin(x) * x), X)
    with pytest.raises(TypeError, match="float input"):
        c.grad(x)
    with pytest.raises(TypeError, match="float input"):
        c(x)


def test_float32_in_float32_out_in_every_sweep():
    f = lambda x: np.sum(np.sin(x) * x)  # noqa: E731
    x = X.astype(np.float32)
    c = ad.compile(f, X)  # recorded in float64, replayed in float32
    value, g = c.value_and_grad(x)
    assert value.dtype == g.dtype == np.float32
    np.testing.assert_allclose(g, ad.grad(f)(x), rtol=1e-6)
    assert ad.grad(f)(x).dtype == np.float32
    for out in (c(x), c.grad(x), c.jacfwd(x), c.jacrev(x), *c.vjp(x, np.float32(1)), *c.jvp(x, x)):
        assert np.asarray(out).dtype == np.float32


def test_a_float_wider_than_float64_is_refused_rather_than_rounded():
    if np.finfo(np.longdouble).eps == np.finfo(np.float64).eps:
        pytest.skip("longdouble is float64 here")
    with pytest.raises(TypeError, match="float64"):
        ad.compile(lambda x: np.sum(x * x), X.astype(np.longdouble))


# -- checkpoint ------------------------------------------------------------------------------
def test_a_checkpoint_recomputation_that_differs_in_small_entries_raises():
    # The first run's output has entries of very different sizes; a side effect changes the
    # small ones by far more than rounding, which a tolerance scaled by the largest hid.
    s = np.array([1.0])

    def f(x):
        y = np.concatenate([1e6 * np.ones(2), x * s[0]])
        s[0] *= 1.5
        return y

    with pytest.raises(ValueError, match="another output"):
        ad.grad(lambda x: np.sum(ad.checkpoint(f)(x)))(np.full(3, 1e-3))


def _doubles_in_place(x):
    x *= 2.0
    return np.sin(x)


def _triples_a_view(x):
    v = x[1:]
    v *= 3.0
    return np.sum(x**2)


@pytest.mark.parametrize("f", [_doubles_in_place, _triples_a_view])
def test_a_checkpointed_function_writing_into_its_argument_raises_and_changes_nothing(f):
    # Its first run computes on the argument's own array: the write went there unrecorded
    x = X.copy()
    with pytest.raises(ValueError, match=r"checkpoint\(_\w+\): .* read-only array, most likely its argument"):
        ad.grad(lambda x: np.sum(ad.checkpoint(f)(x)))(x)
    np.testing.assert_array_equal(x, X)
    y = X.copy()  # a non-leaf argument: the write would have reached values used afterwards
    with pytest.raises(ValueError, match="read-only array, most likely its argument"):
        ad.grad(lambda x: np.sum(ad.checkpoint(f)(x * 1.0)))(y)
    np.testing.assert_array_equal(y, X)

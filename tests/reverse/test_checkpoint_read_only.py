"""ad.checkpoint's refusal of a write into its argument is told from the outcome (f succeeds on a
writeable copy), not from NumPy's wording of the error; f's own ValueErrors pass through."""

import numpy as np
import pytest

import ad

WRITES = r"checkpoint\(f\): f writes into a read-only array, most likely its argument"


def _scale_in_place(x):
    x *= 2
    return np.sum(x)


def _set_entry(x):
    x[0] = 5.0
    return np.sum(x * x)


def _reworded(x):
    """What NumPy would do if it reworded its error: a ValueError that names no 'read-only'."""
    if not x.flags.writeable:
        raise ValueError("destination cannot be written")
    return np.sum(x)


@pytest.mark.parametrize("body", [_scale_in_place, _set_entry, _reworded])
def test_a_write_into_the_argument_is_refused_by_name_and_leaves_it_unchanged(body):
    def f(x):
        return body(x)

    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=WRITES):
        ad.grad(ad.checkpoint(f))(x)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    t = ad.tensor(x, requires_grad=True)
    with pytest.raises(ValueError, match=WRITES):
        ad.checkpoint(f)(t)


def test_f_own_value_error_mentioning_read_only_passes_through():
    def f(x):
        raise ValueError("my own error: the config is read-only")

    with pytest.raises(ValueError, match="^my own error: the config is read-only$"):
        ad.grad(ad.checkpoint(f))(np.ones(2))


def test_a_write_into_a_read_only_array_f_closes_over_is_not_blamed_on_the_argument():
    table = np.ones(2)
    table.flags.writeable = False

    def f(x):
        table[0] = 3.0
        return np.sum(x)

    with pytest.raises(ValueError) as info:
        ad.grad(ad.checkpoint(f))(np.ones(2))
    assert "checkpoint" not in str(info.value)


def test_a_random_value_error_is_judged_from_the_same_random_state():
    def f(x):
        if np.random.uniform() < 2.0:  # always: the error is f's own, in the rerun as well
            raise ValueError("drawn")
        return np.sum(x)

    np.random.seed(0)
    with pytest.raises(ValueError, match="^drawn$"):
        ad.grad(ad.checkpoint(f))(np.ones(2))


def test_out_of_place_code_is_checkpointed_as_before():
    def f(x):
        y = x * 2
        y[0] = 5.0  # a write into f's own array is fine
        return np.sum(y * y)

    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(ad.grad(ad.checkpoint(f))(x), [0.0, 16.0, 24.0])

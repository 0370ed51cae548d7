"""t[index] = v with a position named twice: the last write stays, the earlier gets no cotangent."""

import numpy as np

import ad

C = np.array([2.0, 3.0, 5.0, 7.0])


def _weighted(x, v, index):
    y = x * 1.0
    y[index] = v
    return np.sum(y * C)


def test_an_overwritten_entry_of_v_gets_no_cotangent():
    x, w = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 0.6, 0.7])
    gx, gw = ad.grad(lambda x, w: _weighted(x, w, [0, 2, 0]), (0, 1))(x, w)
    # y[0] = w[2] (w[0] is overwritten), y[2] = w[1]
    np.testing.assert_array_equal(gw, [0.0, C[2], C[0]])
    np.testing.assert_array_equal(gx, [0.0, C[1], 0.0, C[3]])


def test_a_broadcast_value_written_twice_to_one_position_counts_once():
    gx, gv = ad.grad(lambda x, v: _weighted(x, v, np.array([1, 1, 3])), (0, 1))(np.zeros(4), 2.0)
    assert gv == C[1] + C[3]
    np.testing.assert_array_equal(gx, [C[0], 0.0, C[2], 0.0])


def test_repeated_rows_against_finite_differences():
    x, v = np.arange(8.0).reshape(4, 2) / 10, np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    index = (np.array([3, 0, 3]), slice(None))

    def f(x, v):
        y = x * 1.0
        y[index] = v
        return np.sin(y)

    J = ad.jacrev(f, (0, 1))(x, v)[1]
    h, fd = 1e-6, np.zeros((4, 2) + v.shape)
    for k in np.ndindex(v.shape):
        dv = np.zeros_like(v)
        dv[k] = h
        y0, y1 = x.copy(), x.copy()
        y0[index], y1[index] = v - dv, v + dv
        fd[(...,) + k] = (np.sin(y1) - np.sin(y0)) / (2 * h)
    np.testing.assert_allclose(J, fd, rtol=1e-8, atol=1e-10)
    assert np.all(J[:, :, 0, :] == 0)  # row 0 of v is overwritten by row 2: it reaches nothing


def test_a_value_with_leading_length_one_axes_gets_its_own_shape_back():
    """NumPy accepts y[0:2] = w for w of shape (1, 2) or (1, 1, 2), dropping the leading 1s."""
    for shape in [(1, 2), (1, 1, 2)]:
        w = np.array([0.5, -1.5]).reshape(shape)
        gx, gw = ad.grad(lambda x, w: _weighted(x, w, slice(0, 2)), (0, 1))(np.ones(4), w)
        assert gw.shape == shape
        np.testing.assert_array_equal(gw.ravel(), C[:2])
        np.testing.assert_array_equal(gx, [0.0, 0.0, C[2], C[3]])

"""set_grad_enabled, inference_mode, detach_ and the Tensor methods a training loop calls,
each next to what PyTorch does with the same code."""

import threading

import numpy as np
import pytest

import ad

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _grad_mode_on():
    """Every test starts and ends with grad mode on: a failure must not leak a mode."""
    ad.set_grad_enabled(True)
    torch.set_grad_enabled(True)
    yield
    ad.set_grad_enabled(True)
    torch.set_grad_enabled(True)


def _modes(lib):
    """The grad modes lib reports through a sequence of set_grad_enabled uses."""
    seen = []
    lib.set_grad_enabled(False)  # a plain call sets the mode at once
    seen.append(lib.is_grad_enabled())
    with lib.set_grad_enabled(True):  # restores the mode from before the call
        seen.append(lib.is_grad_enabled())
        with lib.set_grad_enabled(False):
            seen.append(lib.is_grad_enabled())
        seen.append(lib.is_grad_enabled())
    seen.append(lib.is_grad_enabled())
    with lib.no_grad():
        with lib.set_grad_enabled(True):
            seen.append(lib.is_grad_enabled())
        seen.append(lib.is_grad_enabled())
    lib.set_grad_enabled(True)
    seen.append(lib.is_grad_enabled())
    return seen


def test_set_grad_enabled_as_function_and_nested_context_managers_matches_torch():
    assert _modes(ad) == _modes(torch) == [False, True, False, True, False, True, False, True]


def test_set_grad_enabled_decides_whether_ops_record():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    for is_train in (True, False):
        with ad.set_grad_enabled(is_train):
            y = x * 3.0
        assert y.requires_grad is is_train and (y.grad_fn is not None) is is_train
    assert ad.is_grad_enabled()


def test_set_grad_enabled_restores_the_mode_when_the_block_raises():
    with pytest.raises(ZeroDivisionError):
        with ad.set_grad_enabled(False):
            raise ZeroDivisionError
    assert ad.is_grad_enabled()


def test_set_grad_enabled_as_decorator_changes_the_mode_per_call_only():
    def body():
        return ad.is_grad_enabled(), torch.is_grad_enabled()

    f = ad.set_grad_enabled(False)(body)
    g = torch.set_grad_enabled(False)(body)
    assert ad.is_grad_enabled() and torch.is_grad_enabled()  # decorating changed nothing
    assert f()[0] is False and g()[1] is False
    assert ad.is_grad_enabled() and torch.is_grad_enabled()
    with ad.no_grad():
        assert ad.set_grad_enabled(True)(lambda: ad.is_grad_enabled())() is True
        assert not ad.is_grad_enabled()


def test_set_grad_enabled_decorates_a_generator_function_step_by_step():
    @ad.set_grad_enabled(False)
    def steps():
        for _ in range(2):
            yield ad.is_grad_enabled()

    gen = steps()
    assert ad.is_grad_enabled()
    assert next(gen) is False
    assert ad.is_grad_enabled()  # between steps the caller's mode holds
    assert next(gen) is False


def test_set_grad_enabled_belongs_to_the_calling_thread():
    ad.set_grad_enabled(False)
    seen = []
    t = threading.Thread(target=lambda: seen.append(ad.is_grad_enabled()))
    t.start()
    t.join()
    assert seen == [True] and not ad.is_grad_enabled()


@pytest.mark.parametrize("mode", [1, None, "yes"])
def test_set_grad_enabled_refuses_what_is_not_a_bool(mode):
    with pytest.raises(TypeError, match="takes a bool"):
        ad.set_grad_enabled(mode)
    assert ad.is_grad_enabled()


def test_set_grad_enabled_takes_a_numpy_bool():
    with ad.set_grad_enabled(np.bool_(False)):
        assert ad.is_grad_enabled() is False
    assert ad.is_grad_enabled()


def _inference_modes(lib):
    seen = []
    with lib.inference_mode():
        seen.append(lib.is_grad_enabled())
        with lib.inference_mode(False):
            seen.append(lib.is_grad_enabled())
        seen.append(lib.is_grad_enabled())
    with lib.no_grad():
        with lib.inference_mode(False):  # torch's turns grad mode on, even inside no_grad
            seen.append(lib.is_grad_enabled())
    seen.append(lib.is_grad_enabled())
    seen.append(lib.inference_mode(lambda: lib.is_grad_enabled())())
    seen.append(lib.inference_mode()(lambda: lib.is_grad_enabled())())
    seen.append(lib.is_grad_enabled())
    return seen


def test_inference_mode_grad_modes_match_torch():
    assert (
        _inference_modes(ad)
        == _inference_modes(torch)
        == [False, True, False, True, True, False, False, True]
    )


def test_inference_mode_records_nothing_like_torch():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    with ad.inference_mode():
        y = x * x
    with torch.inference_mode():
        ty = tx * tx
    assert y.requires_grad is ty.requires_grad is False
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_inference_mode_decorates_a_generator_function():
    @ad.inference_mode
    def steps():
        yield ad.is_grad_enabled()

    assert list(steps()) == [False] and ad.is_grad_enabled()


def test_inference_mode_refuses_what_is_neither_a_bool_nor_a_function():
    with pytest.raises(TypeError, match="inference_mode"):
        ad.inference_mode(1)


def test_a_tensor_made_in_inference_mode_is_an_ordinary_tensor_unlike_torch():
    """The documented difference: ad has no inference tensors, so a value computed in
    inference mode may enter a recorded op later, where PyTorch refuses it."""
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    with ad.inference_mode():
        c = w * 2.0
    with torch.inference_mode():
        tc = tw * 2.0
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved"):
        (tc * tw).sum()
    (c * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])  # c, a constant
    assert not hasattr(ad.Tensor, "is_inference")


# -- detach_ ------------------------------------------------------------------------------


def test_detach_in_place_makes_a_non_leaf_a_leaf_like_torch():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    y, ty = x * 2.0, tx * 2.0
    z, tz = y * 3.0, ty * 3.0  # recorded before the detach: keeps the old history
    assert y.detach_() is y and ty.detach_() is ty
    for t in (y, ty):
        assert t.is_leaf and not t.requires_grad and t.grad_fn is None
    z.sum().backward()
    tz.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    w = (y * x).sum()  # y is a constant now
    w.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy() + ty.numpy())


def test_a_value_saved_before_detach_in_place_still_leads_back_unlike_torch():
    """The documented difference: a node keeps the edges it was recorded with, so one that
    saved y before y.detach_() backpropagates through y's old history; PyTorch raises
    ("Trying to use a saved tensor that has been detached in-place")."""
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    y, ty = x * 2.0, tx * 2.0
    z, tz = (y * y).sum(), (ty * ty).sum()
    y.detach_()
    ty.detach_()
    with pytest.raises(RuntimeError, match="detached in-place"):
        tz.backward()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 8.0 * np.array([1.0, 2.0]))  # d(4 x^2)/dx


def test_detach_in_place_on_a_leaf_that_requires_grad():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    x.detach_()
    assert x.is_leaf and not x.requires_grad
    x.requires_grad_()  # a leaf again that may require grad
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_detach_in_place_keeps_memory_and_version_counter():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    data, version = y.data, y._version
    y.detach_()
    assert y.data is data and y._version == version
    z = x * y  # saves y
    with ad.no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in-place"):
        z.sum().backward()


def test_detach_in_place_forgets_a_retained_gradient():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    z = (y * y).sum()
    y.detach_()
    z.backward()
    assert y.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0])


@pytest.mark.parametrize("base_requires_grad", [True, False])
def test_detach_in_place_refuses_a_view_like_torch(base_requires_grad):
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=base_requires_grad)
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=base_requires_grad)
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        tx[:2].detach_()
    v = x[:2]
    with pytest.raises(RuntimeError, match=r"Can't detach views in-place.*v\.detach\(\)"):
        v.detach_()
    assert v.requires_grad is base_requires_grad  # nothing changed


def test_detach_in_place_refuses_a_view_of_a_non_leaf():
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = (x * 2.0).reshape(3, 1)
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        v.detach_()
    assert v.grad_fn is not None


# -- the Tensor methods a training loop calls ------------------------------------------


def test_add_and_sub_in_place_take_alpha_like_torch():
    p = ad.tensor([1.0, 2.0])
    tp = torch.tensor([1.0, 2.0], dtype=torch.float64)
    g = ad.tensor([0.5, -1.0])
    tg = torch.tensor([0.5, -1.0], dtype=torch.float64)
    p.add_(g, alpha=-0.1)
    tp.add_(tg, alpha=-0.1)
    np.testing.assert_array_equal(p.numpy(), tp.numpy())
    p.sub_(g, alpha=3.0)
    tp.sub_(tg, alpha=3.0)
    np.testing.assert_array_equal(p.numpy(), tp.numpy())


def test_add_in_place_with_alpha_records_through_the_scaled_operand():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y, ty = x * 1.0, tx * 1.0
    y.add_(x * x, alpha=0.5)
    ty.add_(tx * tx, alpha=0.5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_add_in_place_with_alpha_keeps_float32():
    p = ad.tensor(np.array([1.0, 2.0], dtype=np.float32))
    p.add_(ad.tensor(np.array([1.0, 1.0], dtype=np.float32)), alpha=-0.1)
    assert p.dtype == np.float32


def test_numpy_of_a_tensor_that_requires_grad_raises_like_torch():
    x = ad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.tensor([1.0], requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        (x * 2.0).numpy()
    assert x.detach().numpy()[0] == 1.0


def test_item_of_a_tensor_that_requires_grad_is_its_value_like_torch():
    x = ad.tensor([1.5], requires_grad=True)
    tx = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
    assert x.item() == tx.item() == 1.5
    assert (x * 2.0).sum().item() == (tx * 2.0).sum().item() == 3.0


def test_clone_is_recorded_and_not_a_leaf_like_torch():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and not np.shares_memory(c.data, x.data)
    (c * c).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_zero_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad_like_torch():
    x = ad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.tensor([1.0], requires_grad=True).zero_()
    with pytest.raises(RuntimeError, match="no_grad"):
        x.zero_()
    with ad.no_grad():
        x.zero_()
    assert x.detach().numpy()[0] == 0.0


def test_grad_zero_in_place_keeps_the_same_tensor_and_accumulates_again():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    g.zero_()
    (x * 3.0).sum().backward()
    assert x.grad is g
    np.testing.assert_array_equal(g.numpy(), [3.0, 3.0])


def test_requires_grad_underscore_freezes_and_unfreezes_a_leaf():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    assert x.requires_grad_(False) is x and not x.requires_grad
    y = x * 2.0
    assert not y.requires_grad
    x.requires_grad_()
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_assigning_data_of_another_array_raises_and_says_how_to_write():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(AttributeError, match=r"t\.data\[\.\.\.\] = a"):
        x.data = np.zeros(2)
    x.data -= np.array([1.0, 1.0])  # an in-place update of the same array is allowed
    np.testing.assert_array_equal(x.detach().numpy(), [0.0, 1.0])


# -- SGD's arguments --------------------------------------------------------------------


def test_sgd_takes_a_frozen_leaf_and_skips_it_like_torch():
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    frozen = ad.tensor([5.0])
    opt = ad.SGD([w, frozen], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_array_equal(w.detach().numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(frozen.numpy(), [5.0])


def test_sgd_refuses_a_non_leaf_and_what_is_not_a_tensor():
    w = ad.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="not a leaf"):
        ad.SGD([w * 2.0], lr=0.1)
    with pytest.raises(TypeError, match="ndarray"):
        ad.SGD([np.ones(2)], lr=0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": -0.1},
        {"lr": 0.1, "momentum": -0.5},
        {"lr": 0.1, "weight_decay": -1.0},
        {"lr": 0.1, "nesterov": True},
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
    ],
)
def test_sgd_refuses_the_arguments_torch_refuses(kwargs):
    w = ad.tensor([1.0], requires_grad=True)
    tw = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError):
        torch.optim.SGD([tw], **kwargs)
    with pytest.raises(ValueError, match="SGD"):
        ad.SGD([w], **kwargs)


def test_sgd_with_zero_lr_changes_nothing_like_torch():
    w = ad.tensor([1.0], requires_grad=True)
    opt = ad.SGD([w], lr=0.0)
    (w * w).sum().backward()
    opt.step()
    assert w.detach().numpy()[0] == 1.0


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_sgd_steps_after_a_backward_that_recorded_its_sweep():
    """A .grad with history (create_graph=True) is read as a value: the step does not raise."""
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    opt, topt = ad.SGD([w], lr=0.1), torch.optim.SGD([tw], lr=0.1)
    (w**3).sum().backward(create_graph=True)
    (tw**3).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    opt.step()
    topt.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy())
    opt.zero_grad(set_to_none=False)
    topt.zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and not w.grad.requires_grad
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())


@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (None, 0.5), (0.0, None)])
def test_clamp_in_place_matches_torch_and_is_recorded(bounds):
    lo, hi = bounds
    x = ad.tensor([-2.0, 0.25, 3.0], requires_grad=True)
    tx = torch.tensor([-2.0, 0.25, 3.0], dtype=torch.float64, requires_grad=True)
    y, ty = x * 2.0, tx * 2.0
    assert y.clamp_(lo, hi) is y
    ty.clamp_(lo, hi)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_clamp_in_place_clips_weights_under_no_grad_and_needs_a_bound():
    w = ad.tensor([-0.3, 0.001, 0.2], requires_grad=True)
    with ad.no_grad():
        w.clamp_(-0.01, 0.01)
    np.testing.assert_array_equal(w.detach().numpy(), [-0.01, 0.001, 0.01])
    assert w.is_leaf and w.requires_grad
    with pytest.raises(ValueError, match="clamp_ needs a bound"):
        w.clamp_()

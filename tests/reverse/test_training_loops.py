"""The training loops a PyTorch user writes, run in ad and in PyTorch side by side: every
loss and every parameter, at every step, must agree."""

import numpy as np
import pytest

import ad

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-12, 1e-12  # float64 in both: the same arithmetic, up to summation order


def _data(n=16, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=(d, 1)) + 0.5 + 0.1 * rng.normal(size=(n, 1))
    return X, y


def _mlp_params(d=3, h=5, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (d, h), "b1": (h,), "W2": (h, 1), "b2": (1,)}
    return {k: (0.5 * rng.normal(size=s)).astype(dtype) for k, s in shapes.items()}


def _both(arrays, requires_grad=True):
    """The same parameters as ad Tensors and as torch tensors (copies of one array each)."""
    mine = {k: ad.tensor(a, requires_grad=requires_grad) for k, a in arrays.items()}
    theirs = {k: torch.tensor(a, requires_grad=requires_grad) for k, a in arrays.items()}
    return mine, theirs


def _mlp(p, X, lib):
    """tanh hidden layer, linear output: X and p are lib's."""
    act = np.tanh if lib is ad else torch.tanh
    return act(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def _mse(pred, y):
    return ((pred - y) ** 2).mean()


def _agree(mine, theirs, rtol=RTOL, atol=ATOL):
    """Every parameter, and every gradient where either has one, equal in ad and torch."""
    for k in mine:
        np.testing.assert_allclose(mine[k].detach().numpy(), theirs[k].detach().numpy(), rtol=rtol, atol=atol)
        g, tg = mine[k].grad, theirs[k].grad
        assert (g is None) == (tg is None), k
        if g is not None:
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("clear", ["set_to_none", "zero_in_place"])
def test_linear_regression_by_manual_sgd_matches_torch(clear):
    X, y = _data()
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both({"w": np.zeros((3, 1)), "b": np.zeros(1)})
    lr = 0.1
    for _ in range(25):
        loss = _mse(X @ mine["w"] + mine["b"], y)
        tloss = _mse(tX @ theirs["w"] + theirs["b"], ty)
        loss.backward()
        tloss.backward()
        assert loss.item() == pytest.approx(tloss.item(), rel=RTOL)
        _agree(mine, theirs)
        with ad.no_grad():
            for p in mine.values():
                p -= lr * p.grad
        with torch.no_grad():
            for p in theirs.values():
                p -= lr * p.grad
        for p in (*mine.values(), *theirs.values()):
            if clear == "set_to_none":
                p.grad = None
            else:
                p.grad.zero_()
        _agree(mine, theirs)
    assert loss.item() < 0.05  # it learned: the loss fell from about 10


def test_mlp_by_manual_sgd_matches_torch():
    X, y = _data()
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params())
    lr = 0.05
    losses = []
    for _ in range(30):
        loss = _mse(_mlp(mine, X, ad), y)
        tloss = _mse(_mlp(theirs, tX, torch), ty)
        loss.backward()
        tloss.backward()
        assert loss.item() == pytest.approx(tloss.item(), rel=RTOL)
        _agree(mine, theirs)
        with ad.no_grad():
            for p in mine.values():
                p.add_(p.grad, alpha=-lr)
                p.grad = None
        with torch.no_grad():
            for p in theirs.values():
                p.add_(p.grad, alpha=-lr)
                p.grad = None
        losses.append(loss.item())
    _agree(mine, theirs)
    assert losses[-1] < losses[0] / 2


def test_mlp_in_float32_stays_float32_and_matches_torch():
    X, y = (a.astype(np.float32) for a in _data())
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params(dtype=np.float32))
    for _ in range(5):
        _mse(_mlp(mine, X, ad), y).backward()
        _mse(_mlp(theirs, tX, torch), ty).backward()
        with ad.no_grad():
            for p in mine.values():
                p -= np.float32(0.05) * p.grad
                p.grad = None
        with torch.no_grad():
            for p in theirs.values():
                p -= 0.05 * p.grad
                p.grad = None
    for p in mine.values():
        assert p.dtype == np.float32
    _agree(mine, theirs, rtol=1e-5, atol=1e-6)


def test_gradient_accumulation_over_micro_batches_matches_torch_and_the_full_batch():
    X, y = _data(n=24)
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params())
    full, _ = _both(_mlp_params())
    k = 4  # micro-batches of 6
    for _ in range(3):
        for chunk in np.array_split(np.arange(24), k):
            (_mse(_mlp(mine, X[chunk], ad), y[chunk]) / k).backward()
            (_mse(_mlp(theirs, tX[chunk], torch), ty[chunk]) / k).backward()
        _agree(mine, theirs)
        _mse(_mlp(full, X, ad), y).backward()
        for name, p in mine.items():  # equal micro-batches: the mean of means is the mean
            np.testing.assert_allclose(p.grad.numpy(), full[name].grad.numpy(), rtol=1e-10, atol=1e-12)
        with ad.no_grad():
            for group in (mine, full):
                for p in group.values():
                    p -= 0.1 * p.grad
                    p.grad.zero_()
        with torch.no_grad():
            for p in theirs.values():
                p -= 0.1 * p.grad
                p.grad.zero_()
        _agree(mine, theirs)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "weight_decay": 0.01},
        {"momentum": 0.8, "dampening": 0.3},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.001},
        {"weight_decay": 0.1},
    ],
)
@pytest.mark.parametrize("set_to_none", [True, False])
def test_sgd_optimizer_matches_torch_optim_sgd(options, set_to_none):
    X, y = _data()
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params())
    opt = ad.SGD(mine.values(), lr=0.05, **options)
    topt = torch.optim.SGD(theirs.values(), lr=0.05, **options)
    for _ in range(12):
        opt.zero_grad(set_to_none=set_to_none)
        topt.zero_grad(set_to_none=set_to_none)
        _agree(mine, theirs)
        loss = _mse(_mlp(mine, X, ad), y)
        tloss = _mse(_mlp(theirs, tX, torch), ty)
        loss.backward()
        tloss.backward()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-11)
        opt.step()
        topt.step()
        _agree(mine, theirs)


def test_sgd_zero_grad_keeps_the_grad_tensor_when_not_setting_to_none():
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    opt = ad.SGD([w], lr=0.1)
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and np.array_equal(g.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_a_frozen_layer_keeps_its_weights_and_gets_no_gradient_like_torch():
    X, y = _data()
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params())
    W1 = mine["W1"].detach().numpy().copy()
    for p in (mine["W1"], mine["b1"], theirs["W1"], theirs["b1"]):
        p.requires_grad_(False)
    opt = ad.SGD(mine.values(), lr=0.1, momentum=0.5)  # frozen ones listed too, as in torch
    topt = torch.optim.SGD(theirs.values(), lr=0.1, momentum=0.5)
    for _ in range(8):
        opt.zero_grad()
        topt.zero_grad()
        hidden = _mlp(mine, X, ad)
        assert hidden.requires_grad  # the head still trains
        _mse(hidden, y).backward()
        _mse(_mlp(theirs, tX, torch), ty).backward()
        assert mine["W1"].grad is None and mine["b1"].grad is None
        opt.step()
        topt.step()
        _agree(mine, theirs)
    np.testing.assert_array_equal(mine["W1"].detach().numpy(), W1)


def test_unfreezing_a_layer_trains_it_again():
    X, y = _data()
    mine, _ = _both(_mlp_params())
    mine["W1"].requires_grad_(False)
    _mse(_mlp(mine, X, ad), y).backward()
    assert mine["W1"].grad is None
    mine["W1"].requires_grad_(True)
    _mse(_mlp(mine, X, ad), y).backward()
    assert mine["W1"].grad is not None and np.abs(mine["W1"].grad.numpy()).sum() > 0


def test_set_grad_enabled_toggles_train_and_eval_phases_like_torch():
    X, y = _data(n=20)
    Xv, yv = _data(n=8, seed=5)
    mine, theirs = _both(_mlp_params())
    opt = ad.SGD(mine.values(), lr=0.05)
    topt = torch.optim.SGD(theirs.values(), lr=0.05)
    for _ in range(4):
        for is_train, (A, b) in ((True, (X, y)), (False, (Xv, yv))):
            with ad.set_grad_enabled(is_train):
                loss = _mse(_mlp(mine, A, ad), b)
            with torch.set_grad_enabled(is_train):
                tloss = _mse(_mlp(theirs, torch.tensor(A), torch), torch.tensor(b))
            assert loss.requires_grad is tloss.requires_grad is is_train
            assert loss.item() == pytest.approx(tloss.item(), rel=1e-11)
            if is_train:
                opt.zero_grad()
                topt.zero_grad()
                loss.backward()
                tloss.backward()
                opt.step()
                topt.step()
        assert ad.is_grad_enabled()
        _agree(mine, theirs)


def test_eval_under_inference_mode_records_nothing_and_gives_torchs_values():
    X, y = _data()
    mine, theirs = _both(_mlp_params())
    with ad.inference_mode():
        out = _mlp(mine, X, ad)
    with torch.inference_mode():
        tout = _mlp(theirs, torch.tensor(X), torch)
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=RTOL)


def test_a_detached_target_network_matches_torch():
    """Fitted Q-iteration: the target r + gamma * Q_target(x') is a constant for the loss,
    by detach(); the target network is copied from the online one every few steps."""
    rng = np.random.default_rng(3)
    X, Xn, r = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)), rng.normal(size=(12, 1))
    tX, tXn, tr = torch.tensor(X), torch.tensor(Xn), torch.tensor(r)
    gamma = 0.9
    mine, theirs = _both(_mlp_params())
    target = {k: p.detach().clone() for k, p in mine.items()}
    ttarget = {k: p.detach().clone() for k, p in theirs.items()}
    opt = ad.SGD(mine.values(), lr=0.05)
    topt = torch.optim.SGD(theirs.values(), lr=0.05)
    for step in range(10):
        y = (r + gamma * _mlp(target, Xn, ad)).detach()
        ty = (tr + gamma * _mlp(ttarget, tXn, torch)).detach()
        # the online network's bootstrap, detached: the same value, no path back
        y_online = (r + gamma * _mlp(mine, Xn, ad)).detach()
        assert not y.requires_grad and not y_online.requires_grad
        opt.zero_grad()
        topt.zero_grad()
        loss = _mse(_mlp(mine, X, ad), y) + 0.1 * _mse(_mlp(mine, X, ad), y_online)
        tloss = _mse(_mlp(theirs, tX, torch), ty) + 0.1 * _mse(
            _mlp(theirs, tX, torch), (tr + gamma * _mlp(theirs, tXn, torch)).detach()
        )
        loss.backward()
        tloss.backward()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-11)
        opt.step()
        topt.step()
        _agree(mine, theirs)
        for k in target:  # target parameters never get a gradient
            assert target[k].grad is None and not target[k].requires_grad
        if step % 3 == 2:
            with ad.no_grad():
                for k in target:
                    target[k].copy_(mine[k])
            with torch.no_grad():
                for k in ttarget:
                    ttarget[k].copy_(theirs[k])
            np.testing.assert_array_equal(target["W1"].numpy(), mine["W1"].detach().numpy())


def test_two_losses_through_a_shared_graph_with_retain_graph_match_torch():
    X, y = _data()
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params())
    for _ in range(3):
        for p in (*mine.values(), *theirs.values()):
            p.grad = None
        out, tout = _mlp(mine, X, ad), _mlp(theirs, tX, torch)
        loss1, tloss1 = _mse(out, y), _mse(tout, ty)
        loss2, tloss2 = (out**2).mean(), (tout**2).mean()
        loss1.backward(retain_graph=True)
        tloss1.backward(retain_graph=True)
        _agree(mine, theirs)
        loss2.backward()  # adds into the same .grad
        tloss2.backward()
        _agree(mine, theirs)
        with pytest.raises(RuntimeError):  # the graph is freed now, in both
            tloss2.backward()
        with pytest.raises(RuntimeError, match="retain_graph"):
            loss2.backward()
        with ad.no_grad():
            for p in mine.values():
                p -= 0.05 * p.grad
        with torch.no_grad():
            for p in theirs.values():
                p -= 0.05 * p.grad
        _agree(mine, theirs)


def test_the_sum_of_two_losses_gives_what_two_retained_backwards_give():
    X, y = _data()
    a, _ = _both(_mlp_params())
    b, _ = _both(_mlp_params())
    out = _mlp(a, X, ad)
    _mse(out, y).backward(retain_graph=True)
    (out**2).mean().backward()
    out_b = _mlp(b, X, ad)
    (_mse(out_b, y) + (out_b**2).mean()).backward()
    for k in a:
        np.testing.assert_allclose(a[k].grad.numpy(), b[k].grad.numpy(), rtol=1e-12, atol=1e-14)


def test_a_classifier_with_relu_and_cross_entropy_matches_torch():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(20, 4))
    labels = rng.integers(0, 3, size=20)
    tX, tlabels = torch.tensor(X), torch.tensor(labels)
    arrays = {"W1": 0.5 * rng.normal(size=(4, 6)), "b1": np.zeros(6), "W2": 0.5 * rng.normal(size=(6, 3))}
    mine, theirs = _both(arrays)
    opt = ad.SGD(mine.values(), lr=0.2, momentum=0.9)
    topt = torch.optim.SGD(theirs.values(), lr=0.2, momentum=0.9)
    for _ in range(10):
        opt.zero_grad()
        topt.zero_grad()
        logits = ad.relu(X @ mine["W1"] + mine["b1"]) @ mine["W2"]
        loss = -ad.log_softmax(logits, axis=1)[np.arange(20), labels].mean()
        tlogits = torch.relu(tX @ theirs["W1"] + theirs["b1"]) @ theirs["W2"]
        tloss = torch.nn.functional.cross_entropy(tlogits, tlabels)
        loss.backward()
        tloss.backward()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-11)
        opt.step()
        topt.step()
        _agree(mine, theirs)


def test_a_gan_step_alternating_two_optimizers_with_a_detached_sample_matches_torch():
    """The discriminator learns from G(z).detach(); the generator's loss then runs through
    the discriminator, whose parameters collect gradients that its next zero_grad clears."""
    rng = np.random.default_rng(11)
    real, z = rng.normal(loc=2.0, size=(8, 2)), rng.normal(size=(8, 2))
    treal, tz = torch.tensor(real), torch.tensor(z)
    G, tG = _both({"W": 0.5 * rng.normal(size=(2, 2)), "b": np.zeros(2)})
    D, tD = _both({"W": 0.5 * rng.normal(size=(2, 1)), "b": np.zeros(1)})
    optG, optD = ad.SGD(G.values(), lr=0.1), ad.SGD(D.values(), lr=0.1)
    toptG, toptD = torch.optim.SGD(tG.values(), lr=0.1), torch.optim.SGD(tD.values(), lr=0.1)

    def disc(p, x, lib):
        return (lib.sigmoid if lib is ad else torch.sigmoid)(x @ p["W"] + p["b"])

    for _ in range(6):
        fake, tfake = z @ G["W"] + G["b"], tz @ tG["W"] + tG["b"]
        optD.zero_grad()
        toptD.zero_grad()
        d_loss = -(np.log(disc(D, real, ad)).mean() + np.log(1 - disc(D, fake.detach(), ad)).mean())
        td_loss = -(
            torch.log(disc(tD, treal, torch)).mean() + torch.log(1 - disc(tD, tfake.detach(), torch)).mean()
        )
        before = {k: None if p.grad is None else p.grad.numpy().copy() for k, p in G.items()}
        d_loss.backward()
        td_loss.backward()
        for k, p in G.items():  # the detached sample cut G off: its gradients did not move
            assert (p.grad is None) if before[k] is None else np.array_equal(p.grad.numpy(), before[k])
        _agree(G, tG)
        optD.step()
        toptD.step()
        optG.zero_grad()
        toptG.zero_grad()
        g_loss = -np.log(disc(D, fake, ad)).mean()
        tg_loss = -torch.log(disc(tD, tfake, torch)).mean()
        g_loss.backward()
        tg_loss.backward()
        optG.step()
        toptG.step()
        _agree(G, tG)
        _agree(D, tD)


@pytest.mark.parametrize("cut", ["detach", "detach_"])
def test_truncated_backprop_through_time_cuts_the_hidden_state_like_torch(cut):
    rng = np.random.default_rng(13)
    xs, targets = rng.normal(size=(12, 2)), rng.normal(size=(12, 3))
    mine, theirs = _both({"Wx": 0.5 * rng.normal(size=(2, 3)), "Wh": 0.5 * rng.normal(size=(3, 3))})
    opt = ad.SGD(mine.values(), lr=0.05)
    topt = torch.optim.SGD(theirs.values(), lr=0.05)
    h, th = ad.tensor(np.zeros(3)), torch.zeros(3, dtype=torch.float64)
    for start in range(0, 12, 4):  # chunks of 4 steps
        opt.zero_grad()
        topt.zero_grad()
        loss, tloss = 0.0, 0.0
        for t in range(start, start + 4):
            h = np.tanh(xs[t] @ mine["Wx"] + h @ mine["Wh"])
            th = torch.tanh(torch.tensor(xs[t]) @ theirs["Wx"] + th @ theirs["Wh"])
            loss = loss + ((h - targets[t]) ** 2).sum()
            tloss = tloss + ((th - torch.tensor(targets[t])) ** 2).sum()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        _agree(mine, theirs)
        if cut == "detach":
            h, th = h.detach(), th.detach()
        else:
            h.detach_()
            th.detach_()
        assert h.is_leaf and not h.requires_grad


def test_tied_weights_used_twice_get_both_gradients_like_torch():
    """An autoencoder whose decoder is the encoder's transpose: one leaf, two uses."""
    X, _ = _data(n=10, d=4)
    tX = torch.tensor(X)
    rng = np.random.default_rng(17)
    mine, theirs = _both({"W": 0.3 * rng.normal(size=(4, 2))})
    opt = ad.SGD(mine.values(), lr=0.05, momentum=0.5)
    topt = torch.optim.SGD(theirs.values(), lr=0.05, momentum=0.5)
    for _ in range(8):
        opt.zero_grad()
        topt.zero_grad()
        W, tW = mine["W"], theirs["W"]
        _mse(np.tanh(X @ W) @ W.T, X).backward()
        _mse(torch.tanh(tX @ tW) @ tW.T, tX).backward()
        opt.step()
        topt.step()
        _agree(mine, theirs)


def test_an_input_gradient_for_an_adversarial_step_matches_torch():
    """x.requires_grad_() on the data, the model frozen: a signed-gradient step on x."""
    X, y = _data()
    mine, theirs = _both(_mlp_params(), requires_grad=False)
    x, tx = ad.tensor(X).requires_grad_(), torch.tensor(X).requires_grad_()
    for _ in range(3):
        x.grad, tx.grad = None, None
        _mse(_mlp(mine, x, ad), y).backward()
        _mse(_mlp(theirs, tx, torch), torch.tensor(y)).backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=RTOL, atol=ATOL)
        with ad.no_grad():
            x += 0.01 * np.sign(x.grad)
        with torch.no_grad():
            tx += 0.01 * torch.sign(tx.grad)
        np.testing.assert_allclose(x.detach().numpy(), tx.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert all(p.grad is None for p in mine.values())


def test_in_place_ops_inside_the_model_match_torch():
    """h = X @ W; h += b; h.mul_(0.5) on a computed Tensor: each write is recorded."""
    X, y = _data()
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params())
    for _ in range(4):
        for group in (mine, theirs):
            for p in group.values():
                p.grad = None
        h = X @ mine["W1"]
        h += mine["b1"]
        h.mul_(0.5)
        th = tX @ theirs["W1"]
        th += theirs["b1"]
        th.mul_(0.5)
        out = np.tanh(h) @ mine["W2"] + mine["b2"]
        tout = torch.tanh(th) @ theirs["W2"] + theirs["b2"]
        _mse(out, y).backward()
        _mse(tout, ty).backward()
        _agree(mine, theirs)
        with ad.no_grad():
            for p in mine.values():
                p.sub_(p.grad, alpha=0.1)
        with torch.no_grad():
            for p in theirs.values():
                p.sub_(p.grad, alpha=0.1)
        _agree(mine, theirs)


def test_changing_the_learning_rate_between_steps_matches_torch():
    X, y = _data()
    tX, ty = torch.tensor(X), torch.tensor(y)
    mine, theirs = _both(_mlp_params())
    opt = ad.SGD(mine.values(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.values(), lr=0.1, momentum=0.9)
    for step in range(6):
        opt.lr = topt.param_groups[0]["lr"] = 0.1 * 0.5**step
        opt.zero_grad()
        topt.zero_grad()
        _mse(_mlp(mine, X, ad), y).backward()
        _mse(_mlp(theirs, tX, torch), ty).backward()
        opt.step()
        topt.step()
        _agree(mine, theirs)

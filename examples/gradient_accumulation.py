"""The notes' points about PyTorch's autograd, run with ad.Tensor as written there.

1. Gradient accumulation: backward() adds into .grad, so summing the gradients of
   micro-batches equals the gradient of the whole batch.
2. Forgetting zero_grad() between steps double-counts the previous step's gradient.
3. from_numpy shares memory: A += 1 is seen through the Tensor; A = A + 1 is not.
"""

import numpy as np

import ad


def loss(w, X, y):
    """Mean squared error of a linear model, summed (not averaged) so micro-batches add up."""
    r = X @ w - y
    return np.sum(r * r)


def main():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)

    # 1. accumulation over 4 micro-batches of 2 equals one batch of 8
    w = ad.tensor(rng.standard_normal(3), requires_grad=True)
    loss(w, X, y).backward()
    full = w.grad.numpy().copy()
    w.grad = None
    for i in range(0, 8, 2):
        loss(w, X[i : i + 2], y[i : i + 2]).backward()
    print("accumulated micro-batches equal the full batch:", np.allclose(w.grad.numpy(), full))
    assert np.allclose(w.grad.numpy(), full)

    # 2. two SGD steps without zero_grad: the second step uses g1 + g2
    opt = ad.SGD([w], lr=0.01)
    opt.zero_grad()
    loss(w, X, y).backward()
    g1 = w.grad.numpy().copy()
    opt.step()
    loss(w, X, y).backward()  # forgot opt.zero_grad()
    g2 = ad.grad(lambda v: loss(v, X, y))(w.detach().numpy())
    print("without zero_grad, .grad holds g1 + g2:", np.allclose(w.grad.numpy(), g1 + g2))
    assert np.allclose(w.grad.numpy(), g1 + g2)

    # 3. shared memory
    A = np.array([1.0, 2.0, 3.0])
    B = ad.from_numpy(A)
    print("different objects:", id(A) != id(B), "| same memory:", np.shares_memory(A, B.numpy()))
    A += 1  # in place: B sees it
    print("after A += 1, B =", B.numpy())
    assert B.numpy()[0] == 2.0
    A = A + 1  # new memory for A: B keeps the old buffer
    print("after A = A + 1, B =", B.numpy(), "and A =", A)
    assert B.numpy()[0] == 2.0 and A[0] == 3.0


if __name__ == "__main__":
    main()

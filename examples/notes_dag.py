"""The notes' DAG example f(x1, x2) = x2 e^{x1} sqrt(x1 + x2 e^{x1}) at (0.5, 1.3):
its gradient by forward mode (two JVPs) and by reverse mode (one VJP), side by side."""

import numpy as np

import ad


def f(x1, x2):
    a = x2 * np.exp(x1)  # used twice: fan-out, so reverse mode sums two contributions
    return a * np.sqrt(x1 + a)


def main():
    x1, x2 = 0.5, 1.3
    forward = [ad.jvp(f, (x1, x2), t)[1] for t in [(1.0, 0.0), (0.0, 1.0)]]
    reverse = ad.grad(f, argnums=(0, 1))(x1, x2)
    print(f"f(0.5, 1.3) = {f(x1, x2):.12f}")
    print("forward mode (2 JVPs):", [f"{float(g):.12f}" for g in forward])
    print("reverse mode (1 VJP): ", [f"{float(g):.12f}" for g in reverse])
    assert np.allclose(forward, reverse, rtol=1e-13)


if __name__ == "__main__":
    main()

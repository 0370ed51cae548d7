"""A negative binomial fitted to counts by maximum likelihood, as an autograd program writes it,
ported by its imports alone: `ad.numpy` for `autograd.numpy`, `ad.grad` and `ad.hessian` for
autograd's, and `scipy.special.gammaln` for `autograd.scipy.special.gammaln`.

Newton's method with the exact Hessian; at the optimum the gradient vanishes and the Hessian
is positive definite.
"""

import numpy
from scipy.special import gammaln

import ad.numpy as np
from ad import grad, hessian


def negative_log_likelihood(params, counts):
    """-log of prod_k C(k + r - 1, k) p^k (1 - p)^r over the counts k, in unconstrained
    coordinates: r = exp(params[0]), p = expit(params[1])."""
    r = np.exp(params[0])
    p = 1.0 / (1.0 + np.exp(-params[1]))
    log_choose = gammaln(counts + r) - gammaln(counts + 1.0) - gammaln(r)
    return -np.sum(log_choose + counts * np.log(p) + r * np.log(1.0 - p))


def fit(counts, steps=20):
    """Newton's steps from the moment estimates (mean r p / (1 - p), variance mean / (1 - p))."""
    mean, variance = counts.mean(), counts.var()
    p = 1.0 - mean / variance
    params = numpy.array([numpy.log(mean * (1.0 - p) / p), numpy.log(p / (1.0 - p))])
    for _ in range(steps):
        g = grad(negative_log_likelihood)(params, counts)
        H = hessian(negative_log_likelihood)(params, counts)
        params = params - numpy.linalg.solve(H, g)
    return params


def main():
    rng = numpy.random.default_rng(0)
    counts = rng.negative_binomial(5, 0.3, size=500).astype(float)
    params = fit(counts)
    r, p = numpy.exp(params[0]), 1.0 / (1.0 + numpy.exp(-params[1]))
    g = grad(negative_log_likelihood)(params, counts)
    H = hessian(negative_log_likelihood)(params, counts)
    # NumPy draws the failures before the 5th success of probability 0.3: r = 5, p = 0.7 here
    print(f"r = {r:.3f}, p = {p:.3f} (drawn with r = 5, p = 0.7); |gradient| = {numpy.abs(g).max():.1e}")
    assert numpy.abs(g).max() < 1e-8 and numpy.all(numpy.linalg.eigvalsh(H) > 0)
    # at the maximum of the likelihood in r and p the fitted mean is the sample mean
    assert numpy.isclose(r * p / (1 - p), counts.mean(), rtol=1e-6)


if __name__ == "__main__":
    main()

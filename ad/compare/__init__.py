"""The comparison layer: cost model, problem suite, modes, runner, report and plots
(`python -m ad compare`; docs/cost-model.md, docs/benchmarks.md).

    model     what the notes' cost model predicts for each mode, before running anything
    problems  the built-in problems, each a function R^n -> R^m at a point, with its cost
    modes     the ways to compute a Jacobian that are compared (add one to MODES to compare it)
    peers     the same problems through jax, torch and autograd, where installed
    measure   median time, tracemalloc peak, relative difference, consensus
    runner    runs modes on problems and the sweeps over n, m and depth
    report    the tables (Markdown, CSV) and the report folder
    plots     the figures (matplotlib, imported lazily)
    cli       the command line
"""

from ad.compare.modes import MODES, Mode
from ad.compare.problems import Problem, suite
from ad.compare.runner import QUICK, Config, Results, compare

__all__ = ["MODES", "QUICK", "Config", "Mode", "Problem", "Results", "compare", "suite"]

"""The comparison layer: cost model, problem suite, modes, runner, report and plots
(`python -m ad compare`; docs/cost-model.md, docs/benchmarks.md).

    compare(f, x)  every mode of ad on your own function: `ad.compare.compare(f, x).to_markdown()`

    model        the notes' cost model, and the seconds it predicts once calibrated
    calibrate    the calibration: each mode's cost per call, overhead per op and throughput
    count        the ops and flops of one evaluation of f
    problems     the built-in problems, each a function R^n -> R^m at a point, with its cost
    modes        the ways to compute a Jacobian that are compared (add one to MODES to compare it)
    peers        the same problems through jax, torch and autograd, where installed
    environment  threads pinned alike for everyone, and the machine the report states
    measure      repeated timings with their spread, tracemalloc peak, relative difference
    runner       runs modes on problems and the sweeps over n, m and depth
    report       the tables (Markdown, CSV), the advice, and the report folder
    plots        the figures (matplotlib, imported lazily)
    progress     the progress bar
    cli          the command line
"""

from ad.compare.modes import MODES, Mode
from ad.compare.problems import Problem, suite
from ad.compare.runner import QUICK, Config, Results, compare, run

__all__ = ["MODES", "QUICK", "Config", "Mode", "Problem", "Results", "compare", "run", "suite"]

"""asv suites for `ad` (see ../README.md).

Pinned threads, the same for `ad`, PyTorch, JAX and autograd, so that they are compared on
equal terms: AD_BENCH_THREADS (default 1) BLAS/OpenMP threads, set here before anything
imports NumPy (asv imports this package first, in the process that forks every
benchmark), then enforced with threadpoolctl and torch.set_num_threads in workloads.py.
With one thread XLA's CPU client runs without its Eigen pool (XLA has no flag for a count).
"""

import os

THREADS = int(os.environ.get("AD_BENCH_THREADS", "1"))
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = str(THREADS)
if THREADS == 1 and "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    ).strip()

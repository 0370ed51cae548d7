"""asv suites for `ad` (see ../README.md).

Single-threaded on purpose, so that `ad`, PyTorch, JAX and autograd are compared on equal
terms: the BLAS and OpenMP pools are limited to one thread here, before anything imports
NumPy (asv imports this package first, in the process that forks every benchmark).
Set the variables yourself before running asv to override.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, "1")
# XLA's CPU client: no Eigen thread pool for the ops of one computation.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

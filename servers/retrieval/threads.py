"""How many threads numpy's BLAS may use in a Switchboard process (default: one).

The search paths multiply small matrices (10k memory vectors by one query: ~0.4 ms on one
thread). With OpenBLAS's default of one thread per core, on shared busy cores the helper thread
spins against other processes and the same product took ~8 ms: a memory search went from 6 to
18 ms. ``SWITCHBOARD_BLAS_THREADS`` raises the limit on a dedicated machine.
"""

from __future__ import annotations

import os
import threading

_done = False
_lock = threading.Lock()


def blas_threads() -> int:
    """``SWITCHBOARD_BLAS_THREADS`` (default 1; invalid values fall back to 1)."""
    try:
        return max(1, int(os.environ.get("SWITCHBOARD_BLAS_THREADS", "1")))
    except ValueError:
        return 1


def limit_blas_threads() -> None:
    """Apply :func:`blas_threads` to the BLAS libraries loaded in this process (once; cheap after)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=blas_threads(), user_api="blas")
        _done = True

"""How many threads numpy's BLAS may use in a Switchboard process (default: one).

The search paths multiply small matrices (10k memory vectors by one query: ~0.4 ms on one
thread). With OpenBLAS's default of one thread per core, on shared busy cores the helper thread
spins against other processes and the same product took ~8 ms: a memory search went from 6 to
18 ms. ``SWITCHBOARD_BLAS_THREADS`` raises the limit on a dedicated machine.

The limit is set through the BLAS libraries' own environment variables before numpy loads
(:func:`limit_blas_threads_at_start`, called first thing by the ``switchboard`` command), not by
threadpoolctl at the first search. threadpoolctl finds the loaded libraries with
``dl_iterate_phdr``, whose callback runs Python while holding the dynamic loader's lock; the
server's warm-up thread meanwhile ``dlopen``s the e5 engine through ctypes while holding the GIL,
waiting for that lock: a deadlock. It froze one cold `serve kb` first search in two
(``bench/startup.py`` hung; the demo's KB answer "timed out" after 30 s). threadpoolctl remains
only as the last resort for code that imported numpy before this module could set the variables
(tests, notebooks): first the loaded OpenBLAS's own setter is called, found through
``/proc/self/maps``.
"""

from __future__ import annotations

import os
import sys
import threading

# read by OpenBLAS (numpy's), MKL and BLIS when they load
_ENV_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

_done = False
_lock = threading.Lock()


def blas_threads() -> int:
    """``SWITCHBOARD_BLAS_THREADS`` (default 1; invalid values fall back to 1)."""
    try:
        return max(1, int(os.environ.get("SWITCHBOARD_BLAS_THREADS", "1")))
    except ValueError:
        return 1


def limit_blas_threads_at_start() -> bool:
    """Set the BLAS thread variables (an explicit setting in the environment wins) if numpy has
    not loaded yet; True when the limit is in place without threadpoolctl."""
    global _done
    if "numpy" in sys.modules:
        return _done
    for var in _ENV_VARS:
        os.environ.setdefault(var, str(blas_threads()))
    _done = True
    return True


def limit_blas_threads() -> None:
    """Apply :func:`blas_threads` to the BLAS libraries loaded in this process (once; cheap after)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        if not _set_openblas_threads(blas_threads()):
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=blas_threads(), user_api="blas")
        _done = True


def _set_openblas_threads(threads: int) -> bool:
    """Call the loaded OpenBLAS's own setter, found through /proc/self/maps (a file read: no loader
    lock held while Python runs, unlike threadpoolctl's scan). False when there is none (not Linux,
    another BLAS), and the caller falls back to threadpoolctl."""
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return False
    done = False
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(threads))
                done = True
                break
    return done

"""Process settings of the retrieval code: BLAS threads, model warm-up, the query-vector LRU."""

from __future__ import annotations

import numpy as np
import pytest

from servers.retrieval import threads
from servers.retrieval.query_vectors import QueryVectors


def test_blas_runs_on_the_configured_number_of_threads(monkeypatch) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    monkeypatch.setattr(threads, "_done", False)
    monkeypatch.setenv("SWITCHBOARD_BLAS_THREADS", "1")
    with threadpool_limits(limits=None):  # restore whatever was set before, afterwards
        threads.limit_blas_threads()
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)
    monkeypatch.setenv("SWITCHBOARD_BLAS_THREADS", "zero")
    assert threads.blas_threads() == 1


_DLOPEN_RACE = """
import _ctypes, os, shutil, sys, tempfile, threading, time
import numpy  # noqa: F401  (numpy and its OpenBLAS are loaded: the limit must be set at run time)
from servers.retrieval import threads
copy = os.path.join(tempfile.mkdtemp(), "libcopy.so")
shutil.copy(sys.argv[1], copy)
deadline = time.monotonic() + 2.0
def opener():  # what the server's warm-up does: ctypes loads a library, holding the GIL
    while time.monotonic() < deadline:
        _ctypes.dlclose(_ctypes.dlopen(copy, os.RTLD_NOW))
thread = threading.Thread(target=opener, daemon=True)
thread.start()
while thread.is_alive():
    threads._done = False
    threads.limit_blas_threads()
print("ok")
"""


def test_setting_the_blas_limit_never_deadlocks_with_a_thread_loading_a_library() -> None:
    # threadpoolctl's scan runs Python inside dl_iterate_phdr (holding the loader's lock) while
    # another thread waits in dlopen holding the GIL: this harness froze it every time; the
    # first cold `serve kb` search froze one start in two that way
    import subprocess
    import sys
    from pathlib import Path

    libm = next(
        (p for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6") if Path(p).exists()), None
    )
    if libm is None or not Path("/proc/self/maps").exists():
        pytest.skip("needs Linux with glibc's libm")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _DLOPEN_RACE, libm], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_limit_is_set_through_the_environment_before_numpy_loads() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "from servers.retrieval import threads\n"
        "assert threads.limit_blas_threads_at_start()\n"
        "import numpy\n"
        "threads.limit_blas_threads()  # nothing left to do: no scan, no threadpoolctl\n"
        "assert 'threadpoolctl' not in sys.modules\n"
        "from threadpoolctl import threadpool_info\n"
        "print([p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["SWITCHBOARD_BLAS_THREADS"] = "1"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[1]"


class _CountingEmbedder:
    model_id, dim = "test:counting", 3

    def __init__(self) -> None:
        self.calls = 0

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return np.array([len(text), 0, 1], dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("not used")


def test_query_vectors_are_cached_per_model_and_evicted_oldest_first() -> None:
    cache, embedder = QueryVectors(size=2), _CountingEmbedder()
    first = cache.get(embedder, "환불 언제 돼요")
    assert cache.get(embedder, "환불 언제 돼요") is first and embedder.calls == 1
    cache.get(embedder, "배송 조회")
    cache.get(embedder, "멤버십 등급")  # evicts the least recently used: 환불
    cache.get(embedder, "환불 언제 돼요")
    assert embedder.calls == 4
    other = _CountingEmbedder()
    other.model_id = "test:other"
    cache.get(other, "배송 조회")
    assert other.calls == 1  # another model never reuses these vectors


def test_warm_up_loads_the_analyser_the_model_and_the_pii_fold_table() -> None:
    from core.pii_folding import folding
    from servers.retrieval.embedding import get_embedder
    from servers.retrieval.warmup import warm_up

    folding.cache_clear()
    warm_up()
    assert get_embedder()._model is not None  # type: ignore[attr-defined]
    assert folding.cache_info().currsize == 1  # built by the warm-up, not by the first redaction

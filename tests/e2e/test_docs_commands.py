"""Commands the docs give, checked against the code they describe (a newcomer runs them literally)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scale_out_publishes_the_version_each_server_reports():
    """A walk: `registry publish orders 1.1.0 --url …` failed: the server reports 1.3.0."""
    from servers import kb_server, memory_server, order_server

    reported = {"orders": order_server.__version__, "kb": kb_server.__version__, "memory": memory_server.__version__}
    text = (ROOT / "docs" / "scale-out.md").read_text(encoding="utf-8")
    published = re.findall(r"registry publish (orders|kb|memory) (\d+\.\d+\.\d+)", text)
    assert published, "docs/scale-out.md no longer shows a publish command"
    for server, version in published:
        assert version == reported[server], f"docs/scale-out.md publishes {server} {version}"


def test_kb_quick_start_uploads_the_bundled_korean_documents():
    """A walk: the quick start uploaded the project's own docs/ (English engineering notes) into
    a Korean customer-service KB."""
    text = (ROOT / "docs" / "kb.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("```", 2)[1]
    uploads = re.findall(r"switchboard kb upload \S+ (\S+)", quick)
    assert uploads, quick
    for target in uploads:
        folder = ROOT / target
        assert folder.is_dir(), target
        docs = sorted(folder.glob("*.md"))
        assert docs and all(re.search("[가-힣]", d.read_text(encoding="utf-8")) for d in docs), target
        assert any("환불" in d.read_text(encoding="utf-8") for d in docs)  # the search that follows finds it

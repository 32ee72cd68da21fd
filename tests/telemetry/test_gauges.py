"""Gauges read at scrape time: audit checkpoint age per org, KB chunks waiting for a vector."""

from __future__ import annotations

import os
import time

from prometheus_client.parser import text_string_to_metric_families

from core import telemetry


def _gauge(name: str) -> dict[str, float]:
    families = {f.name: f for f in text_string_to_metric_families(telemetry.prometheus_text().decode())}
    if name not in families:
        return {}
    return {s.labels["switchboard_org_id"]: s.value for s in families[name].samples}


async def test_checkpoint_age_is_per_org_and_counts_from_the_newest_file(database_url, captured, tmp_path, monkeypatch):
    from host.telemetry import refresh_checkpoint_age

    monkeypatch.setenv("SWITCHBOARD_AUDIT_CHECKPOINT_DIR", str(tmp_path / "cps"))
    now = time.time()
    for org, ages in {"acme": (600, 120), "demo": (30,)}.items():
        folder = tmp_path / "cps" / org
        folder.mkdir(parents=True)
        for index, age in enumerate(ages):
            path = folder / f"{index:012d}-auto-x.json"
            path.write_text("{}")
            os.utime(path, (now - age, now - age))
    (tmp_path / "cps" / "stray.txt").write_text("not an org")
    telemetry.add_refresher(refresh_checkpoint_age)
    await telemetry.refresh()
    ages = _gauge("switchboard_audit_checkpoint_age_seconds")
    assert set(ages) == {"acme", "demo"}
    assert 119 <= ages["acme"] < 130 and 29 <= ages["demo"] < 40  # the newest file of each org


async def test_vectors_pending_follows_the_embedding_backlog(database_url, captured):
    from servers.kb_server import store
    from servers.kb_server.telemetry import watch_vectors_pending
    from servers.kb_server.vectors import embed_all

    await store.create_kb("acme", "안내")
    doc = "# 안내\n\n" + "\n\n".join(
        f"## 항목 {i}\n\n상품 {i}의 환불은 {i + 1}영업일 안에 처리됩니다." for i in range(4)
    )
    await store.upload("acme", "안내", [store.UploadItem("faq.md", doc.encode())])
    watch_vectors_pending("acme")
    await telemetry.refresh()
    assert _gauge("switchboard_kb_vectors_pending") == {"acme": 8.0}  # whole + sentence step per chunk
    await embed_all(org_id="acme", limit=1)
    await telemetry.refresh()
    assert _gauge("switchboard_kb_vectors_pending") == {"acme": 7.0}


async def test_a_failing_refresher_keeps_the_last_value(captured):
    telemetry.set_gauge("switchboard.kb.vectors.pending", {(("switchboard.org.id", "acme"),): 5.0})

    async def broken() -> None:
        raise OSError("database gone")

    telemetry.add_refresher(broken)
    await telemetry.refresh()
    assert _gauge("switchboard_kb_vectors_pending") == {"acme": 5.0}

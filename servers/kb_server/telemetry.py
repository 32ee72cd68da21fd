"""The KB server's gauge: ``switchboard.kb.vectors.pending``, embedding steps still waiting (a
chunk's whole vector and its sentence vectors are one step each, see ``vectors.pending_total``)."""

from __future__ import annotations

from core import telemetry


def watch_vectors_pending(org_id: str | None) -> None:
    """Report the embedding backlog of ``org_id`` (every org when None) at each scrape / export."""

    async def refresh() -> None:
        from servers.kb_server.vectors import pending_total
        from servers.retrieval.embedding import get_embedder

        total = await pending_total(org_id=org_id, model_id=get_embedder().model_id)
        label = telemetry.safe_id(org_id) if org_id else "*"
        telemetry.set_gauge("switchboard.kb.vectors.pending", {(("switchboard.org.id", label),): float(total)})

    telemetry.add_refresher(refresh, key=("kb.vectors.pending", org_id))

"""The tamper-evident audit log: append-only, hash-chained per org, personal data redacted.

Append (host, registry, servers)::

    from audit import AuditEvent, append
    record = await append(AuditEvent(org_id="acme", event_type="tool_call", source="host",
                                     tool_name="get_order", arguments={"order_id": "8841"}))
    record.seq, record.record_hash

Verify and maintain: :func:`verify_chain`, :func:`verify_all`, :func:`verify_export`,
:func:`create_checkpoints`, :func:`prune`, :func:`export_records`; search: :func:`find`.
Server side: ``audit.middleware.AuditHook(server_name)``. See docs/audit.md.
"""

from audit.log import append, append_journaled, append_many, close, flush, ready
from audit.record import GENESIS_HASH, SYSTEM_ORG, AuditEvent, AuditRecord, compute_record_hash

__all__ = [
    "GENESIS_HASH",
    "SYSTEM_ORG",
    "AuditEvent",
    "AuditRecord",
    "append",
    "append_journaled",
    "append_many",
    "close",
    "compute_record_hash",
    "create_checkpoints",
    "export_records",
    "find",
    "flush",
    "prune",
    "ready",
    "verify_all",
    "verify_chain",
    "verify_export",
]


def __getattr__(name: str):
    if name in {"verify_chain", "verify_all", "VerifyReport"}:
        from audit import verify

        return getattr(verify, name)
    if name == "verify_export":
        from audit.verify_file import verify_export

        return verify_export
    if name in {"create_checkpoints", "prune"}:
        from audit import maintenance

        return getattr(maintenance, name)
    if name == "export_records":
        from audit.export import export_records

        return export_records
    if name == "find":
        from audit.store import find

        return find
    raise AttributeError(name)

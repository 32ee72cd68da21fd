"""memory: personal data masked in the fields beside a memory's text (metadata, speaker, slot values)

Until this revision only a memory's text was masked: the caller's metadata, the speaker's name
(and the index tokens and vectors made from it) and the slot values read from the unmasked text
were stored as given. The write path masks them now (``guard.screen_json``); this revision masks
what is already stored, with the org's storage policy at the time it runs. A memory whose speaker
changed gets its index tokens again, and its vectors are dropped, to be embedded again from what is
stored by the vector worker (they were made from the unmasked name). Masking cannot be undone:
the downgrade changes nothing.

Revision ID: memory_0003
Revises: memory_0002
Create Date: 2026-12-07
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "memory_0003"
down_revision = "memory_0002"
branch_labels = None
depends_on = None

PAGE = 1000

item = sa.table(
    "memory_item",
    sa.column("id", sa.String),
    sa.column("org_id", sa.String),
    sa.column("text", sa.Text),
    sa.column("tokens", sa.Text),
    sa.column("meta", sa.JSON),
    sa.column("slot_values", sa.JSON),
    sa.column("vector_model", sa.String),
)
vector = sa.table("memory_vector", sa.column("memory_id", sa.String))


def upgrade() -> None:
    from servers.memory_server.guard import screen_json
    from servers.memory_server.memtokens import lexical_tokens

    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(
            sa.select(item.c.id, item.c.org_id, item.c.text, item.c.meta, item.c.slot_values)
            .where(item.c.id > last)
            .order_by(item.c.id)
            .limit(PAGE)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        for row in rows:
            meta: dict[str, Any] = row.meta or {}
            masked_meta = screen_json(meta, row.org_id)
            masked_slots = screen_json(row.slot_values, row.org_id) if row.slot_values else row.slot_values
            if masked_meta == meta and masked_slots == row.slot_values:
                continue
            values: dict[str, Any] = {"meta": masked_meta, "slot_values": masked_slots}
            if masked_meta.get("speaker") != meta.get("speaker"):
                speaker = masked_meta.get("speaker")
                values["tokens"] = " ".join(lexical_tokens(row.text, [str(speaker)] if speaker else []))
                values["vector_model"] = None
                conn.execute(sa.delete(vector).where(vector.c.memory_id == row.id))
            conn.execute(sa.update(item).where(item.c.id == row.id).values(**values))


def downgrade() -> None:
    """Masked values cannot be unmasked: nothing to do."""

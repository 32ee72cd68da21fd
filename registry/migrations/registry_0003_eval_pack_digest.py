"""registry: eval results and the eval gate carry the pack's content digest

The gate pins its pack by name and digest, so a run of a pack the author wrote (or an edited
copy under the same name) no longer satisfies it. Rows recorded before this have no digest and
count only for a gate that has none either.

Revision ID: registry_0003
Revises: registry_0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0003"
down_revision = "registry_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_eval_result") as batch:
        batch.add_column(sa.Column("pack_digest", sa.String(64), nullable=True))
    with op.batch_alter_table("agent_eval_gate") as batch:
        batch.add_column(sa.Column("pack_version", sa.String(32), nullable=True))
        batch.add_column(sa.Column("pack_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_eval_gate") as batch:
        batch.drop_column("pack_digest")
        batch.drop_column("pack_version")
    with op.batch_alter_table("agent_eval_result") as batch:
        batch.drop_column("pack_digest")

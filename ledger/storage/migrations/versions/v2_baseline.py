"""The baseline: the journal's layout at version 2 (submissions, items, batches, proposals, asset details,
document keys), as SQLite journals have it. Frozen: a later layout is a new revision, never an edit of this one."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v2"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("root", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("item_count", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("tx_hash", sa.Text),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("block_hash", sa.Text),
        sa.Column("block_timestamp", sa.BigInteger),
    )
    op.create_index("batches_status", "batches", ["status"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("registrant", sa.Text, nullable=False),
        sa.Column("party_id", sa.BigInteger, nullable=False),
        sa.Column("algorithm", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
        sa.Column("deadline", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("digest", sa.LargeBinary),
        sa.Column("payload", sa.Text),
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("batch_id", sa.BigInteger, sa.ForeignKey("batches.id")),
        sa.Column("batch_index", sa.BigInteger),
        sa.Column("tx_hash", sa.Text),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("block_hash", sa.Text),
        sa.Column("block_timestamp", sa.BigInteger),
        sa.Column("error", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("lease_until", sa.Float(53)),
        sa.CheckConstraint("kind IN ('single', 'batch')", name="submissions_kind"),
    )
    op.create_index("submissions_status", "submissions", ["status", "kind"])
    op.create_index("submissions_batch", "submissions", ["batch_id", "batch_index"])
    op.create_index("submissions_open", "submissions", ["status", "created_at"])
    op.create_table(
        "items",
        sa.Column("content_hash", sa.LargeBinary, primary_key=True),
        sa.Column("submission_id", sa.BigInteger, sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("item_index", sa.BigInteger, nullable=False),
    )
    op.create_index("items_submission", "items", ["submission_id", "item_index"])
    op.create_table(
        "proposals",
        sa.Column("agreement_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("asset_id", sa.BigInteger, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("signatures", sa.Text, nullable=False, server_default="{}"),
        sa.Column("status", sa.Text, nullable=False, server_default="proposed"),
        sa.Column("tx_hash", sa.Text),
        sa.Column("created_at", sa.Float(53), nullable=False),
    )
    op.create_table(
        "asset_details",
        sa.Column("asset_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Float(53), nullable=False),
    )
    op.create_table(
        "document_keys",
        sa.Column("party_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the journal's migrations only go forward")

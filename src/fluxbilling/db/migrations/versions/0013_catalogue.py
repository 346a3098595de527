"""The catalogue through the API: products pin a plugin version, images may carry a SHA-512

`products.plugin_version` NULL means "the newest version when a service is provisioned";
a number pins that version for new services. `images.sha512` is the alternative expected
digest (one of `sha256`, `sha512` is always there).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_DIGEST = "sha256 IS NOT NULL OR sha512 IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plugin_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha512", sa.String(length=128), nullable=True))
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_check_constraint(op.f("ck_images_has_digest"), _DIGEST)


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_images_has_digest"), type_="check")
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("sha512")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("plugin_version")

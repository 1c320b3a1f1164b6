"""Alembic environment: the database from DATABASE_URL (or the caller), the models' metadata."""

from alembic import context

from friendsgroup.config import Config
from friendsgroup.db import make_engine
from friendsgroup.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    """The URL given by ``friendsgroup db`` or, for plain ``alembic``, the environment's."""
    return config.attributes.get("database_url") or Config().DATABASE_URL


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

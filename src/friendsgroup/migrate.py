"""Alembic from code: locate the migrations, upgrade, downgrade, compare with the models."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from .models import Base


def migrations_path() -> Path:
    """The migrations folder: shipped in the wheel, or at the top of a source checkout."""
    packaged = Path(__file__).parent / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> AlembicConfig:
    """An Alembic configuration for ``database_url``, independent of the working directory."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands against the migrations."""

    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@cache
def head_revision() -> str:
    """The latest revision in the migrations folder (read once: a process's code is fixed, and
    reading it runs every migration file, which made each ``/readyz`` take 30-80 ms)."""
    script = ScriptDirectory(str(migrations_path()))
    return script.get_current_head()


def schema_status(engine: Engine) -> SchemaStatus:
    """The database's revision beside the head revision."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaStatus(current, head_revision())


def model_differences(engine: Engine) -> list:
    """What differs between the models and the migrated database (empty when they agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, Base.metadata)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)

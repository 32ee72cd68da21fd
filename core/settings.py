"""Process-wide settings, read from the environment (prefix ``SWITCHBOARD_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("switchboard", appauthor=False))


class Settings(BaseSettings):
    """Where Switchboard keeps its data and which engines it talks to."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Data directory")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under home")
    chroma_url: str | None = Field(default=None, description="Chroma server URL; default embedded chromadb")
    sqlite_busy_timeout_ms: int = 30_000
    erase_retention_days: int = Field(
        default=0,
        ge=0,
        description="Retention hold for conversation records on `customer erase` (days; 0 = erase everything)",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.home / 'switchboard.db'}"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    @property
    def home_is_default(self) -> bool:
        return self.home == _default_home()

    def store_exists(self) -> bool:
        """True when there is a database to read (a configured URL, or the SQLite file under home)."""
        return bool(self.database_url) or (self.home / "switchboard.db").exists()

    def location(self) -> str:
        """Where data is read from, for messages: the home and how it was chosen."""
        how = "the default; set SWITCHBOARD_HOME to change it" if self.home_is_default else "from SWITCHBOARD_HOME"
        where = f"data home {self.home} ({how})"
        if self.database_url:
            where += ", database from SWITCHBOARD_DATABASE_URL"
        return where


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and return an async driver URL."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Drop the cached settings (tests and CLI flags change the environment)."""
    get_settings.cache_clear()
    return get_settings()

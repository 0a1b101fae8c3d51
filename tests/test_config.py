"""Settings come from AISONAR_* and an optional TOML file, and refuse unsafe production."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisonar.config import InsecureSettings, Settings, normalize_database_url


def test_production_refuses_a_missing_or_weak_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AISONAR_ENV", "production")
    for secret in ("", "change-me", "short"):
        monkeypatch.setenv("AISONAR_SECRET_KEY", secret)
        with pytest.raises(InsecureSettings, match="AISONAR_SECRET_KEY"):
            Settings()
    monkeypatch.setenv("AISONAR_SECRET_KEY", "k" * 48)
    assert Settings().env == "production"


def test_environment_and_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "aisonar.toml"
    config.write_text('port = 9000\nmax_body_bytes = 1024\ndata_dir = "/srv/aisonar"\n')
    monkeypatch.setenv("AISONAR_CONFIG_FILE", str(config))
    monkeypatch.setenv("AISONAR_PORT", "9100")
    settings = Settings()
    assert settings.port == 9100  # the environment wins over the file
    assert settings.max_body_bytes == 1024
    assert settings.resolved_database_url == "sqlite+aiosqlite:////srv/aisonar/aisonar.db"


def test_development_keeps_a_generated_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.resolved_secret_key()
    assert len(first) >= 32 and first == Settings(data_dir=tmp_path).resolved_secret_key()
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_database_urls_get_async_drivers() -> None:
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("sqlite:////x.db") == "sqlite+aiosqlite:////x.db"
    assert normalize_database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"

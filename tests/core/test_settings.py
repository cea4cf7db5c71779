from pathlib import Path

import pytest

from paperbot.errors import ConfigError
from paperbot.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("PAPERBOT_"):
            monkeypatch.delenv(key)


def test_defaults_run_on_sqlite_with_no_platform() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.platforms == []


def test_file_then_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[channels]\ndigest_hour = 7\n[slack]\nbot_token = "xoxb-file"\n')
    assert load_settings(config).channels.digest_hour == 7
    monkeypatch.setenv("PAPERBOT_CHANNELS__DIGEST_HOUR", "8")
    settings = load_settings(config)
    assert settings.channels.digest_hour == 8
    assert settings.platforms == ["slack"]
    assert "xoxb-file" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("PAPERBOT_CHANNELS__TIMEZONE", "Mars/Olympus", "channels.timezone"),
        ("PAPERBOT_HTTP__PORT", "eighty", "http.port"),
        ("PAPERBOT_CHANNELS__DIGEST_HOUR", "25", "channels.digest_hour"),
        ("PAPERBOT_LOG__FORMAT", "xml", "log.format"),
    ],
)
def test_a_wrong_setting_fails_in_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"setting {named}:")
    assert "\n" not in message


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[slack]\nbot_tokn = 'x'\n")
    with pytest.raises(ConfigError, match=r"slack\.bot_tokn"):
        load_settings(config)


def test_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[slack\n")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_settings(broken)

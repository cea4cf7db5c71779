"""All configuration in one pydantic-settings object: `config.toml`, with `PAPERBOT_...` over it.

Built once by the CLI and passed down; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paperbot.errors import ConfigError

USER_AGENT = "paperbot/0.1 (research paper alerts for team chat; +https://github.com/paperbot)"


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r} (try Europe/Berlin or UTC)") from None
    return value


class Section(BaseModel):
    """A settings section; unknown keys are refused, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means a SQLite file in data_dir. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")


class HFSettings(Section):
    enabled: bool = Field(default=True, description="Fetch Hugging Face Daily Papers.")
    base_url: str = Field(default="https://huggingface.co", description="Hugging Face base URL.")
    page_limit: int = Field(default=100, ge=1, le=1000, description="Papers asked per page.")


class ArxivSettings(Section):
    enabled: bool = Field(default=True, description="Fetch arXiv's daily listings.")
    categories: list[str] = Field(
        default_factory=lambda: ["cs.LG", "cs.CL", "cs.CV", "cs.AI"],
        description="arXiv categories fetched daily.",
    )
    rss_base_url: str = Field(default="https://rss.arxiv.org", description="arXiv RSS/Atom base.")
    api_base_url: str = Field(
        default="http://export.arxiv.org", description="arXiv query API base."
    )
    min_interval_seconds: float = Field(
        default=3.0, ge=0, description="Pause between arXiv requests (their terms ask for 3 s)."
    )
    announce_types: list[str] = Field(
        default_factory=lambda: ["new", "cross"],
        description="Which RSS announce types count as new papers.",
    )


class SourcesSettings(Section):
    timeout_seconds: float = Field(default=20.0, gt=0, description="Per-request timeout.")
    retries: int = Field(default=4, ge=0, le=10, description="Retries on timeout, 429 and 5xx.")
    backoff_seconds: float = Field(default=2.0, ge=0, description="First retry delay; doubles.")
    user_agent: str = Field(default=USER_AGENT, description="User-Agent sent to every source.")
    sample: bool = Field(
        default=False,
        description="Also serve the bundled offline sample papers (on by default in the console).",
    )
    hf: HFSettings = Field(default_factory=HFSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)


class ScheduleSettings(Section):
    enabled: bool = Field(default=True, description="Run the ingest and digest jobs.")
    ingest_cron: str = Field(
        default="15 1,6,13 * * *",
        description="When to ingest (crontab, in ingest_timezone): after arXiv's midnight-ET "
        "announcement and through Hugging Face's day.",
    )
    ingest_timezone: str = Field(default="America/New_York", description="Zone of ingest_cron.")
    missed_digest_grace_hours: float = Field(
        default=6.0, ge=0, description="A digest missed while down is posted once if this recent."
    )

    _tz = field_validator("ingest_timezone")(_check_timezone)


class ChannelDefaults(Section):
    timezone: str = Field(default="UTC", description="New channels' timezone (IANA).")
    digest_hour: int = Field(default=9, ge=0, le=23, description="New channels' digest hour.")
    max_items: int = Field(default=10, ge=1, le=30, description="New channels' digest size.")
    digest_days: list[str] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        description="New channels' digest days.",
    )
    threaded: bool = Field(default=True, description="Post papers in the header's thread.")
    post_when_empty: bool = Field(default=False, description="Say 'nothing new' on empty days.")
    keep_days: int = Field(
        default=7, ge=1, le=60, description="Days a matched paper not posted yet stays eligible."
    )
    max_subscriptions: int = Field(default=50, ge=1, le=500, description="Per channel.")

    _tz = field_validator("timezone")(_check_timezone)


class SlackSettings(Section):
    bot_token: SecretStr | None = Field(default=None, description="xoxb- bot token.")
    app_token: SecretStr | None = Field(default=None, description="xapp- token: Socket Mode.")
    signing_secret: SecretStr | None = Field(default=None, description="HTTP mode signing secret.")
    api_base_url: str = Field(default="https://slack.com/api/", description="Slack Web API base.")
    command: str = Field(default="/papers", description="The slash command's name.")
    http_path: str = Field(
        default="/slack/events",
        description="HTTP mode: path for commands, events and interactivity (on http.port).",
    )
    post_interval_seconds: float = Field(
        default=1.0, ge=0, le=60, description="Least time between two posts to one channel."
    )
    rate_limit_retries: int = Field(
        default=5, ge=0, le=20, description="Retries of a rate-limited (429) Web API call."
    )
    upvote_reactions: list[str] = Field(
        default_factory=lambda: ["+1", "thumbsup", "arrow_up", "heavy_plus_sign"],
        description="Reaction names that vote a paper up.",
    )
    downvote_reactions: list[str] = Field(
        default_factory=lambda: ["-1", "thumbsdown", "arrow_down", "heavy_minus_sign"],
        description="Reaction names that vote a paper down.",
    )
    client_id: str | None = Field(
        default=None,
        description="OAuth distribution (any workspace installs the app at install_path): the "
        "app's Client ID. With client_secret set, bot_token is not needed.",
    )
    client_secret: SecretStr | None = Field(default=None, description="OAuth: Client Secret.")
    redirect_uri: str | None = Field(
        default=None,
        description="OAuth: the public URL of redirect_path, as listed under the app's "
        "Redirect URLs, e.g. https://paperbot.example.org/slack/oauth_redirect",
    )
    install_path: str = Field(default="/slack/install", description="OAuth: 'Add to Slack' page.")
    redirect_path: str = Field(
        default="/slack/oauth_redirect", description="OAuth: where Slack sends the installer back."
    )
    authorize_url: str = Field(
        default="https://slack.com/oauth/v2/authorize",
        description="OAuth: Slack's authorize page the install page links to.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: [
            "commands",
            "chat:write",
            "reactions:read",
            "channels:history",
            "groups:history",
            "files:write",
        ],
        description="OAuth: bot scopes asked for (the manifest's).",
    )
    oauth_state_seconds: int = Field(
        default=600, ge=60, le=3600, description="OAuth: how long an install link stays valid."
    )

    @property
    def oauth(self) -> bool:
        """Distributed: workspaces install the app through OAuth, each with its own token."""
        return self.client_id is not None and self.client_secret is not None

    @property
    def configured(self) -> bool:
        return self.bot_token is not None or self.oauth


class DiscordSettings(Section):
    token: SecretStr | None = Field(default=None, description="Bot token.")
    application_id: int | None = Field(default=None, description="For the invite URL.")
    api_base_url: str = Field(
        default="https://discord.com/api/v10", description="Discord REST base URL."
    )
    gateway_url: str = Field(
        default="wss://gateway.discord.gg/",
        description="Discord Gateway websocket URL (behind a proxy, or a local fake in tests).",
    )
    test_guild_id: int | None = Field(
        default=None, description="Sync commands to this guild only (instant, for testing)."
    )
    manage_permission: str = Field(
        default="manage_channels",
        description="Permission needed to change a channel's subscriptions or settings.",
    )
    upvote_reactions: list[str] = Field(
        default_factory=lambda: ["👍", "⬆️"], description="Emoji that vote a paper up."
    )
    downvote_reactions: list[str] = Field(
        default_factory=lambda: ["👎", "⬇️"], description="Emoji that vote a paper down."
    )
    shard_ids: list[int] | None = Field(default=None, description="Shards this process runs.")
    shard_count: int | None = Field(default=None, description="Total shards across processes.")
    seed_reactions: bool = Field(
        default=True, description="Add the first up/down vote emoji to each paper: one-click votes."
    )
    channel_post_interval: float = Field(
        default=1.0, ge=0, description="Seconds between two posts to one channel (pacing)."
    )
    global_requests_per_second: float = Field(
        default=40.0, gt=0, le=50, description="Posting budget across all channels (Discord: 50)."
    )

    @property
    def configured(self) -> bool:
        return self.token is not None


class HttpSettings(Section):
    host: str = Field(default="0.0.0.0", description="Bind address of the HTTP server.")  # noqa: S104
    port: int = Field(default=3000, ge=0, le=65535, description="Slack HTTP mode, /healthz.")
    enabled: bool = Field(default=True, description="Serve /healthz and /metrics.")


class SearchSettings(Section):
    max_resident_mb: int = Field(
        default=224,
        ge=0,
        description=(
            "Past this resident memory (MB), searches let go of the search index pages mapped "
            "into the bot; they stay in the OS page cache. 0: never."
        ),
    )


class TasteSettings(Section):
    also_worth: int = Field(
        default=3,
        ge=0,
        le=10,
        description=(
            "New channels' 'also worth a look' papers per digest (unmatched papers their "
            "learned taste picks); 0: off. Each channel changes it with /papers settings also."
        ),
    )
    min_up_votes: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Papers a channel must vote up before its taste ranks and suggests papers.",
    )


class TldrSettings(Section):
    enabled: bool = Field(
        default=False,
        description="Write a one-sentence TL;DR of each paper about to be posted, with a "
        "language model behind an OpenAI-compatible chat-completions API.",
    )
    base_url: str = Field(
        default="https://api.openai.com/v1",
        description="Chat-completions base URL (/chat/completions is added); a local server "
        "works too, e.g. http://localhost:11434/v1 (Ollama) or http://localhost:8000/v1 (vLLM).",
    )
    model: str = Field(default="gpt-4o-mini", description="Model name the endpoint knows.")
    api_key: SecretStr | None = Field(
        default=None, description="Bearer key; leave empty for a local server that needs none."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Per-request timeout.")
    max_wait_seconds: float = Field(
        default=20.0,
        ge=0,
        le=25,
        description="The longest the digests of one hour wait for TL;DRs, together (under the "
        "30 s a digest is prepared ahead of its hour); papers without one by then show their "
        "summary, and late answers serve later digests.",
    )
    daily_papers: int = Field(
        default=200, ge=0, description="At most this many papers summarised per UTC day."
    )
    daily_tokens: int = Field(
        default=200_000, ge=0, description="At most about this many tokens spent per UTC day."
    )
    max_input_chars: int = Field(
        default=3000, ge=200, le=20_000, description="Title and abstract sent, in characters."
    )
    concurrency: int = Field(default=4, ge=1, le=16, description="Requests at once.")


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level logged."
    )
    format: Literal["plain", "json"] = Field(
        default="plain", description="One line per event: plain text or a JSON object."
    )


class Settings(BaseSettings):
    """paperbot's configuration. Environment: PAPERBOT_<SECTION>__<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERBOT_", env_nested_delimiter="__", extra="forbid"
    )

    toml_path: ClassVar[Path | None] = None

    data_dir: Path = Field(default=Path("data"), description="SQLite file and search index.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    channels: ChannelDefaults = Field(default_factory=ChannelDefaults)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    tldr: TldrSettings = Field(default_factory=TldrSettings)
    taste: TasteSettings = Field(default_factory=TasteSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = getattr(settings_cls, "toml_path", None)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_dir / 'paperbot.sqlite'}"

    @property
    def search_index_dir(self) -> Path:
        return self.data_dir / "search-index"

    @property
    def platforms(self) -> list[str]:
        return [name for name in ("slack", "discord") if getattr(self, name).configured]


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from a TOML file (if given) under the environment's PAPERBOT_ variables.

    Raises ConfigError with one line naming the first wrong setting.
    """
    if config_path is not None and not config_path.is_file():
        raise ConfigError(f"config file {config_path} not found")
    loaded = type("LoadedSettings", (Settings,), {"toml_path": config_path})
    try:
        return loaded(**overrides)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except ValueError as exc:  # a malformed TOML file
        raise ConfigError(f"config file {config_path}: {exc}") from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "settings"
    message = first["msg"].removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    return f"setting {where}: {message}{suffix}"

"""Slack installations for OAuth distribution: slack_sdk's SQLAlchemy installation store and
OAuth state store on paperbot's own database (their tables come from paperbot's migrations),
made async for slack-bolt by running their short blocking calls in worker threads, and the bot
token of each workspace for the poster."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from logging import Logger
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine

from paperbot.errors import ChannelUnavailable

log = logging.getLogger(__name__)
NOT_INSTALLED = "the Slack app is not installed in this workspace (any more)"


class InstallationStore(AsyncInstallationStore):
    """slack_sdk's SQLAlchemy installation store, async (one short query per call, in a thread)."""

    def __init__(self, client_id: str, engine: Engine) -> None:
        self.sync = SQLAlchemyInstallationStore(
            client_id=client_id, engine=engine, logger=logging.getLogger(__name__)
        )

    @property
    def logger(self) -> Logger:
        return self.sync.logger

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.sync.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.sync.save_bot, bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await asyncio.to_thread(
            self.sync.find_bot,
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            self.sync.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.sync.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(
            self.sync.delete_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
        )


class StateStore(AsyncOAuthStateStore):
    """slack_sdk's SQLAlchemy OAuth state store, async: a state is issued once and consumed
    once, so a replayed or made-up `state` is refused."""

    def __init__(self, engine: Engine, expiration_seconds: int) -> None:
        self.sync = SQLAlchemyOAuthStateStore(
            expiration_seconds=expiration_seconds,
            engine=engine,
            logger=logging.getLogger(__name__),
        )

    @property
    def logger(self) -> Logger:
        return self.sync.logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.sync.issue)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.sync.consume, state)


class WorkspaceTokens:
    """The bot token of each installed workspace, looked up in the installation store and kept
    for `ttl` seconds (an uninstall forgets it at once)."""

    def __init__(
        self,
        store: AsyncInstallationStore,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    async def __call__(self, team_id: str) -> str:
        """The workspace's bot token; ChannelUnavailable when it has none (so the core pauses
        that channel, and only that one)."""
        cached = self._cache.get(team_id)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        bot = await self.store.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            self._cache.pop(team_id, None)
            raise ChannelUnavailable(NOT_INSTALLED)
        self._cache[team_id] = (self.clock() + self.ttl, bot.bot_token)
        return bot.bot_token

    def forget(self, team_id: str) -> None:
        self._cache.pop(team_id, None)

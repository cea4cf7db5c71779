"""OAuth distribution: any workspace installs the app at `/slack/install`, Slack sends the
installer back to `/slack/oauth_redirect`, and slack-bolt's OAuth flow checks the state, trades
the code at oauth.v2.access and saves the installation in slack_sdk's store on our database.

An uninstall (`app_uninstalled`) or a revoked bot token (`tokens_revoked`) removes that
workspace's installation and pauses its channels only; installing again resumes them.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse

from paperbot.adapters.slack.installations import (
    NOT_INSTALLED,
    InstallationStore,
    StateStore,
    WorkspaceTokens,
)
from paperbot.service import Paperbot
from paperbot.settings import SlackSettings

log = logging.getLogger(__name__)
PLATFORM = "slack"
# Why a workspace's channels were paused when it removed the app; a reinstall resumes them.
UNINSTALLED = "the Slack app was uninstalled from this workspace"
REVOKED = "the Slack app's bot token was revoked in this workspace"
GONE_REASONS = (UNINSTALLED, REVOKED, NOT_INSTALLED)


class SlackInstalls:
    """The install pages, the installation events and each workspace's token."""

    def __init__(self, settings: SlackSettings, bot: Paperbot, client_id: str) -> None:
        self.settings = settings
        self.bot = bot
        # slack_sdk's own stores, on the bot's database (tables from paperbot's migrations).
        self.installations = InstallationStore(client_id, bot.store.engine)
        self.states = StateStore(bot.store.engine, settings.oauth_state_seconds)
        self.tokens = WorkspaceTokens(self.installations)
        self._flow: AsyncOAuthFlow | None = None

    def oauth_settings(self) -> AsyncOAuthSettings:
        slack = self.settings
        assert slack.client_id is not None and slack.client_secret is not None
        return AsyncOAuthSettings(
            client_id=slack.client_id,
            client_secret=slack.client_secret.get_secret_value(),
            scopes=slack.scopes,
            user_scopes=[],
            redirect_uri=slack.redirect_uri,
            install_path=slack.install_path,
            redirect_uri_path=slack.redirect_path,
            authorization_url=slack.authorize_url,
            installation_store=self.installations,
            installation_store_bot_only=True,
            state_store=self.states,
            state_expiration_seconds=slack.oauth_state_seconds,
            callback_options=AsyncCallbackOptions(
                success=self._installed, failure=self._install_failed
            ),
            logger=logging.getLogger("paperbot.adapters.slack.oauth.bolt"),
        )

    def install_url(self) -> str | None:
        """Where a workspace installs the app: the redirect URL's host, at install_path."""
        if not self.settings.redirect_uri:
            return None
        parts = urlsplit(self.settings.redirect_uri)
        return f"{parts.scheme}://{parts.netloc}{self.settings.install_path}"

    def not_installed_message(self) -> str:
        """What someone in a workspace without an installation sees when they use /papers."""
        where = self.install_url()
        return "paperbot is not installed in this workspace" + (
            f" (any more): install it at {where}" if where else " (any more)"
        )

    def register(self, app: AsyncApp, web_app: web.Application) -> None:
        """The install and redirect pages on the HTTP app, the two events on bolt's."""
        assert app.oauth_flow is not None
        self._flow = app.oauth_flow
        app.event("app_uninstalled")(self._on_uninstalled)
        app.event("tokens_revoked")(self._on_tokens_revoked)
        web_app.router.add_get(self.settings.install_path, self._on_install)
        web_app.router.add_get(self.settings.redirect_path, self._on_redirect)

    # --- pages ----------------------------------------------------------------------------

    async def _on_install(self, request: web.Request) -> web.Response:
        """GET /slack/install: the "Add to Slack" page, with a fresh single-use state."""
        assert self._flow is not None
        response = await self._flow.handle_installation(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _on_redirect(self, request: web.Request) -> web.Response:
        """GET /slack/oauth_redirect: bolt checks the state (the installer's cookie, and the
        store, where it is used up), trades the code and saves the installation."""
        assert self._flow is not None
        response = await self._flow.handle_callback(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _installed(self, args: AsyncSuccessArgs) -> BoltResponse:
        team = str(args.installation.team_id or "")
        self.tokens.forget(team)
        resumed = await self.bot.resume_workspace(PLATFORM, team, GONE_REASONS)
        more = f"; resumed {resumed} paused channel(s)" if resumed else ""
        log.info("slack: installed in workspace %s%s", team, more)
        return await args.default.success(args)

    async def _install_failed(self, args: AsyncFailureArgs) -> BoltResponse:
        log.warning("slack: an installation was refused: %s", args.reason)
        return await args.default.failure(args)

    # --- events ---------------------------------------------------------------------------

    async def _on_uninstalled(self, context: AsyncBoltContext) -> None:
        """app_uninstalled: forget the workspace's installation and pause its channels only."""
        await self.installations.async_delete_all(
            enterprise_id=context.enterprise_id, team_id=context.team_id
        )
        await self._workspace_gone(str(context.team_id or ""), UNINSTALLED)

    async def _on_tokens_revoked(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        """tokens_revoked: drop revoked user installations; a revoked bot token ends the
        workspace's installation, as an uninstall does."""
        tokens = event.get("tokens") or {}
        for user in tokens.get("oauth") or []:
            await self.installations.async_delete_installation(
                enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=str(user)
            )
        if tokens.get("bot"):
            await self.installations.async_delete_all(
                enterprise_id=context.enterprise_id, team_id=context.team_id
            )
            await self._workspace_gone(str(context.team_id or ""), REVOKED)

    async def _workspace_gone(self, team: str, reason: str) -> None:
        self.tokens.forget(team)
        paused = await self.bot.pause_workspace(PLATFORM, team, reason)
        log.warning("slack: workspace %s: %s; paused %d channel(s)", team, reason, paused)

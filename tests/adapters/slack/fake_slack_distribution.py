"""The fake Slack Web API's methods for distribution: OAuth installs (oauth.v2.access, a
workspace's own auth.test) and the external file upload. FakeSlack mixes them in; their state
(uploads, codes, workspaces) lives in FakeSlack's fields."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from fake_slack import Call


@dataclass
class Workspace:
    """A Slack workspace that installs the app through OAuth, with its own bot token."""

    team_id: str
    name: str
    token: str
    bot_user: str = "U0PAPERBOT"
    bot_id: str = "B0PAPERBOT"
    installer: str = "U0INSTALLER"

    def oauth_access(self, client_id: str) -> dict[str, Any]:
        return {
            "ok": True,
            "app_id": "A0PAPERBOT",
            "authed_user": {"id": self.installer},
            "scope": "commands,chat:write,reactions:read,channels:history,groups:history,"
            "files:write",
            "token_type": "bot",
            "access_token": self.token,
            "bot_user_id": self.bot_user,
            "team": {"id": self.team_id, "name": self.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def auth_test(self) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.name.lower()}.slack.com/",
            "team": self.name,
            "user": "paperbot",
            "team_id": self.team_id,
            "user_id": self.bot_user,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }


class DistributionAPI:
    """Web API methods FakeSlack dispatches to by name (`files.getUploadURLExternal` ->
    `_files_getUploadURLExternal`)."""

    uploads: dict[str, dict[str, Any]]
    client_id: str
    client_secret: str
    oauth_codes: dict[str, Workspace]
    workspaces: dict[str, Workspace]
    channel_errors: dict[str, str]
    _port: int
    # FakeSlack's own helpers, used here: _error(call, error) and _notify().

    def _oauth_v2_access(self, call: Call) -> web.Response:
        """Trade an installer's code for the workspace's bot token: once per code, and only
        for this app's client id and secret (sent as HTTP Basic auth, as slack_sdk does)."""
        basic = (call.token or "").removeprefix("Basic ")
        try:
            client_id, _, secret = base64.b64decode(basic).decode().partition(":")
        except ValueError:
            client_id = secret = ""
        if client_id != self.client_id:
            return self._error(call, "invalid_client_id")
        if secret != self.client_secret:
            return self._error(call, "bad_client_secret")
        workspace = self.oauth_codes.pop(str(call.body.get("code", "")), None)
        if workspace is None:
            return self._error(call, "invalid_code")
        self.workspaces[workspace.token] = workspace
        return web.json_response(workspace.oauth_access(self.client_id))

    # --- files: Slack's external upload (get a URL, send the bytes there, complete) ----------

    def _files_getUploadURLExternal(self, call: Call) -> web.Response:
        file_id = f"F0{len(self.uploads) + 1:08d}"
        self.uploads[file_id] = {
            "filename": call.body.get("filename"),
            "length": int(call.body.get("length") or 0),
            "content": None,
            "shared_in": None,
        }
        return web.json_response(
            {
                "ok": True,
                "upload_url": f"http://127.0.0.1:{self._port}/upload/{file_id}",
                "file_id": file_id,
            }
        )

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload["content"] = await request.read()
        await self._notify()
        return web.Response(text="OK - " + str(len(upload["content"])))

    def _files_completeUploadExternal(self, call: Call) -> web.Response:
        files = call.body.get("files")
        listed = json.loads(files) if isinstance(files, str) else files or []
        channel = str(call.body.get("channel_id", ""))
        if channel in self.channel_errors:
            return self._error(call, self.channel_errors[channel])
        done = []
        for item in listed:
            upload = self.uploads.get(item.get("id"))
            if upload is None or upload["content"] is None:
                return self._error(call, "file_not_found")
            upload.update(
                shared_in=channel,
                title=item.get("title"),
                initial_comment=call.body.get("initial_comment"),
                token=call.token,
            )
            done.append({"id": item["id"], "name": upload["filename"], "title": item.get("title")})
        return web.json_response({"ok": True, "files": done})

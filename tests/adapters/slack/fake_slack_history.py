"""The fake Slack Web API's read-back methods: conversations.history and conversations.replies,
paginated the way Slack pages them, metadata only when asked for. FakeSlack mixes them in; the
messages they read live in FakeSlack's fields."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from fake_slack import Call


class HistoryAPI:
    """Web API methods FakeSlack dispatches to by name (`conversations.history` ->
    `_conversations_history`)."""

    messages: dict[str, list[dict[str, Any]]]
    history_error: str | None
    history_page_size: int | None
    # FakeSlack's own helper, used here: _error(call, error).

    def _conversations_history(self, call: Call) -> web.Response:
        if self.history_error:
            return self._error(call, self.history_error)
        channel = str(call.body.get("channel", ""))
        found = [
            m
            for m in reversed(self.messages.get(channel, []))
            if float(m["ts"]) > float(call.body.get("oldest") or 0)
        ]
        return self._page(call, found)

    def _conversations_replies(self, call: Call) -> web.Response:
        if self.history_error:
            return self._error(call, self.history_error)
        channel = str(call.body.get("channel", ""))
        parent = next(
            (m for m in self.messages.get(channel, []) if m["ts"] == call.body.get("ts")), None
        )
        if parent is None:
            return self._error(call, "thread_not_found")
        return self._page(call, [parent, *parent.get("replies", [])])

    def _page(self, call: Call, found: list[dict[str, Any]]) -> web.Response:
        metadata = str(call.body.get("include_all_metadata", "")).lower() in ("1", "true")
        size = self.history_page_size or int(call.body.get("limit") or 100)
        start = int(call.body.get("cursor") or 0)
        page = [public(m, metadata) for m in found[start : start + size]]
        more = start + size < len(found)
        return web.json_response(
            {
                "ok": True,
                "messages": page,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + size) if more else ""},
            }
        )


def public(message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
    """A stored message as Slack shows it: metadata only when asked for, replies not inline."""
    shown = {k: copy.deepcopy(v) for k, v in message.items() if k != "replies"}
    if not with_metadata:
        shown.pop("metadata", None)
    return shown

"""The invite link `paperbot discord-invite` prints: exactly the permissions the bot uses."""

from __future__ import annotations

import discord

# Read and post in channels, embeds for papers, history to find its own posts after a crash,
# the day's thread, and the 👍/👎 it adds to each paper. Nothing else: no message content,
# no moderation, no administrator.
BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    add_reactions=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)
SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot to a server with its slash commands."""
    return discord.utils.oauth_url(application_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)

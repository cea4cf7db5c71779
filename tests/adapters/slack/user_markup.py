"""Every mention and link form a user could type, for the tests that send them through every
command on both platforms (tests/adapters/*/test_*_user_text.py)."""

from __future__ import annotations

SLACK_FORMS = (
    "<@U0123ABCD>",
    "<@W0123ABCD|someone>",
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<!subteam^S0123ABCD|@researchers>",
    "<#C0123ABCD|general>",
    "<https://evil.example|click me>",
    "<mailto:a@evil.example|mail>",
    "https://evil.example/x",
    "www.evil.example",
)
DISCORD_FORMS = (
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "<#123456789012345678>",
    "</papers subscribe:123456789012345678>",
    "@everyone",
    "@here",
    "[click me](https://evil.example)",
    "<https://evil.example>",
    "https://evil.example/x",
)
FORMS = SLACK_FORMS + DISCORD_FORMS


def commands_for(form: str) -> list[str]:
    """Every command with `form` in each place a user types text."""
    return [
        f'subscribe author:"{form}"',
        f"subscribe {form} robots",
        f"subscribe {form}",
        f"subscribe --preview {form} robots",
        "list",
        f"search {form}",
        f"unsubscribe {form}",
        f"settings timezone {form}",
        f"top {form}",
        form,
    ]

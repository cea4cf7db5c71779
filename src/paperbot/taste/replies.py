"""The answers of `/papers like` and `/papers taste`, in no platform's format."""

from __future__ import annotations

from collections.abc import Sequence

from paperbot.models import DigestItem, Paper, Reply
from paperbot.presentation import truncate
from paperbot.taste.learner import TasteSummary


def like_reply(paper: Paper, similar: Sequence[Paper]) -> Reply:
    title = truncate(" ".join(paper.title.split()), 120)
    if not similar:
        return Reply(text=f"No stored paper is like {title} ({paper.arxiv_id}) yet.")
    return Reply(
        title="Similar papers",
        text=f"Most like {title} ({paper.arxiv_id}):",
        items=tuple(DigestItem(p) for p in similar),
    )


def taste_reply(summary: TasteSummary) -> Reply:
    votes = f"{summary.up_votes} 👍 and {summary.down_votes} 👎"
    if not summary.learned:
        if summary.up_votes == 0 and summary.down_votes == 0:
            return Reply(
                text=f"No votes yet: react 👍 on {summary.needed} papers you like and the "
                "digest starts learning this channel's taste."
            )
        more = summary.needed - summary.up_votes
        if more <= 0:  # enough votes, no readable model: the retrain after a vote is to come
            return Reply(
                text=f"Learning from this channel's {votes}: its model is not trained yet (it "
                "trains in the background after votes); until then digests rank by keywords."
            )
        return Reply(
            text=f"Learning needs {summary.needed} papers voted 👍; this channel has {votes}"
            f": {more} more 👍 to go."
        )
    lines = [f"Learned from {summary.up_votes + summary.down_votes} voted papers ({votes})."]
    if summary.pull_up:
        lines.append("Pulls papers up: " + ", ".join(summary.pull_up))
    if summary.pull_down:
        lines.append("Pulls papers down: " + ", ".join(summary.pull_down))
    shown = "off" if summary.also_worth == 0 else str(summary.also_worth)
    lines.append(f"Also worth a look: {shown} a day (/papers settings also N)")
    return Reply(title="This channel's taste", text="\n".join(lines))

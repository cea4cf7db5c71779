"""What a digest's requester is told: only what is true, and uncertain papers by title."""

from __future__ import annotations

from paperbot.models import DeliveryReport, Digest, Reply, Visibility

MAX_NAMED = 5


def _plural(count: int, noun: str = "paper") -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _titles(report: DeliveryReport, ids: list[str]) -> str:
    named = [f"“{report.titles.get(paper_id, paper_id)}”" for paper_id in ids[:MAX_NAMED]]
    more = f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else ""
    return ", ".join(named) + more


def digest_answer(report: DeliveryReport, what: str = "digest") -> Reply:
    """The one-message answer to `/papers digest` (or `more`, or a resumed digest)."""
    if report.skipped_reason and report.posted:
        # Cut short after some posts (a shutdown, a lost lease): never "no digest posted".
        return Reply.error(
            f"posted {_plural(len(report.posted))}, then stopped ({report.skipped_reason}); "
            "the rest follow in the digest's thread once the bot is back"
        )
    if report.skipped_reason:
        return Reply.error(f"no {what} posted: {report.skipped_reason}")
    if report.paused:
        return Reply.error(
            f"the {what} could not be posted: the bot has no access to this channel. Fix its "
            "permissions and run /papers digest again; a post that works resumes the schedule"
        )
    if not (report.posted or report.failed or report.uncertain or report.checking):
        return Reply(text="Nothing new since the last digest.")
    parts = [f"Posted {_plural(len(report.posted))}."]
    if report.resumed:
        parts[0] = f"Finished an interrupted digest: posted {_plural(len(report.posted))}."
    if report.failed:
        parts.append(
            f"{_plural(len(report.failed))} could not be posted; they stay queued for the "
            "coming digests (and /papers more)."
        )
    if report.checking:
        parts.append(
            f"{_plural(len(report.checking))} may have reached the channel; the next digest "
            "checks first and posts only what is missing."
        )
    if report.uncertain:
        parts.append(
            f"{_plural(len(report.uncertain))} may or may not have arrived and will not be sent "
            f"again (check the channel): {_titles(report, report.uncertain)}."
        )
    if report.remaining:
        parts.append(
            f"{_plural(report.remaining, 'more paper')} matched: /papers more posts the next ones."
        )
    if report.unpaused:
        parts.append(
            f"The channel had been paused ({report.unpaused}); posting works again, so "
            "scheduled digests are back on."
        )
    return Reply(text=" ".join(parts))


def name_papers(report: DeliveryReport, digest: Digest) -> None:
    """Remember the titles of a digest's papers, so an answer can name any of them."""
    report.titles.update({item.paper.arxiv_id: item.paper.title for item in digest.items})


def empty_digest_reply(digest: Digest) -> Reply:
    text = f"No new matching papers for {digest.day:%a %d %b}."
    if digest.missing_sources:
        text += f" (Not fetched: {', '.join(digest.missing_sources)}.)"
    return Reply(text=text, visibility=Visibility.IN_CHANNEL)

"""`/papers export`: the chosen papers as a .bib file attached to the answer."""

from __future__ import annotations

from paperbot.export.bibtex import bibtex_file
from paperbot.export.selection import Selection, select_papers
from paperbot.models import Attachment, CommandContext, Reply, Visibility
from paperbot.service import Paperbot

BIBTEX_MIME = "application/x-bibtex"


def bib_attachment(selection: Selection, day: str, where: str) -> Attachment:
    comment = (
        f"{len(selection.papers)} papers {selection.description}, exported by paperbot\n"
        f"channel {where}, {day}"
    )
    content = bibtex_file(selection.papers, comment).encode()
    filename = f"paperbot-{selection.what}-{day}.bib"
    return Attachment(filename, content, BIBTEX_MIME, title=filename)


async def export_reply(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    selection = await select_papers(bot, ctx.channel, argument)
    if not selection.papers:
        return Reply(text=f"No papers {selection.description} to export yet.")
    day = bot.clock().date().isoformat()
    attachment = bib_attachment(selection, day, str(ctx.channel))
    count = len(selection.papers)
    noun = "paper" if count == 1 else "papers"
    return Reply(
        text=f"BibTeX for {count} {noun} {selection.description}: {attachment.filename}",
        visibility=Visibility.IN_CHANNEL,
        attachment=attachment,
    )

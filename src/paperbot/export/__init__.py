"""Exports of a channel's papers: BibTeX files for `/papers export` and `paperbot export`."""

from paperbot.export.bibtex import bibtex_entry, bibtex_file, citation_key, latex_escape
from paperbot.export.command import export_reply
from paperbot.export.selection import Selection, select_papers

__all__ = [
    "Selection",
    "bibtex_entry",
    "bibtex_file",
    "citation_key",
    "export_reply",
    "latex_escape",
    "select_papers",
]

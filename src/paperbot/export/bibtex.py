"""BibTeX for papers, in the shape arXiv's own "Export BibTeX citation" gives: an `@misc` entry
with title, authors, year, eprint, archivePrefix, primaryClass and url, escaped for LaTeX, under
a citation key that depends on the paper alone."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from paperbot.models import Paper

# Characters LaTeX reads as commands or structure; everything else (UTF-8 letters too) is kept,
# since biber and modern BibTeX read UTF-8.
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_TABLE = str.maketrans(_LATEX_SPECIALS)
# Title words too common to tell papers apart in a key ("the", "towards").
_STOPWORDS = "a an the on of for in to and with via is are do does what how why when can towards"
_TITLE_STOPWORDS = frozenset(_STOPWORDS.split()) | {"toward", "from", "by", "at", "as"}
# Letters NFKD does not take apart into an ASCII base letter and an accent.
_ASCII_LETTERS = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"}
)
_NEW_STYLE_YEAR = re.compile(r"^(\d{2})(\d{2})\.")
_WORD = re.compile(r"[a-z0-9]+")


def latex_escape(text: str) -> str:
    """Text as LaTeX prints it literally: specials escaped, control characters and line breaks
    folded to spaces."""
    folded = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(folded.split()).translate(_LATEX_TABLE)


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.lower().translate(_ASCII_LETTERS))
    plain = folded.encode("ascii", "ignore").decode()
    return _WORD.findall(plain)


def paper_year(paper: Paper) -> str | None:
    """The year of first publication: the date we have, else the one a new-style id encodes."""
    if paper.published_at is not None:
        return str(paper.published_at.year)
    found = _NEW_STYLE_YEAR.match(paper.arxiv_id)
    if found and not paper.is_sample:
        return str(2000 + int(found.group(1)))
    if paper.featured_on is not None:
        return str(paper.featured_on.year)
    return None


def citation_key(paper: Paper) -> str:
    """`vaswani2017attention`: first author's family name, year, first telling title word.
    The same paper always gets the same key, whatever else is exported with it."""
    author_words = _ascii_words(paper.authors[0].split()[-1]) if paper.authors else []
    author = "".join(author_words) or "anon"
    title_words = [w for w in _ascii_words(paper.title) if w not in _TITLE_STOPWORDS]
    word = title_words[0] if title_words else "paper"
    return f"{author}{paper_year(paper) or ''}{word}"


def bibtex_entry(paper: Paper, key: str | None = None) -> str:
    """One `@misc` entry. A sample paper has no real arXiv id, so it gets no eprint."""
    fields: list[tuple[str, str]] = [("title", "{" + latex_escape(paper.title) + "}")]
    if paper.authors:
        fields.append(("author", " and ".join(latex_escape(name) for name in paper.authors)))
    year = paper_year(paper)
    if year:
        fields.append(("year", year))
    if paper.is_sample:
        fields.append(("note", "Sample paper bundled with paperbot; its id is not an arXiv id"))
    else:
        fields.append(("eprint", latex_escape(paper.arxiv_id)))
        fields.append(("archivePrefix", "arXiv"))
        if paper.categories:
            fields.append(("primaryClass", latex_escape(paper.categories[0])))
    # URLs go unescaped: \url and biblatex take them verbatim.
    fields.append(("url", paper.abs_url))
    width = max(len(name) for name, _ in fields)
    body = "".join(f"  {name.ljust(width)} = {{{value}}},\n" for name, value in fields)
    return f"@misc{{{key or citation_key(paper)},\n{body}}}\n"


def bibtex_file(papers: Sequence[Paper], comment: str = "") -> str:
    """Entries for `papers` in the order given. Two papers that would share a key each get
    their arXiv id appended, so no key in a file is ambiguous."""
    keys = [citation_key(paper) for paper in papers]
    shared = {key for key, count in Counter(keys).items() if count > 1}
    parts = [f"% {line}\n" for line in comment.splitlines() if line.strip()]
    if parts:
        parts.append("\n")
    seen: set[str] = set()
    for paper, key in zip(papers, keys, strict=True):
        if paper.arxiv_id in seen:
            continue
        seen.add(paper.arxiv_id)
        if key in shared:
            key = f"{key}-{paper.arxiv_id.replace('/', '-')}"
        parts.append(bibtex_entry(paper, key) + "\n")
    return "".join(parts)

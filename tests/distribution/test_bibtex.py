"""BibTeX entries: arXiv's shape, LaTeX-safe, keys that depend on the paper alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from paperbot.export import bibtex_entry, bibtex_file, citation_key, latex_escape
from paperbot.sources.sample import sample_papers
from paperbot.testing import make_paper

ATTENTION = make_paper(
    "Attention Is All You Need",
    "The dominant sequence transduction models...",
    arxiv_id="1706.03762",
    authors=("Ashish Vaswani", "Noam Shazeer", "Niki Parmar"),
    categories=("cs.CL", "cs.LG"),
    published_at=datetime(2017, 6, 12, tzinfo=UTC),
)


def fields(entry: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\w+)\s+= \{(.*)\},$", entry, re.MULTILINE))


def test_an_entry_has_arxivs_fields() -> None:
    entry = bibtex_entry(ATTENTION)
    assert entry.startswith("@misc{vaswani2017attention,\n") and entry.endswith("}\n")
    assert fields(entry) == {
        "title": "{Attention Is All You Need}",
        "author": "Ashish Vaswani and Noam Shazeer and Niki Parmar",
        "year": "2017",
        "eprint": "1706.03762",
        "archivePrefix": "arXiv",
        "primaryClass": "cs.CL",
        "url": "https://arxiv.org/abs/1706.03762",
    }


def test_latex_specials_are_escaped_and_braces_stay_balanced() -> None:
    assert latex_escape("R&D: 100% of $x_i$ #1 {a} ~ ^ \\") == (
        r"R\&D: 100\% of \$x\_i\$ \#1 \{a\} \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{}"
    )
    assert latex_escape("two\nlines\tand\x00nul") == "two lines and nul"
    nasty = make_paper(
        "Breaking }{ BibTeX with 50% of {braces",
        "x",
        arxiv_id="2401.00001",
        authors=("Zoë O'Brien-Żółć", "A. } Hacker"),
    )
    entry = bibtex_entry(nasty)
    body = entry.replace("\\{", "").replace("\\}", "")
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert "Zoë O'Brien-Żółć and A. \\} Hacker" in entry  # UTF-8 kept as is
    assert citation_key(nasty) == "obrienzolc2024breaking"


def test_keys_are_stable_and_collisions_are_told_apart_by_id() -> None:
    twin = make_paper(
        "Attention Sinks",
        "x",
        arxiv_id="1706.09999",
        authors=("Ada Vaswani",),
        published_at=datetime(2017, 9, 1, tzinfo=UTC),
    )
    untitled = make_paper("The", "x", arxiv_id="2312.00001")
    assert citation_key(ATTENTION) == citation_key(ATTENTION) == "vaswani2017attention"
    assert citation_key(twin) == "vaswani2017attention"
    assert citation_key(untitled) == "anon2023paper"  # year from the new-style id
    text = bibtex_file([ATTENTION, twin, ATTENTION, untitled], comment="2 papers\nfrom here")
    assert text.startswith("% 2 papers\n% from here\n\n")
    keys = re.findall(r"^@misc\{([^,]+),", text, re.MULTILINE)
    assert keys == [
        "vaswani2017attention-1706.03762",
        "vaswani2017attention-1706.09999",
        "anon2023paper",
    ]  # the repeated paper appears once
    assert bibtex_file([ATTENTION]).startswith("@misc{vaswani2017attention,")


def test_a_sample_paper_gets_no_eprint_and_no_link_to_its_made_up_id() -> None:
    paper = sample_papers()[0]
    entry = bibtex_entry(paper)
    found = fields(entry)
    assert "eprint" not in found and "archivePrefix" not in found
    assert "not an arXiv id" in found["note"]
    assert found["url"].startswith("https://arxiv.org/search/?query=")
    assert paper.arxiv_id not in entry

"""Derive the package's offline sample papers from the shared real listings.

Run once by a developer (`python scripts/derive_sample_data.py ../shared/data/listing-papers.json`);
the output is committed, and nothing in the package or tests reads the listings themselves.
The listings carry no arXiv ids or author names, so ids are synthetic (stable per title) and
categories are guessed from the text; titles, abstracts and upvotes are real.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "paperbot" / "data" / "sample_papers.json.gz"
_CATEGORY_HINTS = [
    ("cs.CV", ("image", "video", "visual", "vision", "pixel", "3d", "segmentation", "detection")),
    ("cs.CL", ("language", "text", "llm", "token", "translation", "linguistic", "speech")),
    ("cs.RO", ("robot", "manipulation", "locomotion", "embodied")),
    ("stat.ML", ("bayesian", "posterior", "statistical", "estimator")),
]


def categories_for(text: str) -> list[str]:
    lower = text.lower()
    found = [cat for cat, hints in _CATEGORY_HINTS if any(h in lower for h in hints)]
    return ["cs.LG", *found][:3]


def main(listing: Path) -> None:
    seen: set[str] = set()
    papers = []
    for item in json.loads(listing.read_text()):
        title = " ".join(item["title"].split())
        if not title or title in seen or not item.get("abstract"):
            continue
        seen.add(title)
        digest = int(hashlib.sha256(title.encode()).hexdigest(), 16)
        prefix = "2411" if item.get("page_date") == "Nov 14" else "2405"
        papers.append(
            {
                "arxiv_id": f"{prefix}.{10000 + digest % 90000:05d}",
                "title": title,
                "abstract": " ".join(item["abstract"].split()),
                "upvotes": int(item.get("upvotes") or 0),
                "categories": categories_for(title + " " + item["abstract"]),
            }
        )
    ids = [p["arxiv_id"] for p in papers]
    assert len(ids) == len(set(ids)), "synthetic id collision; change the scheme"
    OUT.write_bytes(gzip.compress(json.dumps(papers, ensure_ascii=False).encode(), mtime=0))
    print(f"wrote {len(papers)} papers to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

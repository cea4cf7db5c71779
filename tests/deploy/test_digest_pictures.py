"""The README's digest pictures come from a command over the real renderers (needs the `docs`
extra, Pillow; skipped without it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def script() -> ModuleType:
    pytest.importorskip("PIL", reason="pip install -e '.[docs]' to draw the pictures")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(
            "render_digest_pictures", ROOT / "scripts" / "render_digest_pictures.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return module


async def test_the_sample_digest_goes_through_the_real_core() -> None:
    digest = await script().sample_digest("slack")
    assert len(digest.items) >= 4
    assert all(item.reasons for item in digest.items)
    assert any(item.paper.authors for item in digest.items)


def test_the_command_draws_both_pictures(tmp_path: Path) -> None:
    from PIL import Image

    assert script().main(["--out", str(tmp_path)]) == 0
    for platform in ("slack", "discord"):
        with Image.open(tmp_path / f"digest-{platform}.png") as picture:
            assert picture.width >= 1200 and picture.height >= 1500


def test_markup_is_read_as_the_clients_read_it() -> None:
    module = script()
    style = module.Style(15, "#000")
    spans = module.slack_spans("*<https://a.test|A &amp; B>* _x_", style, "#00f")
    shown = [(text, s.bold, s.italic, s.colour) for text, s in spans]
    assert shown == [
        ("A & B", True, False, "#00f"),
        (" ", False, False, "#000"),
        ("x", False, True, "#000"),
    ]
    spans = module.discord_spans(r"**[T\*1](https://a.test)** 2\.", style, "#00f")
    assert "".join(text for text, _ in spans) == "T*1 2."
    assert spans[0][1].bold and spans[0][1].colour == "#00f"

"""Rich text on a Pillow image, for scripts/render_digest_pictures.py: styled spans, word
wrapping, colour emoji. Just enough of a chat client's text rendering to show a message as the
platform would, from what the real renderers produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"))
EMOJI_FONTS = (
    Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/noto/NotoColorEmoji.ttf"),
)
_EMOJI_NATIVE_SIZE = 109  # Noto Color Emoji is a bitmap font drawn at this size only
_EXTRA_EMOJI = frozenset("⚠⬆⬇✅❌⭐✨")
_TOKEN = re.compile(r"\n| +|[^ \n]+")


@dataclass(frozen=True)
class Style:
    size: float
    colour: str
    bold: bool = False
    italic: bool = False
    mono: bool = False
    background: str | None = None

    def but(self, **changes: object) -> Style:
        return replace(self, **changes)  # type: ignore[arg-type]


Span = tuple[str, Style]


@lru_cache(maxsize=64)
def font(style: Style, scale: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSansMono" if style.mono else "DejaVuSans"
    suffix = {(True, True): "-BoldOblique", (True, False): "-Bold", (False, True): "-Oblique"}
    name += suffix.get((style.bold, style.italic), "")
    for folder in FONT_DIRS:
        if (folder / f"{name}.ttf").is_file():
            return ImageFont.truetype(str(folder / f"{name}.ttf"), round(style.size * scale))
    return ImageFont.load_default(round(style.size * scale))


@lru_cache(maxsize=1)
def emoji_font() -> ImageFont.FreeTypeFont | None:
    for path in EMOJI_FONTS:
        if path.is_file():
            return ImageFont.truetype(str(path), _EMOJI_NATIVE_SIZE)
    return None


@lru_cache(maxsize=128)
def emoji_image(cluster: str, pixels: int) -> Image.Image | None:
    face = emoji_font()
    if face is None:
        return None
    left, top, right, bottom = (round(edge) for edge in face.getbbox(cluster))
    tile = Image.new("RGBA", (right, bottom), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((0, 0), cluster, font=face, embedded_color=True)
    tile = tile.crop((left, top, right, bottom))
    ratio = pixels / max(tile.height, 1)
    return tile.resize((max(1, round(tile.width * ratio)), pixels), Image.Resampling.LANCZOS)


def is_emoji(char: str) -> bool:
    return ord(char) >= 0x1F000 or char in _EXTRA_EMOJI


def pieces(word: str) -> list[tuple[str, bool]]:
    """A word split into text and emoji clusters (an emoji with its variation selector)."""
    found: list[tuple[str, bool]] = []
    for char in word:
        if char in "\ufe0f\u200d" and found and found[-1][1]:
            found[-1] = (found[-1][0] + char, True)
        elif is_emoji(char) and emoji_font() is not None:
            found.append((char, True))
        elif found and not found[-1][1]:
            found[-1] = (found[-1][0] + char, False)
        else:
            found.append((char, False))
    return found


@dataclass
class Piece:
    text: str
    style: Style
    emoji: bool
    width: float


class Canvas:
    """A tall image drawn top to bottom, cropped to what was used; sizes are in CSS pixels and
    drawn at `scale` for sharp text on high-density screens."""

    def __init__(self, width: int, background: str, scale: float = 2.0, height: int = 5000):
        self.scale = scale
        self.width = width
        self.image = Image.new("RGB", (round(width * scale), round(height * scale)), background)
        self.draw = ImageDraw.Draw(self.image)
        self.bottom = 0.0  # how far down the picture goes: crop() keeps this much

    def _px(self, value: float) -> int:
        return round(value * self.scale)

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        fill: str | None,
        radius: float = 0,
        outline: str | None = None,
    ) -> None:
        box = (self._px(x), self._px(y), self._px(x + w), self._px(y + h))
        self.draw.rounded_rectangle(
            box, radius=self._px(radius), fill=fill, outline=outline, width=self._px(1)
        )

    def circle(self, x: float, y: float, d: float, fill: str) -> None:
        self.draw.ellipse((self._px(x), self._px(y), self._px(x + d), self._px(y + d)), fill=fill)

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str) -> None:
        box = (self._px(x1), self._px(y1), self._px(x2), self._px(y2))
        self.draw.line(box, fill=colour, width=self._px(1))

    def emoji(self, cluster: str, x: float, y: float, size: float) -> None:
        tile = emoji_image(cluster.replace("\ufe0f", ""), self._px(size))
        if tile is not None:
            self.image.paste(tile, (self._px(x), self._px(y)), tile)

    def measure(self, text: str, style: Style, emoji: bool) -> float:
        if emoji:
            return style.size * 1.25
        return font(style, self.scale).getlength(text) / self.scale

    def _pieces(self, spans: list[Span]) -> list[Piece | None]:
        """Words and spaces with widths; None marks a forced line break."""
        found: list[Piece | None] = []
        for text, style in spans:
            for word in _TOKEN.findall(text):
                if word == "\n":
                    found.append(None)
                    continue
                for part, emoji in pieces(word):
                    found.append(Piece(part, style, emoji, self.measure(part, style, emoji)))
        return found

    def layout(self, spans: list[Span], width: float) -> list[list[Piece]]:
        lines: list[list[Piece]] = [[]]
        used = 0.0
        word: list[Piece] = []

        def flush_word() -> None:
            nonlocal used
            size = sum(p.width for p in word)
            if lines[-1] and used + size > width:
                while lines[-1] and not lines[-1][-1].text.strip():
                    lines[-1].pop()
                lines.append([])
                used = 0.0
            for piece in word:
                while piece.width > width and not piece.emoji:  # a URL longer than a line
                    cut = len(piece.text) * width // piece.width
                    head = piece.text[: max(1, int(cut) - 1)]
                    lines[-1].append(replace(piece, text=head, width=width))
                    lines.append([])
                    rest = piece.text[len(head) :]
                    piece = replace(piece, text=rest, width=self.measure(rest, piece.style, False))
                    used = 0.0
                lines[-1].append(piece)
                used += piece.width
            word.clear()

        for piece in self._pieces(spans):
            if piece is None:
                flush_word()
                lines.append([])
                used = 0.0
            elif not piece.text.strip() and not piece.emoji:
                flush_word()
                if lines[-1]:
                    lines[-1].append(piece)
                    used += piece.width
            else:
                word.append(piece)
        flush_word()
        return lines

    def text(
        self,
        spans: list[Span],
        x: float,
        y: float,
        width: float,
        leading: float = 1.4,
        paint: bool = True,
    ) -> float:
        """Draw wrapped spans with their top at y (or only measure them, when not `paint`);
        returns the height used."""
        top = y
        for line in self.layout(spans, width):
            size = max((p.style.size for p in line), default=spans[0][1].size if spans else 14)
            height = size * leading
            if not paint:
                y += height
                continue
            cursor = x
            for piece in line:
                if piece.style.background and piece.text.strip():
                    self.rect(
                        cursor - 1, y + 1, piece.width + 2, height - 2, piece.style.background, 3
                    )
                if piece.emoji:
                    self.emoji(
                        piece.text, cursor + size * 0.1, y + (height - size * 1.1) / 2, size * 1.1
                    )
                else:
                    face = font(piece.style, self.scale)
                    baseline = self._px(y + (height - size) / 2 + size * 0.8)
                    self.draw.text(
                        (self._px(cursor), baseline),
                        piece.text,
                        font=face,
                        fill=piece.style.colour,
                        anchor="ls",
                    )
                cursor += piece.width
            y += height
        return y - top

    def crop(self) -> Image.Image:
        return self.image.crop((0, 0, self.image.width, self._px(self.bottom)))

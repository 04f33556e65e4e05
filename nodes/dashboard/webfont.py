"""The dashboard's own webfont: a subset of Noto Sans CJK SC holding every character it shows.

A classroom machine (a stock Debian, a container, a kiosk) often has no CJK font at all, and the
browser then draws every Chinese character as a box. The page therefore ships its own font:
`static/dashboard/fonts/yrd-sans-sc-{regular,bold}.woff2`, subsets of Noto Sans CJK SC (SIL Open
Font License 1.1, `static/dashboard/fonts/OFL.txt`) cut down to the characters the dashboard can
draw — its static files, the cities, institutions and enterprises of every preset, the names of
the record kinds — plus printable ASCII, so the whole page renders the same everywhere.

Regenerate after changing any Chinese text of the page (a test fails until you do):

    apt-get install fonts-noto-cjk
    python -m nodes.dashboard.webfont /usr/share/fonts/opentype/noto
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chain.presets import PRESETS
from chain.records import RecordKind
from nodes.dashboard.model import build_topology

STATIC_DIRECTORY = Path(__file__).resolve().parent / "static" / "dashboard"
FONT_DIRECTORY = STATIC_DIRECTORY / "fonts"
FONT_FAMILY = "YRD Sans SC"
FONT_FILES = {"regular": "yrd-sans-sc-regular.woff2", "bold": "yrd-sans-sc-bold.woff2"}
SOURCE_FILES = {"regular": "NotoSansCJK-Regular.ttc", "bold": "NotoSansCJK-Bold.ttc"}
SOURCE_INDEX_SC = 2  # in Noto's collections: JP, KR, SC, TC, HK
TEXT_SUFFIXES = (".html", ".js", ".css")
PRINTABLE_ASCII = "".join(chr(code) for code in range(0x20, 0x7F))
# Characters the narration builds from parts (numbers, punctuation around interpolated names).
NARRATION_EXTRAS = "0123456789，。、；：（）《》“”‘’！？…—–·→⇄×"


def page_text() -> str:
    """Every string the dashboard's static files can show."""
    return "".join(path.read_text(encoding="utf-8") for path in sorted(STATIC_DIRECTORY.iterdir())
                   if path.suffix in TEXT_SUFFIXES)


def data_text() -> str:
    """Every name the server sends the page: topologies of every preset, record kind names."""
    topologies = [build_topology(preset) for preset in PRESETS.values()]
    kinds = [kind.label_zh for kind in RecordKind]
    return json.dumps([topologies, kinds], ensure_ascii=False)


def needs_glyph(character: str) -> bool:
    """Whether the shipped font must carry this character (ASCII and everything East Asian)."""
    code = ord(character)
    return (0x20 <= code < 0x7F or 0xA0 <= code <= 0xFF or 0x2000 <= code <= 0x206F
            or 0x2190 <= code <= 0x21FF or 0x2E80 <= code <= 0x9FFF
            or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF)


def dashboard_characters() -> str:
    """The sorted characters the shipped font must hold."""
    text = page_text() + data_text() + NARRATION_EXTRAS + PRINTABLE_ASCII
    return "".join(sorted({c for c in text if needs_glyph(c)} | set(NARRATION_EXTRAS)))


def subset_fonts(source_directory: Path, out_directory: Path = FONT_DIRECTORY) -> list[Path]:
    """Write the woff2 subsets from Noto Sans CJK's collections in `source_directory`."""
    from fontTools import subset  # a build-time tool: only this command needs it

    out_directory.mkdir(parents=True, exist_ok=True)
    written = []
    for weight, name in FONT_FILES.items():
        options = subset.Options()
        options.flavor = "woff2"
        options.font_number = SOURCE_INDEX_SC
        options.hinting = False
        options.desubroutinize = True
        options.name_IDs = ["*"]  # keep the copyright, licence and reserved-name records
        font = subset.load_font(str(source_directory / SOURCE_FILES[weight]), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=dashboard_characters())
        subsetter.subset(font)
        path = out_directory / name
        subset.save_font(font, str(path), options)
        written.append(path)
    return written


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto")
    for written_path in subset_fonts(source):
        print(f"{written_path} ({written_path.stat().st_size} bytes)")

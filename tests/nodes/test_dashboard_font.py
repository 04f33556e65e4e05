"""The dashboard's shipped webfont covers every character the page can draw, under its licence."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from chain.presets import get_preset
from nodes.dashboard.model import build_topology
from nodes.dashboard.routes import FONT_NAMES, replay_page
from nodes.dashboard.webfont import (
    FONT_DIRECTORY,
    FONT_FILES,
    dashboard_characters,
    needs_glyph,
    page_text,
)

OFL_NAME_ID = 13  # the OpenType name record holding the licence description


def _font(weight: str) -> TTFont:
    return TTFont(FONT_DIRECTORY / FONT_FILES[weight])


@pytest.mark.parametrize("weight", sorted(FONT_FILES))
def test_the_shipped_font_has_a_glyph_for_every_character_the_dashboard_shows(
        weight: str) -> None:
    font = _font(weight)
    assert font.flavor == "woff2"
    cmap = font.getBestCmap()
    missing = sorted(c for c in dashboard_characters() if ord(c) not in cmap)
    assert not missing, ("regenerate the font: python -m nodes.dashboard.webfont "
                         f"(missing {''.join(missing)!r})")
    assert (FONT_DIRECTORY / FONT_FILES[weight]).stat().st_size < 400_000


def test_the_characters_include_the_pages_chinese_and_the_data_it_is_sent() -> None:
    characters = set(dashboard_characters())
    assert set("长三角征信链心跳块图例") <= characters  # page and narration text
    assert set("上海南京杭州合肥苏州常州宿迁台州") <= characters  # the eight cities
    chinese_in_page = {c for c in page_text() if "\u4e00" <= c <= "\u9fff"}
    assert chinese_in_page <= characters
    assert needs_glyph("链") and needs_glyph("–") and not needs_glyph("⚓")


def test_the_font_carries_its_open_font_licence() -> None:
    assert (FONT_DIRECTORY / "OFL.txt").is_file()
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONT_DIRECTORY / "OFL.txt").read_text(
        encoding="utf-8")
    licence = _font("regular")["name"].getDebugName(OFL_NAME_ID)
    assert licence is not None and "SIL Open Font License" in licence
    assert set(FONT_NAMES) == {*FONT_FILES.values(), "OFL.txt"}


def test_the_replay_page_embeds_the_font_so_it_needs_no_server() -> None:
    page = replay_page({"topology": build_topology(get_preset("local4")), "events": []})
    embedded = re.findall(r'url\("data:font/woff2;base64,([A-Za-z0-9+/=]+)"\)', page)
    assert len(embedded) == len(FONT_FILES)
    shipped = {(FONT_DIRECTORY / name).read_bytes() for name in FONT_FILES.values()}
    assert {base64.b64decode(data) for data in embedded} == shipped
    assert "/dashboard/static/fonts/" not in page


def test_the_stylesheet_uses_the_shipped_font_first() -> None:
    css = (Path(FONT_DIRECTORY).parent / "dashboard.css").read_text(encoding="utf-8")
    assert re.search(r'font-family: "YRD Sans SC", ', css)
    for name in FONT_FILES.values():
        assert f'url("/dashboard/static/fonts/{name}")' in css

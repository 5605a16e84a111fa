"""Figures a reader can read: a CJK font only if it has real Chinese glyphs (not matplotlib's
"Last Resort" boxes), Latin text kept in the default font, and without a CJK font the maps
that can still be drawn. Checked by rendering pixels, not by font names."""

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from tinytransformer import plot


def render(text: str) -> np.ndarray:
    """The pixels of `text` drawn alone on a small white canvas, as grey levels."""
    fig = plt.figure(figsize=(0.6, 0.6), dpi=60)
    fig.text(0.1, 0.2, text, fontsize=20)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(-1)
    plt.close(fig)
    return pixels


@pytest.fixture
def fresh_rc():
    with matplotlib.rc_context():
        yield


def test_placeholder_fonts_are_refused():
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    last_resort = sorted(fonts.glob("LastResort*"))
    if not last_resort:
        pytest.skip("this matplotlib ships no Last Resort font")
    assert not plot._covers_chinese(str(last_resort[0]))  # one box for the whole block
    assert not plot._covers_chinese(str(fonts / "DejaVuSans.ttf"))  # no Chinese at all


def test_without_a_cjk_font_the_english_maps_are_kept(monkeypatch):
    monkeypatch.setattr(plot, "find_cjk_font", lambda: None)
    w = np.ones((1, 1, 2, 2)) / 2
    maps = {"encoder_self": (w, ["i", "."], ["i", "."]),
            "cross": (w, ["i", "."], ["我", "。"])}
    drawable, left_out = plot.without_missing_glyphs(maps)
    assert list(drawable) == ["encoder_self"] and left_out == ["cross"]
    with pytest.raises(plot.MissingFontError, match="apt-get install fonts-wqy-microhei"):
        plot.use_fonts_for(["我"])


def test_with_a_cjk_font_chinese_is_drawn_with_real_glyphs(fresh_rc):
    if plot.find_cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    latin_before = render("attention")
    plot.use_fonts_for(["我们"])
    zhong, wen, de = render("中"), render("文"), render("的")
    for glyph in (zhong, wen, de):
        assert (glyph < 128).sum() > 20  # ink on the canvas
    # a placeholder draws the same box for each: real glyphs differ from one another
    assert np.abs(zhong - wen).sum() > 1000 and np.abs(wen - de).sum() > 1000
    np.testing.assert_array_equal(render("attention"), latin_before)  # Latin: default font

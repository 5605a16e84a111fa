"""Figures in one style: attention maps (tokens on the axes) and training curves.

Chinese tokens need a CJK font. `find_cjk_font` looks for any installed font with real
Chinese glyphs, whatever its name (placeholder fonts that draw one box for a whole Unicode
block, such as the "Last Resort" font matplotlib ships, are refused). `use_fonts_for` keeps
Latin text in matplotlib's default font and puts the CJK font right after it, as the fallback
for the characters the default lacks. With no CJK font, plotting Chinese raises
`MissingFontError` saying how to install one, rather than drawing empty boxes;
`without_missing_glyphs` picks the maps that can still be drawn.
"""

from __future__ import annotations

import functools
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# Well-known CJK families first (fast path); any font with real Chinese glyphs is accepted after.
_KNOWN = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
          "WenQuanYi Zen Hei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti",
          "Microsoft YaHei", "SimHei", "Arial Unicode MS", "Droid Sans Fallback", "AR PL UMing CN"]
_PROBE = "中文的"  # three characters of one Unicode block: a real font has a glyph for each

INSTALL_HINT = (
    "no font with Chinese characters is installed (Chinese labels would be empty boxes): "
    "install one, e.g. `sudo apt-get install fonts-wqy-microhei` on Debian/Ubuntu or "
    "`sudo dnf install google-noto-sans-cjk-fonts` on Fedora (macOS and Windows have one), "
    "and run again"
)


class MissingFontError(RuntimeError):
    pass


def has_cjk(texts) -> bool:
    return any(_CJK.search(t) for t in texts)


def _covers_chinese(path: str) -> bool:
    """Each probe character maps to a glyph of its own; a placeholder font maps all to one."""
    try:
        font = matplotlib.ft2font.FT2Font(path)
        glyphs = {font.get_char_index(ord(c)) for c in _PROBE}
    except Exception:  # unreadable or unusual font files are simply skipped
        return False
    return len(glyphs) == len(_PROBE) and 0 not in glyphs


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or None."""
    fm = font_manager.fontManager
    known = {f.name: f.fname for f in fm.ttflist}
    for name in _KNOWN:
        if name in known and _covers_chinese(known[name]):
            return name
    seen = {f.fname for f in fm.ttflist}
    for path in font_manager.findSystemFonts():  # fonts installed after matplotlib's cache
        if path not in seen:
            try:
                fm.addfont(path)
            except Exception:
                continue
    for f in fm.ttflist:
        if "Last Resort" not in f.name and _covers_chinese(f.fname):
            return f.name
    return None


def use_fonts_for(texts) -> None:
    """Make matplotlib able to draw `texts`: a CJK font as the fallback when they need one."""
    if not has_cjk(texts):
        return
    name = find_cjk_font()
    if name is None:
        raise MissingFontError(INSTALL_HINT)
    # matplotlib falls back glyph by glyph only along font.family's list of named families
    latin = font_manager.get_font(font_manager.findfont(font_manager.FontProperties(
        family=["sans-serif"]))).family_name
    plt.rcParams["font.family"] = [latin, name]
    plt.rcParams["axes.unicode_minus"] = False


def without_missing_glyphs(maps: dict) -> tuple[dict, list[str]]:
    """(the maps that can be drawn, the names of those left out for want of a CJK font)."""
    if find_cjk_font() is not None:
        return maps, []
    left_out = [k for k, (_, keys, queries) in maps.items() if has_cjk([*keys, *queries])]
    return {k: v for k, v in maps.items() if k not in left_out}, left_out


def attention_axes(ax, weights: np.ndarray, keys: list[str], queries: list[str], title: str = ""):
    """One attention map on `ax`: weights [T_q, T_k], keys along x, queries along y."""
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(keys)), keys, rotation=90, fontsize=8)
    ax.set_yticks(range(len(queries)), queries, fontsize=8)
    ax.set_title(title, fontsize=9)
    return image



def plot_attention(maps: dict, path=None, cell: float = 2.2):
    """A grid of attention maps: one row per (kind, layer), one column per head.

    `maps` is {title: (weights [L, H, T_q, T_k], keys, queries)}, e.g. the encoder
    self-attention, decoder self-attention and cross-attention of one sentence.
    Returns the figure; saves it when `path` is given.
    """
    from .explorer.data import LABELS  # the kinds' names in words, as the explorer shows them

    use_fonts_for([t for _, keys, queries in maps.values() for t in (*keys, *queries)])
    rows = [(kind, layer) for kind, (w, _, _) in maps.items() for layer in range(w.shape[0])]
    heads = max(w.shape[1] for w, _, _ in maps.values())
    fig, axes = plt.subplots(len(rows), heads, figsize=(cell * heads + 1, cell * len(rows) + 1),
                             squeeze=False, layout="constrained")
    for r, (kind, layer) in enumerate(rows):
        w, keys, queries = maps[kind]
        for h in range(heads):
            image = attention_axes(axes[r, h], w[layer, h], keys, queries,
                                   f"{LABELS.get(kind, kind)}\nlayer {layer}, head {h}")
        axes[r, 0].set_ylabel("query: the token attending", fontsize=8)
    fig.supxlabel("key: the token attended to (each row of a map sums to 1)", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=min(1.0, 4 / len(rows)), label="attention weight")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_curves(history: list[dict], path=None):
    """Training curves: train/valid loss and valid BLEU against the step."""
    fig, (ax_loss, ax_bleu) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    steps = [h["step"] for h in history if "train_loss" in h]
    ax_loss.plot(steps, [h["train_loss"] for h in history if "train_loss" in h],
                 label="train (label-smoothed)")
    valid = [h for h in history if "valid_loss" in h]
    ax_loss.plot([h["step"] for h in valid], [h["valid_loss"] for h in valid], "o-",
                 label="valid (plain)")
    ax_loss.set(xlabel="step", ylabel="loss (cross-entropy, nats)", title="loss")
    ax_loss.legend()
    bleu = [h for h in history if "valid_bleu" in h]
    ax_bleu.plot([h["step"] for h in bleu], [h["valid_bleu"] for h in bleu], "o-", color="C2")
    ax_bleu.set(xlabel="step", ylabel="BLEU", title="validation BLEU", ylim=(0, 100))
    for ax in (ax_loss, ax_bleu):
        ax.grid(alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def save_curves(history: list[dict], path) -> None:
    """Write the training curves to `path` and close the figure (for loops that redraw it)."""
    plt.close(plot_curves(history, path))

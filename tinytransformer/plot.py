"""Figures in one style: attention maps (tokens on the axes) and training curves.

Chinese tokens need a CJK font. `find_cjk_font` looks for any installed font that has
Chinese glyphs, whatever its name; when there is none, plotting Chinese raises
`MissingFontError` saying how to install one, rather than drawing empty boxes.
"""

from __future__ import annotations

import functools
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# Well-known CJK families first (fast path); any font covering 中文 is accepted after them.
_KNOWN = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
          "WenQuanYi Zen Hei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti",
          "Microsoft YaHei", "SimHei", "Arial Unicode MS", "Droid Sans Fallback", "AR PL UMing CN"]

INSTALL_HINT = (
    "no font with Chinese characters is installed, so Chinese tokens would be drawn as "
    "empty boxes. Install one and run again:\n"
    "  Debian/Ubuntu: sudo apt-get install fonts-wqy-microhei   (or fonts-noto-cjk)\n"
    "  Fedora: sudo dnf install google-noto-sans-cjk-fonts\n"
    "  macOS and Windows ship one (PingFang / Microsoft YaHei) already."
)


class MissingFontError(RuntimeError):
    pass


def has_cjk(texts) -> bool:
    return any(_CJK.search(t) for t in texts)


def _covers_chinese(path: str) -> bool:
    try:
        font = matplotlib.ft2font.FT2Font(path)
        return all(font.get_char_index(ord(c)) for c in "中文的")
    except Exception:  # unreadable or unusual font files are simply skipped
        return False


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
        if _covers_chinese(f.fname):
            return f.name
    return None


def use_fonts_for(texts) -> None:
    """Make matplotlib able to draw `texts`: add a CJK font in front when they need one."""
    if not has_cjk(texts):
        return
    name = find_cjk_font()
    if name is None:
        raise MissingFontError(INSTALL_HINT)
    families = plt.rcParams["font.sans-serif"]
    if families[:1] != [name]:
        plt.rcParams["font.sans-serif"] = [name, *[f for f in families if f != name]]
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False


def attention_axes(ax, weights: np.ndarray, keys: list[str], queries: list[str], title: str = ""):
    """One attention map on `ax`: weights [T_q, T_k], keys along x, queries along y."""
    ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(keys)), keys, rotation=90, fontsize=8)
    ax.set_yticks(range(len(queries)), queries, fontsize=8)
    ax.set_title(title, fontsize=9)


def plot_attention(maps: dict, path=None, cell: float = 2.2):
    """A grid of attention maps: one row per (kind, layer), one column per head.

    `maps` is {title: (weights [L, H, T_q, T_k], keys, queries)}, e.g. the encoder
    self-attention, decoder self-attention and cross-attention of one sentence.
    Returns the figure; saves it when `path` is given.
    """
    use_fonts_for([t for _, keys, queries in maps.values() for t in (*keys, *queries)])
    rows = [(kind, layer) for kind, (w, _, _) in maps.items() for layer in range(w.shape[0])]
    heads = max(w.shape[1] for w, _, _ in maps.values())
    fig, axes = plt.subplots(len(rows), heads, figsize=(cell * heads + 1, cell * len(rows) + 1),
                             squeeze=False, layout="constrained")
    for r, (kind, layer) in enumerate(rows):
        w, keys, queries = maps[kind]
        for h in range(heads):
            attention_axes(axes[r, h], w[layer, h], keys, queries, f"{kind} L{layer} H{h}")
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

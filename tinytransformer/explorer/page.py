"""The page: page.html with its CSS, its JavaScript and the data written into it, so that the
one file opens anywhere, offline, for as long as browsers read HTML (no CDN to die)."""

from __future__ import annotations

import html
import json
import re
from importlib import resources

# The page's own JavaScript, in the order it is inlined (each file uses only the ones before).
SCRIPTS = ("util.js", "controls.js", "head_view.js", "model_view.js", "neuron_view.js",
           "next_token.js", "main.js")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def page_json(data: dict) -> str:
    """The data as JSON that cannot end its <script> element early (every "<" escaped)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render(data: dict) -> str:
    """A whole HTML document showing `data` (see data.py for its fields)."""
    title = f"attention explorer: {data['sentence']}"
    values = {"title": html.escape(title), "css": _asset("explorer.css"),
              "js": "\n".join(_asset(name) for name in SCRIPTS), "data": page_json(data)}
    # one pass, so that text inside the values is never taken for a placeholder
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], _asset("page.html"))


def notebook_html(page: str, height: int = 760) -> str:
    """The page inside an <iframe>, for Jupyter's `display(HTML(...))`: the page keeps its own
    styles and ids, apart from the notebook's and from other pages in the same notebook. (In a
    <div>: IPython warns about HTML that starts with an iframe.)"""
    return (f'<div><iframe srcdoc="{html.escape(page, quote=True)}" style="width: 100%; '
            f'height: {height}px; border: 1px solid #ddd" title="attention explorer">'
            '</iframe></div>')

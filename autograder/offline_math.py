"""Equations in feedback pages drawn as inline SVG by matplotlib's mathtext, so they render with no network: the
feedback page otherwise loads MathJax from a CDN, and no MathJax or KaTeX copy ships in the installed packages."""
from __future__ import annotations

import base64
import functools
import html
import io
import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.S)
#: The few LaTeX spellings mathtext lacks, rewritten to ones it has (same glyphs).
SPELLINGS = ((re.compile(r"\\frac\s*(\w)\s*(\w)"), r"\\frac{\1}{\2}"), (re.compile(r"\\[lr]Vert(?![A-Za-z])"), r"\\Vert"),
             (re.compile(r"\\(?:textstyle|displaystyle)(?![A-Za-z])\s*"), ""))


@functools.lru_cache(maxsize=512)
def svg(tex: str, size: float = 11.0) -> str | None:
    """The equation as a base64 SVG data URI, or None when mathtext cannot parse it (the TeX then stays as text)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import math_to_image

    for pattern, replacement in SPELLINGS:
        tex = pattern.sub(replacement, tex)
    buf = io.BytesIO()
    try:
        math_to_image(f"${' '.join(tex.split())}$", buf, format="svg", prop=FontProperties(size=size))
    except (ValueError, RuntimeError):
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _image(match: re.Match) -> str:
    display = match.group(1) is not None
    tex = match.group(1) if display else match.group(2)
    uri = svg(tex.strip(), 13.0 if display else 11.0)
    if uri is None:
        return match.group(0)
    style = "display:block;margin:0.6em auto" if display else "vertical-align:middle"
    return f'<img class="math" alt="{html.escape(tex.strip())}" style="{style}" src="{uri}">'


def render_math(markdown: str) -> str:
    """Markdown with each $...$ and $$...$$ replaced by its drawn equation (code spans left alone)."""
    parts = re.split(r"(`[^`]*`)", markdown)
    return "".join(part if part.startswith("`") else MATH.sub(_image, part) for part in parts)


class OfflineMath(NbGraderPreprocessor):
    """Draws the equations of markdown cells, the student's answers included, into the page itself."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int
                        ) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = render_math(cell.source)
        return cell, resources

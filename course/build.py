"""Generate each lecture's PyTorch and TensorFlow notebooks from its one MyST source, so prose never drifts.

    python -m course.build           write course/{pytorch,tensorflow}/*.ipynb and the README's notebook table
    python -m course.build --check   regenerate in memory; exit 1 listing every committed file that differs

Source format: see course/README.md.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course.student_install import colab_link, colab_url, header_markdown, install_source, readme_note

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}
# Tags a source cell may carry besides the framework tags; they pass through to the notebook.
PASS_TAGS = frozenset({"hide-input", "hide-output", "raises-exception", "nbval-ignore-output", "nbval-skip"})
README_START, README_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
SOURCE_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.md$")
# An import of the other framework in a twin means a cell lacks its framework tag.
FOREIGN_IMPORT = {
    "pytorch": re.compile(r"^\s*(import|from)\s+(tensorflow|keras|losslab\.tensorflow)\b", re.M),
    "tensorflow": re.compile(r"^\s*(import|from)\s+(torch|torchvision|losslab\.torch)\b", re.M),
}


class BuildError(Exception):
    """A lecture source breaks the format; the message names the file and the cell."""


@dataclass(frozen=True)
class Lecture:
    """One parsed source: `stem` names both notebooks, `title`/`teaches` fill the README row."""

    path: Path
    stem: str
    number: str
    title: str
    teaches: str
    cells: list[NotebookNode]


def read_lecture(path: Path) -> Lecture:
    """Parse a source and validate its name, front matter and every cell's tags."""
    match = SOURCE_NAME.match(path.name)
    if not match:
        raise BuildError(f"{path.name}: a lecture source is named NN_lowercase_name.md")
    nb = jupytext.read(path, fmt="md:myst")
    meta = nb.metadata.get("lecture") or {}
    if not meta.get("title") or not meta.get("teaches"):
        raise BuildError(f"{path.name}: front matter needs `lecture:` with `title:` and `teaches:`")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            raise BuildError(f"{path.name}, cell {index}: a {cell.cell_type} cell; lectures use code and markdown only")
        tags = set(cell.metadata.get("tags", []))
        unknown = tags - PASS_TAGS - set(FRAMEWORKS)
        if unknown:
            raise BuildError(
                f"{path.name}, cell {index} ({_first_line(cell)!r}): unknown tag(s) {sorted(unknown)}; "
                f"allowed: {sorted(FRAMEWORKS)} and {sorted(PASS_TAGS)}"
            )
        if set(FRAMEWORKS) <= tags:
            raise BuildError(f"{path.name}, cell {index}: tagged with both frameworks; leave it untagged instead")
    return Lecture(path, path.stem, match.group(1), meta["title"], meta["teaches"], list(nb.cells))


def _first_line(cell: NotebookNode) -> str:
    return cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""


def notebook_path(framework: str, stem: str) -> str:
    """Where a twin lives in the repository (and so in a Colab link)."""
    return f"course/{framework}/{stem}.ipynb"


def twin(lecture: Lecture, framework: str) -> NotebookNode:
    """The notebook for one framework: header cells, then the untagged and this framework's cells."""
    other_key = "tensorflow" if framework == "pytorch" else "pytorch"
    other = colab_url(notebook_path(other_key, lecture.stem)) or f"../{other_key}/{lecture.stem}.ipynb"
    note = f"{FRAMEWORKS[framework]} version ([{FRAMEWORKS[other_key]} version]({other}))"
    cells = [
        new_markdown_cell(header_markdown(notebook_path(framework, lecture.stem), note), id=f"l{lecture.number}-badge"),
        new_code_cell(install_source(), id=f"l{lecture.number}-install"),
    ]
    for index, cell in enumerate(lecture.cells):
        tags = cell.metadata.get("tags", [])
        if any(tag in FRAMEWORKS and tag != framework for tag in tags):
            continue
        if cell.cell_type == "code" and FOREIGN_IMPORT[framework].search(cell.source):
            raise BuildError(
                f"{lecture.path.name}, cell {index} ({_first_line(cell)!r}): imports another framework but reaches "
                f"the {FRAMEWORKS[framework]} notebook; tag it `{other_key}`"
            )
        kept = [tag for tag in tags if tag in PASS_TAGS]
        metadata = {"tags": kept} if kept else {}
        make = new_code_cell if cell.cell_type == "code" else new_markdown_cell
        cells.append(make(cell.source, id=f"l{lecture.number}-{index:03d}", metadata=metadata))
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def readme_block(lectures: list[Lecture]) -> str:
    """The README's table of every notebook, with Colab links and the local instruction."""
    rows = [
        "| # | Lecture | PyTorch | TensorFlow | What it teaches |",
        "|---|---|---|---|---|",
    ]
    for lec in lectures:
        links = [f"{colab_link(notebook_path(fw, lec.stem))}[ipynb]({notebook_path(fw, lec.stem)})"
                 for fw in FRAMEWORKS]
        rows.append(f"| {lec.number} | {lec.title} | {links[0]} | {links[1]} | {lec.teaches} |")
    sentences = ["Every notebook's first code cell installs `losslab` where it is missing (see *Getting losslab* below).",
                 readme_note(), "Edit lectures in `course/src/`, then run `make lectures`."]
    local = "\n" + " ".join(filter(None, sentences))
    return "\n".join([README_START, *rows, local, README_END])


def render_readme(text: str, lectures: list[Lecture]) -> str:
    """Replace only the block between the markers; the rest of the README is not ours."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise BuildError(f"README.md lacks the markers {README_START} ... {README_END}")
    return text[:start] + readme_block(lectures) + text[end + len(README_END):]


def build(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file under `root` (relative path -> text); nothing is written."""
    sources = sorted((root / "course" / "src").glob("*.md"))
    if not sources:
        raise BuildError(f"no lecture sources in {root / 'course' / 'src'}")
    lectures = [read_lecture(path) for path in sources]
    outputs = {
        Path("course", fw, f"{lec.stem}.ipynb"): nbformat.writes(twin(lec, fw)) + "\n"
        for lec in lectures
        for fw in FRAMEWORKS
    }
    readme = root / "README.md"
    if not readme.exists():
        raise BuildError("README.md is missing; it needs the notebooks block markers")
    outputs[Path("README.md")] = render_readme(readme.read_text(), lectures)
    return outputs


def stale(outputs: dict[Path, str], root: Path) -> list[Path]:
    """Committed notebooks that no source generates (a renamed or deleted lecture)."""
    found = {p.relative_to(root) for fw in FRAMEWORKS for p in (root / "course" / fw).glob("*.ipynb")}
    return sorted(found - set(outputs))


def differences(outputs: dict[Path, str], root: Path = ROOT) -> list[str]:
    """One line per file on disk that is missing, out of date or stale."""
    lines = []
    for rel, text in outputs.items():
        path = root / rel
        if not path.exists():
            lines.append(f"missing: {rel}")
        elif path.read_text() != text:
            lines.append(f"differs: {rel}")
    lines += [f"stale (no source): {rel}" for rel in stale(outputs, root)]
    return lines


def write(outputs: dict[Path, str], root: Path = ROOT) -> list[str]:
    """Write what changed and delete stale notebooks; returns the changes."""
    changes = differences(outputs, root)
    for rel in stale(outputs, root):
        (root / rel).unlink()
    for rel, text in outputs.items():
        path = root / rel
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.build", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything differs")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        outputs = build(args.root)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        diffs = differences(outputs, args.root)
        for line in diffs:
            print(line)
        if diffs:
            print("run `make lectures` (python -m course.build) and commit the result", file=sys.stderr)
        return 1 if diffs else 0
    for line in write(outputs, args.root):
        print(line.replace("differs", "updated").replace("missing", "created").replace("stale", "removed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How a student gets `losslab`: the one place that names the course's public repository, and the two cells
that open every student notebook (lecture twins and assignment releases alike).

Both generators use it: `python -m course.build` (lectures) and `python -m autograder release` (assignments).
"""
from __future__ import annotations

#: The public GitHub repository ("owner/name") this course is published at. Colab opens notebooks from it and
#: the install cell installs losslab from it. Empty while the course is unpublished: then no notebook or README
#: row carries an Open-in-Colab link (it would fail), and students install the wheel their instructor hands out.
#: To publish: set it, run `make lectures release`, commit and push to that repository's BRANCH.
REPOSITORY = ""
BRANCH = "main"

BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: The file a student uploads next to the notebook; `python -m pip wheel --no-deps -w dist .` builds it.
WHEEL_GLOB = "losslab-*-py3-none-any.whl"


def colab_url(path: str) -> str | None:
    """Open-in-Colab address of a notebook at `path` in the repository, or None while it is unpublished."""
    if not REPOSITORY:
        return None
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{path}"


def colab_link(path: str) -> str:
    """A Colab badge for the notebook at `path` followed by a space, or "" while the course is unpublished."""
    url = colab_url(path)
    return f"[![Open In Colab]({BADGE})]({url}) " if url else ""


def readme_note() -> str:
    """The line under a README table: while unpublished, why there are no Colab badges and what to do."""
    if REPOSITORY:
        return ""
    return ("No *Open in Colab* badges yet: the course has no public repository. Students upload the notebook "
            "and the losslab wheel (see *In Colab*); instructors see *The wheel and the repository name*.")


def header_markdown(path: str, note: str = "") -> str:
    """The first cell: a Colab badge (or, unpublished, how to get this notebook into Colab), then `note`."""
    url = colab_url(path)
    if url:
        opening = f"[![Open In Colab]({BADGE})]({url})"
    else:
        opening = (
            "**In Colab**: upload this notebook (*File > Upload notebook*) and the `losslab` wheel your instructor "
            f"gave you (`{WHEEL_GLOB.replace('*', '<version>')}`, *Files* panel), then run the next cell. "
            "(Instructors: this course has no public repository yet, so there is no Open-in-Colab link; set "
            "`REPOSITORY` in `course/student_install.py` and run `make lectures release` to add one.)"
        )
    return opening + (f" &nbsp; {note}" if note else "")


def install_source() -> str:
    """The install cell: where `losslab` is missing, install the instructor's wheel if one lies next to the
    notebook, else the course repository's version (or, unpublished, say what to do); elsewhere do nothing.
    Plain imports and `%pip` only, so that the grader's flags (autograder/flags.py) find nothing to report."""
    if REPOSITORY:
        fallback = f'"losslab @ git+https://github.com/{REPOSITORY}@{BRANCH}"'
        missing = ""
    else:
        fallback = "None"
        missing = (
            "    if source is None:\n"
            "        raise ModuleNotFoundError(\n"
            '            "losslab is not installed: upload the losslab wheel your instructor gave you "\n'
            f'            "({WHEEL_GLOB.replace("*", "<version>")}) next to this notebook "\n'
            '            "(in Colab: the Files panel), then run this cell again") from None\n'
        )
    return (
        "# Installs the course helpers `losslab` where they are missing (Colab, a fresh JupyterLab);\n"
        "# where they are installed already (`make venv`, `pip install losslab`) it does nothing.\n"
        "import glob, os\n\n"
        "try:\n"
        "    import losslab\n"
        "except ModuleNotFoundError:\n"
        f'    wheels = glob.glob("{WHEEL_GLOB}")  # a wheel your instructor handed out, next to this notebook\n'
        f"    source = max(wheels, key=os.path.getmtime) if wheels else {fallback}\n"
        f"{missing}"
        '    %pip install -q "{source}"'
    )

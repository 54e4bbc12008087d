"""The one bridge to the isolation helper's autograder.sandbox, so the pipeline never sandboxes on its own."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from traitlets.config import Config

from .config import DEFAULT_CELL_TIMEOUT

try:
    from . import sandbox
except ImportError:  # the isolation helper's module has not landed: grade, but say so loudly
    sandbox = None  # type: ignore[assignment]


def default_limits() -> Any:
    """The sandbox's default Limits, or None while there is no sandbox module."""
    return sandbox.Limits() if sandbox is not None else None


def with_overrides(overrides: list[str]) -> Any:
    """The default Limits with NAME=VALUE overrides from the command line (e.g. cell_timeout=300)."""
    limits = default_limits()
    if not overrides:
        return limits
    if limits is None:
        raise SystemExit("--limit needs autograder/sandbox.py, which is missing")
    fields = {f.name: f for f in dataclasses.fields(limits)}
    changes = {}
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in fields or not value:
            raise SystemExit(f"--limit {item!r}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        changes[name] = type(getattr(limits, name))(value)
    return dataclasses.replace(limits, **changes)


def cell_timeout(limits: Any) -> int:
    """Per-cell wall-clock limit in seconds, read from the limits when they state one."""
    for name in ("cell_timeout", "cell_timeout_s", "timeout"):
        value = getattr(limits, name, None)
        if value:
            return int(value)
    return DEFAULT_CELL_TIMEOUT


def apply(config: Config, limits: Any, workdir: Path) -> None:
    """Hand one submission's autograde config to the sandbox before it runs."""
    if sandbox is None:
        warnings.warn("autograder.sandbox is missing: student code runs WITHOUT isolation or resource limits",
                      RuntimeWarning, stacklevel=2)
        return
    sandbox.apply(config, limits, workdir)


def findings(workdir: Path) -> list[tuple[str, str]] | None:
    """(status, reason) pairs the sandbox observed from the grader side (kernel died, killed, timed out); None
    without a sandbox, when the pipeline reads the executed notebooks instead."""
    return sandbox.findings(workdir) if sandbox is not None else None


def report(limits: Any) -> str:
    """What isolation student code gets on this machine, for the top of every grading run."""
    if sandbox is None:
        return "WARNING: NO SANDBOX - autograder/sandbox.py is missing: student code runs as you, unbounded"
    return sandbox.isolation_report(limits)

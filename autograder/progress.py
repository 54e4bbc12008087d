"""The grading progress bar: tqdm's, on stderr, with the last graded submission as its postfix."""
from __future__ import annotations

import sys
from typing import TextIO

from tqdm.auto import tqdm


class Progress:
    """``Progress(total).step(label)`` per finished submission; closes itself after the last one."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.total, self.done = total, 0
        self.bar = tqdm(total=total, desc="grading", unit="submission", file=stream, disable=not enabled,
                        dynamic_ncols=True)

    def step(self, label: str) -> None:
        """Count one finished submission and redraw."""
        self.done += 1
        self.bar.set_postfix_str(label, refresh=False)
        self.bar.update(1)
        if self.done >= self.total:
            self.bar.close()

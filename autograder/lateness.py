"""When a submission was handed in and whether it was late: from the LMS (Canvas marks a late file's download
name with LATE), from nbgrader's own timestamp.txt (its exchange writes one per submission), or from the file's
time against the due date the instructor gives. Recorded the way nbgrader records it: the submission's timestamp
(timestamp.txt, read by nbgrader's autograde) against the assignment's due date in the gradebook.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: nbgrader's timestamp.txt format (nbgrader.utils.parse_utc reads it back).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


def to_utc(moment: dt.datetime, zone: dt.tzinfo | None = None) -> dt.datetime:
    """A naive UTC datetime (nbgrader's convention); a naive input is taken to be in `zone` (UTC if None)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def parse_due(text: str) -> dt.datetime:
    """An ISO 8601 due date ("2026-11-30T23:59", "2026-11-30 23:59+01:00"; no offset means UTC), as aware UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--due {text!r} is not an ISO 8601 date and time, e.g. 2026-11-30T23:59 (UTC) or "
                         "2026-11-30T23:59-05:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def duration(seconds: float) -> str:
    """2 d 3 h 5 min, 3 h 0 min, 12 min, 40 s."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h {minutes} min"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def _clock(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Lateness:
    """What is known about when one submission came in (naive UTC datetimes, as nbgrader stores them)."""
    submitted_at: dt.datetime | None = None
    due: dt.datetime | None = None
    lms_marked_late: bool = False

    @property
    def seconds_late(self) -> float | None:
        """Seconds after the due date (0 when on time); None without both times."""
        if self.submitted_at is None or self.due is None:
            return None
        return max((self.submitted_at - self.due).total_seconds(), 0.0)

    @property
    def late(self) -> bool:
        return self.lms_marked_late or bool(self.seconds_late)

    def timestamp(self) -> str:
        """The handed-in time as nbgrader's timestamp.txt holds it ("" when unknown)."""
        return self.submitted_at.strftime(TIMESTAMP_FORMAT) if self.submitted_at else ""

    def iso(self) -> str:
        """The handed-in time in ISO 8601, UTC ("" when unknown): grades.csv's submitted_at."""
        return self.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.submitted_at else ""

    def describe(self) -> str:
        """For a person: "" when on time or unknown, else why it counts as late (grades.csv's late column)."""
        parts = [f"{duration(self.seconds_late)} after the due date {_clock(self.due)}" if self.seconds_late else "",
                 "the LMS marked the file LATE" if self.lms_marked_late else ""]
        return "; ".join(p for p in parts if p)

"""Helpers whose scenario runs where the student's code is: in the autograder, the student's kernel."""
from __future__ import annotations

import functools
from typing import Any, Callable

__all__ = ["with_student_code"]


def with_student_code(helper: Callable[..., Any]) -> Callable[..., Any]:
    """A helper whose scenario runs where the student's code is, returning data only.

    In a student's notebook it simply runs. In the autograder, test cells run in a separate verdict kernel where
    the student's functions and classes are stand-ins (objects with ``__lsbx_call__``); given one, the helper
    runs in the student's kernel with the real ones and only its result, as data, comes back to be compared.
    Use it for what cannot cross as data: autograd through a student's function, a student's class instantiated
    and stepped, a student's Keras callback inside ``fit``.
    """
    @functools.wraps(helper)
    def run(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            remote = getattr(type(value), "__lsbx_call__", None)
            if remote is not None:
                return remote(value, run, args, kwargs)
        return helper(*args, **kwargs)

    return run

"""Stubs that say what to write: `### BEGIN SOLUTION: <what to write>` in a source notebook becomes
`# YOUR CODE HERE` + `raise NotImplementedError("<what to write>")` in the release (nbgrader's own stub otherwise).

nbgrader's ClearSolutions has one code stub per language; this reads the message off the delimiter line, which
nbgrader matches with `in`, so the source runs and grades unchanged.
"""
from __future__ import annotations

import re

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearSolutions

_MESSAGE = re.compile(r"BEGIN SOLUTION:\s*(?P<text>\S.*?)\s*$")


class MessageStubs(ClearSolutions):
    """ClearSolutions whose code stub carries the message written after `BEGIN SOLUTION:`."""

    def _replace_solution_region(self, cell: NotebookNode, language: str) -> bool:
        if cell.cell_type != "code" or language != "python":
            return super()._replace_solution_region(cell, language)
        lines, out, inside, replaced = cell.source.split("\n"), [], False, False
        for line in lines:
            if self.begin_solution_delimeter in line:
                if inside:
                    raise RuntimeError("encountered nested begin solution statements")
                inside = replaced = True
                indent = re.match(r"\s*", line).group(0)
                found = _MESSAGE.search(line)
                stub = (f"# YOUR CODE HERE\nraise NotImplementedError({found.group('text')!r})" if found
                        else self.code_stub[language])
                out += [indent + s for s in stub.split("\n")]
            elif self.end_solution_delimeter in line:
                inside = False
            elif not inside:
                out.append(line)
        if inside:
            raise RuntimeError("no end solution statement found")
        cell.source = "\n".join(out)
        return replaced

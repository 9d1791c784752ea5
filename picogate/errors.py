"""The errors picogate raises on bad input.

Every error a user can cause is a `PicogateError` (a `ValueError`) whose `str()` is one
line that names where the fault is. The CLI prints that line and exits 2; nothing else
ever reaches the user as a traceback.
"""

from __future__ import annotations


class PicogateError(ValueError):
    """Base of every error caused by input: the gate could not run."""


class InputError(PicogateError):
    """Unreadable or malformed evidence (metrics tables, plans, data rows)."""


class RuleError(PicogateError):
    """An invalid rule file: names the file, the rule id, the line and the column.

    `detail` may hold a multi-line rendering (the faulty source line with a caret
    under the fault) for tools that can show it, such as `picogate rules check`.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        rule_id: str | None = None,
        line: int | None = None,
        column: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.rule_id = rule_id
        self.line = line
        self.column = column
        self.detail = detail
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        where = self.file or "<rules>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        rule = f" rule '{self.rule_id}':" if self.rule_id else ""
        return f"{where}:{rule} {self.reason}"

    def render(self) -> str:
        """The one-line message, then the caret rendering when there is one; each line escaped for a terminal."""
        from picogate.escape import text  # the source line may come from a pull request: keep it inert

        lines = [str(self), *(self.detail.splitlines() if self.detail else [])]
        return "\n".join(text(line) for line in lines)


def first_line(exc: BaseException) -> str:
    """The first line of a library's exception, at most 200 characters: picogate's own messages stay one line."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__

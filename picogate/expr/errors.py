"""Errors of the expression language, positioned inside the expression text."""

from __future__ import annotations

from picogate.errors import PicogateError


class ExprError(PicogateError):
    """A fault in an expression, at character offset `pos` of `text`.

    The rule loader turns it into a `RuleError` with file, rule id, line and column;
    `caret()` draws the faulty line with a caret under the fault, as jmespath does.
    """

    def __init__(self, message: str, text: str = "", pos: int = 0) -> None:
        self.reason = message
        self.text = text
        self.pos = max(0, min(pos, len(text)))
        super().__init__(f"{message} (column {self.column})")

    @property
    def line(self) -> int:
        """0-based line of the fault inside the expression (checks may span lines)."""
        return self.text.count("\n", 0, self.pos)

    @property
    def column(self) -> int:
        """1-based column of the fault on its line."""
        return self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1

    def caret(self) -> str:
        start = self.text.rfind("\n", 0, self.pos) + 1
        end = self.text.find("\n", self.pos)
        line = self.text[start : end if end != -1 else len(self.text)]
        if len(line) > 160:  # a huge one-line literal: show a window around the fault
            lo = max(0, self.pos - start - 60)
            line, offset = "…" + line[lo : lo + 120] + "…", self.pos - start - lo + 1
        else:
            offset = self.pos - start
        return f"  {line}\n  {' ' * offset}^"

"""One escaping helper set for every report format: what picogate did not write stays inert.

Run ids, string metrics, observed values, messages filled from data, fixes, file and case
names reach terminals, markdown, JUnit XML and GitHub workflow commands. Each format gets
one function here, and no report escapes on its own (DESIGN.md, "Output is inert"):

- `text`: terminals and plain text (used as data, never as rich markup);
- `md` / `md_code`: markdown (GitHub job summaries, pull-request comments);
- `xml`: JUnit attributes and text (ElementTree then escapes `<&>"`);
- `gh_data` / `gh_property`: GitHub workflow-command message and properties;
- `sarif_message`: SARIF message text (JSON escapes the rest).

All but the GitHub pair share `_one_line`: a datum stays on one line (newlines and every
other control character become a visible `\\n`, `\\x1b`, ...), so only picogate starts a
line; and `::` / `#[` get a word joiner (U+2060) between their characters, because GitHub
Actions runs any output line that starts with `::` (after leading blanks, and a wrapped
terminal line may start anywhere in a datum) or contains `##[` as a workflow command.
JSON needs nothing: `json.dumps` escapes and the value round-trips exactly.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"

# C0 except tab, DEL, C1, Unicode line/paragraph separators, bidi overrides and isolates (they
# reorder what a terminal shows), lone surrogates and the non-characters XML 1.0 forbids.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
_COMMAND = re.compile(r"(?<=:)(?=:)|(?<=#)(?=\[)")  # between the two characters of `::` and `#[`
_MD_PUNCT = re.compile(r"([\\`*_\[\]#|~$])")


def _visible(match: re.Match[str]) -> str:
    c = match.group()
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def _one_line(value: object) -> str:
    return _COMMAND.sub(WORD_JOINER, _CONTROL.sub(_visible, str(value)))


def text(value: object) -> str:
    """Data for a terminal or plain-text line: one line, control characters visible, no `::`.

    Rich output passes it as `rich.text.Text` (never as markup), so `[/]` or `[link=...]`
    in data print literally.

    >>> text("a\\n::error::x\\x1b[31m")
    'a\\\\n:\\u2060:error:\\u2060:x\\\\x1b[31m'
    """
    return _one_line(value)


def md(value: object) -> str:
    """Data for markdown text or a table cell: no heading, link, emphasis, code, HTML or cell break.

    Markdown punctuation is backslash-escaped, `<` and `&` become entities (`>` opens
    nothing in the middle of a line, and data never starts one).

    >>> md("<img src=x> | `a` # [b](c)")
    '&lt;img src=x> \\\\| \\\\`a\\\\` \\\\# \\\\[b\\\\](c)'
    """
    out = _MD_PUNCT.sub(r"\\\1", _one_line(value))
    return out.replace("&", "&amp;").replace("<", "&lt;")


_CODE_UNSAFE = re.compile("[`|<&\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
                          "\ufffe\uffff]|::|#\\[")


def md_code(value: object) -> str:
    """A code span when the datum can be one verbatim, else the `md` text of it.

    A code span shows its content literally, except that `|` still splits a table cell and a
    backtick ends it; anything that needs escaping is shown as escaped text instead.

    >>> md_code("run-7"), md_code("a`b")
    ('`run-7`', 'a\\\\`b')
    """
    s = str(value)
    if s and s.strip() == s and not _CODE_UNSAFE.search(s):
        return f"`{s}`"
    return md(s)


def xml(value: object) -> str:
    """Data for a JUnit attribute or text node: only characters XML 1.0 allows, on one line.

    >>> xml("a\\x00b\\nc")
    'a\\\\x00b\\\\nc'
    """
    return _one_line(value)


def gh_data(value: object) -> str:
    """The message of a GitHub workflow command: `%`, CR and LF percent-encoded (GitHub decodes them).

    >>> gh_data("50% done\\nnext")
    '50%25 done%0Anext'
    """
    encoded = str(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return _CONTROL.sub(_visible, encoded)


def gh_property(value: object) -> str:
    """A workflow-command property (`file=`, `title=`): also `:` and `,` percent-encoded.

    >>> gh_property("a:b,c")
    'a%3Ab%2Cc'
    """
    return gh_data(value).replace(":", "%3A").replace(",", "%2C")


def sarif_message(value: object) -> str:
    """SARIF message text: `{` and `}` doubled, as SARIF 2.1.0 (3.11.5) requires of every message string
    (a single brace would open a `{0}` placeholder); JSON escapes everything else.

    >>> sarif_message("{skill}: rate {observed}")
    '{{skill}}: rate {{observed}}'
    """
    return str(value).replace("{", "{{").replace("}", "}}")

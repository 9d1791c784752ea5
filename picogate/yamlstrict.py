"""Strict YAML for policy files: what you see is what picogate reads.

Built on PyYAML's event stream (not its constructor), so that:
- duplicate keys are an error (PyYAML silently keeps the last);
- anchors, aliases and `<<` merges are refused (no alias bombs, no hidden merges);
- explicit tags are refused (`!!python/object` never runs anything);
- nesting deeper than `MAX_DEPTH` is refused before any recursion can overflow;
- plain scalars follow YAML 1.2's core schema, not 1.1's surprises: `yes`/`no`/`on`/
  `off` are refused as ambiguous (quote them for text), `1e-4` is a float, `010` is
  refused (octal in 1.1), `.nan`/`.inf` are refused, `1:20` stays a string;
- every value remembers its line and column, for errors that point at the fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from picogate.errors import InputError, PicogateError
from picogate.io import read_bounded

# libyaml's parser when PyYAML was built with it (same events and marks, ~10x faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 32
_MAX_DIGITS = 400  # far beyond any exact number (2**53 has 16 digits); refused, never parsed
MAX_BYTES = 2_000_000

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_YAML11_BOOL = {"yes", "no", "on", "off", "y", "n"}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*(?:_[0-9]+)*)")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+")
_NONFINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)")
_OTHER_BASE = re.compile(r"[-+]?0[xXoObB][0-9a-fA-F_]+")
_NUMBER_STARTS = frozenset("+-.0123456789")  # how every pattern above starts

Path_ = tuple[str | int, ...]

_SCALAR, _ALIAS, _DOCUMENT_START = yaml.ScalarEvent, yaml.AliasEvent, yaml.DocumentStartEvent
_MAPPING_START, _MAPPING_END = yaml.MappingStartEvent, yaml.MappingEndEvent
_SEQUENCE_START, _SEQUENCE_END = yaml.SequenceStartEvent, yaml.SequenceEndEvent
_OTHER_EVENTS = (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)


class YAMLError(PicogateError):
    """A YAML file that picogate refuses; `str()` is `file:line:col: reason`."""

    def __init__(self, file: str, line: int | None, column: int | None, reason: str) -> None:
        self.file, self.line, self.column, self.reason = file, line, column, reason
        where = file + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{where}: {reason}")


@dataclass
class Document:
    """A loaded YAML document: plain Python data plus where each value came from."""

    data: Any
    file: str
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # path -> (line, col), 1-based
    styles: dict[Path_, str | None] = field(default_factory=dict)  # scalar path -> YAML style
    scalars: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # scalar path -> its own start
    lines: list[str] = field(default_factory=list)  # the source, for columns inside block scalars

    def where(self, path: Path_) -> tuple[int | None, int | None]:
        """Line and column of the value at `path`, or of its nearest parent that has one."""
        p = tuple(path)
        while p not in self.positions and p:
            p = p[:-1]
        return self.positions.get(p, (None, None))


def load_file(path: str | Path, what: str = "YAML", limit: int = MAX_BYTES) -> Document:
    """Read and strictly parse one YAML file of at most `limit` bytes.

    The size is checked with stat before reading, and only regular files are opened: a huge file,
    a FIFO (a read would block) or a device such as /dev/zero (a read never ends) is refused up front.
    """
    try:
        raw = read_bounded(path, limit, what)
    except InputError as exc:  # "PATH: reason" -> YAMLError(PATH, reason)
        raise YAMLError(str(path), None, None, str(exc).removeprefix(f"{path}: ")) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YAMLError(str(path), line, None, "file is not valid UTF-8") from None
    return load_text(text, str(path))


def load_text(text: str, file: str = "<string>") -> Document:
    """Strictly parse YAML text (one document)."""
    doc = Document(None, file, lines=text.splitlines())
    positions, styles, scalars = doc.positions, doc.styles, doc.scalars
    # the innermost open collection, in locals (this loop is most of a rule file's load time):
    container: Any = None  # its dict or list; None before the root
    cpath: Path_ = ()  # its path
    key: str | None = None  # in a mapping, the key read and awaiting its value
    is_map = False
    stack: list[tuple[Any, Path_, str | None, bool]] = []  # the enclosing collections, outermost first
    root_set = False
    documents = 0

    def fail(mark: Any, reason: str) -> YAMLError:
        if mark is None:
            return YAMLError(file, None, None, reason)
        return YAMLError(file, mark.line + 1, mark.column + 1, reason)

    try:
        for event in yaml.parse(text, Loader=_LOADER):
            kind = type(event)  # the parser makes these exact classes; identity tests are the hot loop's cost
            if kind is _SCALAR or kind is _MAPPING_START or kind is _SEQUENCE_START:
                mark = event.start_mark
                if event.anchor is not None:
                    raise fail(mark, "anchors (&name) are not allowed")
                tag = event.tag
                if tag is not None and (tag != "!" or kind is not _SCALAR):
                    raise fail(mark, f"tags such as '{tag}' are not allowed")
                where = (mark.line + 1, mark.column + 1)
                if is_map and key is None:  # this node is a key
                    if kind is not _SCALAR:
                        raise fail(mark, "mapping keys must be plain text")
                    key = event.value  # a key is text as written, never resolved to a number or bool
                    if key == "<<":
                        raise fail(mark, "'<<' merge keys are not allowed")
                    if key in container:
                        raise fail(mark, f"duplicate key '{key}'")
                    positions[(*cpath, key)] = where
                    continue
                if kind is _SCALAR:
                    style = event.style
                    # `! 1` is YAML's non-specific tag: the text "1", as a quoted scalar would be
                    value = event.value if (style or tag == "!") else _plain(event, fail)
                else:
                    if len(stack) >= MAX_DEPTH:
                        raise fail(mark, f"nesting deeper than {MAX_DEPTH} levels")
                    value = {} if kind is _MAPPING_START else []
                if container is None:
                    if root_set:
                        raise fail(mark, "only one YAML document is allowed")
                    doc.data, root_set, path = value, True, ()
                elif is_map:
                    path = (*cpath, key)
                    container[key] = value
                    key = None
                else:
                    path = (*cpath, len(container))
                    container.append(value)
                positions.setdefault(path, where)
                if kind is _SCALAR:
                    styles[path] = style
                    scalars[path] = where
                else:
                    stack.append((container, cpath, key, is_map))
                    container, cpath, key, is_map = value, path, None, kind is _MAPPING_START
            elif kind is _MAPPING_END or kind is _SEQUENCE_END:
                container, cpath, key, is_map = stack.pop()
            elif kind is _DOCUMENT_START:
                documents += 1
                if documents > 1:
                    raise fail(event.start_mark, "only one YAML document is allowed")
            elif kind is _ALIAS:
                raise fail(event.start_mark, "aliases (*name) are not allowed")
            elif kind not in _OTHER_EVENTS:  # a parser with event types this loop does not know: refuse
                raise fail(event.start_mark, f"unexpected YAML event {kind.__name__}")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        if "nesting depth" in reason:  # libyaml's own limit, hit before our event loop sees the depth
            raise fail(mark, f"nesting deeper than {MAX_DEPTH} levels") from None
        if "'\\t'" in reason or "tab" in reason.lower():
            reason += " (tabs are not allowed for indentation)"
        raise fail(mark, f"invalid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise YAMLError(file, None, None, f"invalid YAML: {exc}") from None
    return doc


def _plain(event: Any, fail: Any) -> Any:
    """Resolve a plain (unquoted) scalar with YAML 1.2 core rules, refusing 1.1 traps."""
    s: str = event.value
    if s in _NULL:
        return None
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    if s.lower() in _YAML11_BOOL:
        raise fail(event.start_mark, f"'{s}' is ambiguous (a boolean in YAML 1.1); write true/false, "
                                     f"or quote it if you mean the text")
    if s[0] not in _NUMBER_STARTS:  # most plain scalars are text: none of the number patterns below can match
        return s
    if _NONFINITE.fullmatch(s):
        raise fail(event.start_mark, f"'{s}' is not a finite number")
    if _LEADING_ZERO.fullmatch(s):
        raise fail(event.start_mark, f"'{s}' has a leading zero (octal in YAML 1.1); write it without, "
                                     f"or quote it if you mean the text")
    if _OTHER_BASE.fullmatch(s):
        raise fail(event.start_mark, f"'{s}': write numbers in decimal")
    if _INT.fullmatch(s):
        if len(s) > _MAX_DIGITS:  # int() of a huge digit string is slow, then refused by Python itself
            raise fail(event.start_mark, f"'{s[:12]}...' ({len(s)} characters) is too long for a number")
        return int(s.replace("_", ""))
    if _FLOAT.fullmatch(s) and any(c.isdigit() for c in s):
        value = float(s.replace("_", ""))
        if value in (float("inf"), float("-inf")):
            raise fail(event.start_mark, f"'{s}' is too large for a 64-bit float")
        if value == 0 and re.search(r"[1-9]", re.split(r"[eE]", s)[0]):
            raise fail(event.start_mark, f"'{s}' is too small for a 64-bit float (it would read as 0)")
        return value
    return s

"""Pratt parser of check expressions: tokens -> immutable AST.

Why our own lexer and Pratt parser rather than `ast.parse(mode="eval")` behind a
whitelist: the language differs from Python where it matters for policy (dotted
metric names are one name, `null` and three-valued logic, no chained comparisons,
no `**`), tokens keep exact positions for caret errors, and the bounds below are
enforced while parsing, so a 10,000-deep expression is refused with a clear message
instead of a RecursionError. Nothing here ever reaches Python evaluation.

Precedence, keywords and functions are tables in `picogate.expr.grammar` (binding power as in
jmespath's BINDING_POWER), read here, by the lexer, by the printer and by the checker.

Height: a left-associative chain (`x + 1 + 1 + ...`) is built in a loop, so the nesting bound does
not see it, but every later stage walks it as a tree of that height: the checker and the compiler
recurse once per level, and the compiler's error channel names every intermediate sum (the compiled
check grows with the square of the chain). So at most `MAX_HEIGHT` operators may stack, chains included;
`and`/`or` chains are one n-ary node and do not count per term (docs/expressions.md, "Bounds").
"""

from __future__ import annotations

from picogate.expr.errors import ExprError
from picogate.expr.grammar import COMPARE, INFIX, LITERALS, LOGIC, MEMBERSHIP, PREFIX
from picogate.expr.lexer import Token, tokenize
from picogate.expr.nodes import Binary, BoolOp, Call, ListLit, Literal, Name, Node, Param, Unary, children

_LEAVES = frozenset((Literal, Name, Param))

MAX_DEPTH = 48  # nesting of parentheses / operators
MAX_NODES = 2000  # AST nodes in one expression
MAX_LIST = 1000  # items in one list literal
MAX_HEIGHT = 64  # operators stacked on one another, chains included (`a + b + c` is two)

_KEYWORD_INFIX = tuple(op for op in INFIX if op.isalpha())  # and, or, in ('not in' is two tokens)


def parse(text: str) -> Node:
    """Parse one expression. Raises `ExprError` with the position of the fault.

    >>> parse("eval.math.pass_rate >= 0.3")
    Binary(op='>=', left=Name(name='eval.math.pass_rate', ...), right=Literal(value=0.3, ...), ...)
    """
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0
        self.heights: dict[int, int] = {}  # id(node) -> operators stacked in its subtree

    # -- token helpers
    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, pos: int) -> ExprError:
        return ExprError(message, self.text, pos)

    def expect(self, op: str) -> Token:
        tok = self.peek()
        if tok.kind == "OP" and tok.value == op:
            return self.advance()
        raise self.fail(f"expected '{op}' but found {_describe(tok)}", tok.pos)

    def count(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"expression has more than {MAX_NODES} parts; split the rule", node.pos)
        # Height in operators (a value is 0, `x + 1 + 1 > 0` is 3), chains included: see the module doc.
        # Most nodes are leaves, and this runs for every node: they skip `children`'s pattern match.
        heights = self.heights
        kids = () if type(node) in _LEAVES else children(node)
        height = 1 + max([heights.get(id(c), 0) for c in kids]) if kids else 0
        if height > MAX_HEIGHT:
            raise self.fail(f"expression nests more than {MAX_HEIGHT} operators deep (each link of a chain "
                            "such as a + b + c counts); split the rule", node.pos)
        heights[id(node)] = height
        return node

    # -- grammar
    def parse(self) -> Node:
        tok = self.peek()
        if tok.kind == "EOF":
            raise self.fail("empty expression", 0)
        node = self.expression(0)
        tok = self.peek()
        if tok.kind != "EOF":
            raise self.fail(f"unexpected {_describe(tok)} after a complete expression", tok.pos)
        return node

    def expression(self, min_bp: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"expression nests deeper than {MAX_DEPTH} levels", self.peek().pos)
        left = self.prefix()
        while True:
            op, tok = self.infix_operator()
            if op is None or INFIX[op] <= min_bp:
                break
            bp = INFIX[op]
            self.advance()
            if op == "not in":
                self.advance()
            if op in LOGIC:
                operands = [left, self.expression(bp)]
                while self.peek().kind == "KEYWORD" and self.peek().value == op:
                    self.advance()
                    operands.append(self.expression(bp))
                left = self.count(BoolOp(op, tuple(operands), left.pos, operands[-1].end))
                continue
            right = self.list_literal() if op in MEMBERSHIP else self.expression(bp)
            left = self.count(Binary(op, left, right, tok.pos, right.end))
            if bp == COMPARE:
                nxt, ntok = self.infix_operator()
                if nxt is not None and INFIX[nxt] == COMPARE:
                    raise self.fail("comparisons do not chain; write 'a < b and b < c'", ntok.pos)
        self.depth -= 1
        return left

    def infix_operator(self) -> tuple[str | None, Token]:
        tok = self.peek()
        if tok.kind == "OP" and tok.value in INFIX:
            return str(tok.value), tok
        if tok.kind == "KEYWORD" and tok.value in _KEYWORD_INFIX:
            return str(tok.value), tok
        if tok.kind == "KEYWORD" and tok.value == "not":
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "KEYWORD" and nxt.value == "in":
                return "not in", tok
        return None, tok

    def prefix(self) -> Node:
        tok = self.advance()
        if tok.kind == "NUMBER":
            return self.count(Literal(tok.value, tok.pos, tok.end))  # type: ignore[arg-type]
        if tok.kind == "STRING":
            return self.count(Literal(tok.value, tok.pos, tok.end))  # type: ignore[arg-type]
        if tok.kind == "KEYWORD":
            if tok.value in LITERALS:
                return self.count(Literal(LITERALS[str(tok.value)], tok.pos, tok.end))
            if tok.value == "not":
                operand = self.expression(PREFIX["not"])
                return self.count(Unary("not", operand, tok.pos, operand.end))
            raise self.fail(f"'{tok.value}' cannot start an expression", tok.pos)
        if tok.kind == "NAME":
            if self.peek().kind == "OP" and self.peek().value == "(":
                return self.call(tok)
            return self.count(Name(str(tok.value), tok.pos, tok.end))
        if tok.kind == "PARAM":
            return self.count(Param(str(tok.value), tok.pos, tok.end))
        if tok.kind == "OP":
            if tok.value == "(":
                inner = self.expression(0)
                self.expect(")")
                return inner
            if tok.value == "-":
                operand = self.expression(PREFIX["-"])
                if isinstance(operand, Literal) and isinstance(operand.value, int | float) \
                        and not isinstance(operand.value, bool):
                    return Literal(-operand.value, tok.pos, operand.end)  # fold '-3' into one literal
                return self.count(Unary("-", operand, tok.pos, operand.end))
            if tok.value == "[":
                raise self.fail("a list may only follow 'in' or 'not in'", tok.pos)
        if tok.kind == "EOF":
            raise self.fail("the expression ends where a value was expected", tok.pos)
        raise self.fail(f"unexpected {_describe(tok)}", tok.pos)

    def call(self, name_tok: Token) -> Node:
        self.expect("(")
        args: list[Node] = []
        if not (self.peek().kind == "OP" and self.peek().value == ")"):
            args.append(self.expression(0))
            while self.peek().kind == "OP" and self.peek().value == ",":
                self.advance()
                args.append(self.expression(0))
        close = self.expect(")")
        return self.count(Call(str(name_tok.value), tuple(args), name_tok.pos, close.end))

    def list_literal(self) -> Node:
        tok = self.peek()
        if not (tok.kind == "OP" and tok.value == "["):
            raise self.fail(f"'in' needs a list such as [1, 2], found {_describe(tok)}", tok.pos)
        self.advance()
        items: list[Literal] = []
        while not (self.peek().kind == "OP" and self.peek().value == "]"):
            item = self.prefix()
            if not isinstance(item, Literal):
                raise self.fail("list items must be literal values", item.pos)
            items.append(item)
            if len(items) > MAX_LIST:
                raise self.fail(f"list has more than {MAX_LIST} items", item.pos)
            if self.peek().kind == "OP" and self.peek().value == ",":
                self.advance()
            elif not (self.peek().kind == "OP" and self.peek().value == "]"):
                raise self.fail(f"expected ',' or ']' but found {_describe(self.peek())}", self.peek().pos)
        close = self.advance()
        return self.count(ListLit(tuple(items), tok.pos, close.end))


def _describe(tok: Token) -> str:
    if tok.kind == "EOF":
        return "the end of the expression"
    if tok.kind == "STRING":
        return "a string"
    if tok.kind == "NUMBER":
        return f"number {tok.value}"
    if tok.kind == "NAME":
        return f"name '{tok.value}'"
    return f"'{tok.value}'"

"""The small language of claims and computed answers: arithmetic on named quantities and numbers,
and one comparison. Parsed into a tree and evaluated by walking it: nothing is ever ``eval``-ed.

Grammar (whitespace between tokens is free)::

    claim      := sum COMPARE sum [ "within" NUMBER "%" | "within" "factor" NUMBER ]
    sum        := product (("+" | "-") product)*
    product    := atom (("*" | "×" | "/") atom)*
    atom       := NUMBER | QUANTITY [ "@" SLIDE ] | "(" sum ")" | "-" atom
    COMPARE    := "<" | "<=" | "≤" | ">" | ">=" | "≥" | "==" | "!=" | "≈"

``QUANTITY`` is a name of :data:`engine.lessons.QUANTITIES` (``sim.train_loss``), read on the
slide itself, or ``@N`` at the end of slide N (an earlier slide of the same lesson). ``≈``
needs a tolerance: ``within 20%`` (relative to the right side) or ``within factor 3``
(each side at most 3 times the other). ``==`` and ``!=`` compare exactly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Union

COMPARISONS: dict[str, str] = {"<": "<", "<=": "≤", "≤": "≤", ">": ">", ">=": "≥", "≥": "≥",
                               "==": "=", "!=": "≠", "≈": "≈"}
MAX_LENGTH = 400

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)
  | (?P<name>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)
  | (?P<word>[a-z]+)
  | (?P<compare><=|>=|==|!=|[<>≤≥≈])
  | (?P<op>[-+*/×÷−()@%])
""", re.VERBOSE)


@dataclass(frozen=True)
class Number:
    value: float
    text: str


@dataclass(frozen=True)
class Read:
    """A named quantity, here (``slide`` None) or at the end of slide ``slide`` (1-based)."""

    name: str
    slide: int | None = None


@dataclass(frozen=True)
class Apply:
    op: str            # + - * / or "neg"
    left: Expr
    right: Expr | None = None


Expr = Union[Number, Read, Apply]


@dataclass(frozen=True)
class Comparison:
    op: str            # one of COMPARISONS' values: < ≤ > ≥ = ≠ ≈
    left: Expr
    right: Expr
    within: float | None = None      # ≈: relative tolerance (0.2 for 20 %)
    factor: float | None = None      # ≈: each side at most this times the other


class ExpressionError(ValueError):
    """A claim or computed answer that cannot be read; the message says where and what is allowed."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"cannot read {text[pos:pos + 12]!r}: a claim is quantities, numbers, "
                                  "+ − × /, parentheses and one comparison (< ≤ > ≥ == != ≈)")
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group(0)
            if kind == "op":
                value = {"−": "-", "×": "*", "÷": "/"}.get(value, value)
            out.append((kind, value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, known: Callable[[str], str | None]) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.known = known

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExpressionError(f"{self.text!r} ends too early")
        self.i += 1
        return tok

    def accept(self, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[1] == value and tok[0] in ("op", "word", "compare"):
            self.i += 1
            return True
        return False

    def sum(self) -> Expr:
        left = self.product()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in "+-":
            self.i += 1
            left = Apply(tok[1], left, self.product())
        return left

    def product(self) -> Expr:
        left = self.atom()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in "*/":
            self.i += 1
            left = Apply(tok[1], left, self.atom())
        return left

    def atom(self) -> Expr:
        kind, value = self.take()
        if kind == "number":
            return Number(float(value.replace("_", "")), value)
        if kind == "name":
            problem = self.known(value)
            if problem:
                raise ExpressionError(problem)
            slide = None
            if self.accept("@"):
                k, v = self.take()
                if k != "number" or not v.isdigit() or int(v) < 1:
                    raise ExpressionError(f"{value}@{v}: after @ comes a slide number, e.g. {value}@4")
                slide = int(v)
            return Read(value, slide)
        if value == "(":
            inner = self.sum()
            if not self.accept(")"):
                raise ExpressionError(f"{self.text!r}: a '(' is never closed")
            return inner
        if value == "-":
            return Apply("neg", self.atom())
        if kind == "word":
            raise ExpressionError(f"{value!r} is not a quantity: quantities have a dot, e.g. sim.train_loss "
                                  "(mbsim lesson --quantities lists them)")
        raise ExpressionError(f"{self.text!r}: unexpected {value!r}")


def parse_expression(text: str, known: Callable[[str], str | None]) -> Expr:
    """A sum of quantities and numbers (a computed answer). ``known(name)`` returns why a
    quantity's name is refused, or None. Raises :class:`ExpressionError`."""
    _check_length(text)
    p = _Parser(text, known)
    expr = p.sum()
    if p.peek() is not None:
        raise ExpressionError(f"{text!r}: unexpected {p.peek()[1]!r} (a computed answer has no comparison)")
    return expr


def parse_claim(text: str, known: Callable[[str], str | None]) -> Comparison:
    """A comparison of two sums, with its tolerance for ≈. Raises :class:`ExpressionError`."""
    _check_length(text)
    p = _Parser(text, known)
    left = p.sum()
    tok = p.peek()
    if tok is None or tok[0] != "compare":
        raise ExpressionError(f"{text!r} compares nothing: write e.g. \"sim.train_loss < sim.train_loss@4\" "
                              "(< ≤ > ≥ == != ≈)")
    p.i += 1
    op = COMPARISONS[tok[1]]
    right = p.sum()
    within = factor = None
    if p.accept("within"):
        if p.accept("factor"):
            k, v = p.take()
            if k != "number" or float(v) <= 1:
                raise ExpressionError(f"{text!r}: 'within factor F' needs a number above 1, e.g. within factor 3")
            factor = float(v)
        else:
            k, v = p.take()
            if k != "number" or not p.accept("%"):
                raise ExpressionError(f"{text!r}: 'within' takes a percentage (within 20%) or a factor "
                                      "(within factor 3)")
            within = float(v) / 100.0
        if op != "≈":
            raise ExpressionError(f"{text!r}: a tolerance ('within ...') goes with ≈ only")
    elif op == "≈":
        raise ExpressionError(f"{text!r}: ≈ needs a tolerance: add 'within 20%' or 'within factor 3'")
    if p.peek() is not None:
        raise ExpressionError(f"{text!r}: unexpected {p.peek()[1]!r} after the comparison")
    return Comparison(op, left, right, within, factor)


def _check_length(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("is empty: write e.g. \"sim.train_loss < sim.train_loss@4\"")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"is {len(text):,} characters long; at most {MAX_LENGTH}")


def reads(node: Expr | Comparison) -> list[Read]:
    """Every quantity an expression or claim reads, in order."""
    if isinstance(node, Comparison):
        return reads(node.left) + reads(node.right)
    if isinstance(node, Read):
        return [node]
    if isinstance(node, Apply):
        return reads(node.left) + (reads(node.right) if node.right is not None else [])
    return []


def evaluate(node: Expr, value_of: Callable[[Read], Any]) -> float:
    """The number an expression stands for (a quantity that is not a number raises ValueError)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Read):
        v = value_of(node)
        if isinstance(v, (list, tuple)) and len(v) == 1:
            v = v[0]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{node.name} is not a number here ({v!r})")
        return float(v)
    a = evaluate(node.left, value_of)
    if node.op == "neg":
        return -a
    b = evaluate(node.right, value_of)  # type: ignore[arg-type]
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    return a / b if b != 0 else (math.copysign(math.inf, a) if a else math.nan)


def holds(claim: Comparison, left: float, right: float) -> bool:
    """Does the comparison hold for these two values? (NaN never holds.)"""
    if math.isnan(left) or math.isnan(right):
        return False
    op = claim.op
    if op == "<":
        return left < right
    if op == "≤":
        return left <= right
    if op == ">":
        return left > right
    if op == "≥":
        return left >= right
    if op == "=":
        return left == right
    if op == "≠":
        return left != right
    if claim.factor is not None:
        if left <= 0 or right <= 0:
            return False
        return max(left / right, right / left) <= claim.factor
    return abs(left - right) <= (claim.within or 0.0) * abs(right)


def render(node: Expr, label_of: Callable[[Read], str]) -> str:
    """The expression in words: quantities by their students' labels."""
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Read):
        return label_of(node)
    if node.op == "neg":
        return f"−{render(node.left, label_of)}"
    sym = {"+": " + ", "-": " − ", "*": " × ", "/": " / "}[node.op]
    left, right = render(node.left, label_of), render(node.right, label_of)  # type: ignore[arg-type]
    if isinstance(node.left, Read) and any(c in left for c in "/×+−"):
        left = f"({left})"
    if isinstance(node.right, Read) and any(c in right for c in "/×+−"):
        right = f"({right})"
    if isinstance(node.right, Apply) and node.right.op in "+-":
        right = f"({right})"
    if isinstance(node.left, Apply) and node.left.op in "+-" and node.op in "*/":
        left = f"({left})"
    return left + sym + right


def tolerance_text(claim: Comparison) -> str:
    """``within 20 %`` or ``within a factor of 3`` ("" for the other comparisons)."""
    if claim.factor is not None:
        return f" within a factor of {claim.factor:g}"
    if claim.within is not None:
        return f" within {claim.within * 100:g} %"
    return ""

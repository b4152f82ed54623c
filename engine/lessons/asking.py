"""Parsing a slide's ``[[question]]`` and ``[[claim]]`` tables, and checking what they refer to.

A question's ``answer`` is a named quantity, an expression on quantities (a number the engine
computes: ``"cloud.excess_loss@5 / cloud.excess_loss"``) or a comparison (answered yes/no, or by
``choices = ["if it holds", "if not"]``); ``accept`` lists more right answers, ``tolerance`` a
relative tolerance for numbers. A claim's ``that`` is a comparison (:mod:`.expressions`); ``why``
says in words what the prose claims. Every error names the line of the key at fault.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from ..errors import format_value
from .expressions import Comparison, ExpressionError, parse_claim, parse_expression, reads
from .model import CLAIM_KEYS, QUESTION_KEYS, Claim, LessonError, Question, Slide
from .quantities import QUANTITIES

#: Kinds of quantity an expression can compute with (a name or a list of samples is no number).
NUMERIC_KINDS = frozenset({"count", "number", "percent", "vector"})
MAX_ACCEPT = 20
COMPARISON_MARKS = ("<", ">", "=", "≈", "≤", "≥")


def _key_line(kl: dict[str, list[int]], key: str, after: int, default: int) -> int:
    """The first line at or after ``after`` where ``key = ...`` is written."""
    return next((n for n in kl.get(key, []) if n >= after), default)


def _known(name: str) -> str | None:
    """Why a quantity name cannot be used in an expression (None: it can)."""
    q = QUANTITIES.get(name)
    if q is None:
        close = difflib.get_close_matches(name, list(QUANTITIES), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else "see mbsim lesson --quantities"
        return f"{name!r}: unknown quantity; {hint}"
    if q.kind not in NUMERIC_KINDS:
        return f"{name!r} is not a number (it is {q.label}); it cannot be computed with"
    return None


def _tables(raw: Any, what: str, source: str, line: int) -> list[dict[str, Any]]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise LessonError(source, line, f"{what}: write each {what} as a [[{what}]] table")
    return raw


def _view_check(names: list[str], view: str | None, where: str) -> str | None:
    for name in names:
        src = QUANTITIES[name].source
        if src == "cloud" and view != "cloud":
            return f"{name} reads the noise cloud: it goes on a slide with view = \"cloud\" ({where})"
        if src == "lab" and view != "lab":
            return f"{name} reads the batch-size lab: it goes on a slide with view = \"lab\" ({where})"
    return None


def parse_questions(raw: Any, number: int, source: str, kl: dict[str, list[int]], block_line: int,
                    view: str | None) -> tuple[Question, ...]:
    """The slide's ``[[question]]`` tables (see the module docstring)."""
    heads = kl.get("[[question]]", [])
    out = []
    for n, q in enumerate(_tables(raw, "question", source, heads[0] if heads else block_line)):
        qline = heads[n] if n < len(heads) else block_line

        def at(key: str) -> int:
            return _key_line(kl, key, qline, qline)

        for key in q:
            if key not in QUESTION_KEYS:
                close = difflib.get_close_matches(key, list(QUESTION_KEYS), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(QUESTION_KEYS)}"
                raise LessonError(source, qline, f"unknown question key {key!r}: {hint}")
        ask, answer, explain = q.get("ask"), q.get("answer"), q.get("explain", "")
        if not isinstance(ask, str) or not ask.strip():
            raise LessonError(source, qline, "question: needs ask = \"the question\"")
        if answer is None:
            raise LessonError(source, qline, "question: needs answer = \"NAME\", a named quantity such as "
                                             "\"plan.total_steps\" (see mbsim lesson --quantities)")
        aline = at("answer")
        if not isinstance(answer, str):
            raise LessonError(source, aline, f"answer = {format_value(answer)}: an answer is the name of an engine "
                                             "quantity (e.g. \"plan.total_steps\"), never a number typed in")
        answer = answer.strip()
        expr = None
        if answer not in QUANTITIES:
            try:
                if any(m in answer for m in COMPARISON_MARKS):
                    expr = parse_claim(answer, _known)
                elif any(c in answer for c in "+-*/×−()@"):
                    expr = parse_expression(answer, _known)
            except ExpressionError as err:
                raise LessonError(source, aline, f"answer {err}") from None
            if expr is None:
                close = difflib.get_close_matches(answer, list(QUANTITIES), n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}?" if close else "see mbsim lesson --quantities"
                raise LessonError(source, aline, f"answer {answer!r}: unknown quantity; {hint}")
            if any(r.slide is not None and r.slide >= number for r in reads(expr)):
                raise LessonError(source, aline, f"answer {answer!r}: @N reads the end of an earlier slide "
                                                 f"(this is slide {number})")
        names = [answer] if expr is None else [r.name for r in reads(expr) if r.slide is None]
        problem = _view_check(names, view, "or read it with @N on a later slide")
        if problem:
            raise LessonError(source, aline, f"answer {problem}")
        if not isinstance(explain, str):
            raise LessonError(source, at("explain"), "explain = ...: must be text")
        accept = q.get("accept", [])
        if isinstance(accept, str):
            accept = [accept]
        if not isinstance(accept, list) or not all(isinstance(a, str) and a.strip() for a in accept) \
                or len(accept) > MAX_ACCEPT:
            raise LessonError(source, at("accept"), f"accept = {format_value(accept)}: must be a list of up to "
                                                    f"{MAX_ACCEPT} answers, e.g. [\"full batch\", \"GD\"]")
        tolerance = q.get("tolerance")
        if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                      or not math.isfinite(tolerance) or not 0 <= tolerance < 1):
            raise LessonError(source, at("tolerance"), f"tolerance = {format_value(tolerance)}: must be a "
                                                       "relative tolerance from 0 to below 1 (0.05 is 5 %)")
        choices = q.get("choices")
        if choices is not None:
            if not isinstance(expr, Comparison):
                raise LessonError(source, at("choices"), "choices = [...] goes with an answer that compares "
                                                         "(e.g. \"sim.train_loss < sim.train_loss@4\")")
            if not isinstance(choices, list) or len(choices) != 2 or not all(
                    isinstance(c, str) and c.strip() for c in choices) or choices[0].strip() == choices[1].strip():
                raise LessonError(source, at("choices"), "choices = [\"when it holds\", \"when it does not\"]: two "
                                                         "different answers")
            choices = (choices[0].strip(), choices[1].strip())
        out.append(Question(ask.strip(), answer, explain.strip(), aline, tuple(a.strip() for a in accept),
                            None if tolerance is None else float(tolerance), choices, expr, number))
    return tuple(out)


def parse_claims(raw: Any, number: int, source: str, kl: dict[str, list[int]], block_line: int,
                 view: str | None) -> tuple[Claim, ...]:
    """The slide's ``[[claim]]`` tables: ``that = "A < B"`` and an optional ``why``."""
    heads = kl.get("[[claim]]", [])
    out = []
    for n, c in enumerate(_tables(raw, "claim", source, heads[0] if heads else block_line)):
        cline = heads[n] if n < len(heads) else block_line
        for key in c:
            if key not in CLAIM_KEYS:
                close = difflib.get_close_matches(key, list(CLAIM_KEYS), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(CLAIM_KEYS)}"
                raise LessonError(source, cline, f"unknown claim key {key!r}: {hint}")
        that, why = c.get("that"), c.get("why", "")
        tline = _key_line(kl, "that", cline, cline)
        if not isinstance(that, str):
            raise LessonError(source, cline, "claim: needs that = \"A < B\", a comparison of engine quantities, "
                                             "e.g. \"sim.train_loss < sim.train_loss@4\"")
        try:
            expr = parse_claim(that, _known)
        except ExpressionError as err:
            raise LessonError(source, tline, f"claim {err}") from None
        if any(r.slide is not None and r.slide >= number for r in reads(expr)):
            raise LessonError(source, tline, f"claim {that!r}: @N reads the end of an earlier slide (this is "
                                             f"slide {number})")
        problem = _view_check([r.name for r in reads(expr) if r.slide is None], view, "or read it with @N")
        if problem:
            raise LessonError(source, tline, f"claim {problem}")
        if not isinstance(why, str):
            raise LessonError(source, _key_line(kl, "why", cline, cline), "why = ...: must be text")
        out.append(Claim(that.strip(), expr, tline, why.strip()))
    return tuple(out)


def check_references(slides: list[Slide], source: str) -> None:
    """Every ``quantity@N`` of a claim or answer reads slide N's own view: a ``cloud.*``
    quantity a slide with view = "cloud", a ``lab.*`` one a slide with view = "lab"."""
    for slide in slides:
        items = [(c.line, c.expr) for c in slide.claims] + [(q.line, q.expr) for q in slide.questions
                                                             if q.expr is not None]
        for line, expr in items:
            for r in reads(expr):
                if r.slide is None:
                    continue
                if r.slide > len(slides):
                    raise LessonError(source, line, f"{r.name}@{r.slide}: the lesson has {len(slides)} slides")
                problem = _view_check([r.name], slides[r.slide - 1].view, f"slide {r.slide} is not one")
                if problem:
                    raise LessonError(source, line, f"{r.name}@{r.slide}: {problem}")

"""Answers that teach: a question's answer with its working in the students' words, and the
judging of what a student typed.

* :func:`answer_of` — the value, its text ("40 batches", "57.5 %", "Mini-batch GD") and its
  working ("N / B = 200 / 5 = 40 batches per epoch"); never an engine key.
* :func:`judge` — right or wrong, and why: numbers with or without thousands separators (40000,
  40,000, 40 000), to the question's tolerance or to the digits typed; a fraction as a
  percentage where the screen shows one (accuracy: 0.575, 57.5, 57.5 %); the algorithm by any
  of its usual names; sample numbers counted from 0 (and said so when typed from 1); yes/no
  or the lesson's two choices for a comparison; the lesson's own ``accept = [...]``. A wrong
  answer gets the working without its result ("⌈N / B⌉ = ⌈1000 / 400⌉ = ⌈2.5⌉ = ?"), so the
  student can finish it; a right one a short confirmation (the revealed line shows the working).
* :func:`screen_forms` — every way the value could be written on a panel (what must stay hidden
  until the answer is revealed).

:func:`check_answer` is the older judge (a bare value), kept for callers of the old API.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .context import Context
from .expressions import Comparison, evaluate, render
from .quantities import DEFAULT_TOLERANCE, QUANTITIES, Quantity, format_quantity
from .words import number, signed

if TYPE_CHECKING:
    from ..simulation import Simulation
    from .model import Lesson, Question

YES = ("yes", "y", "true", "it does", "holds", "right", "correct", "ja", "oui", "sí", "si")
NO = ("no", "n", "false", "it does not", "does not", "doesn't", "not", "wrong", "nein", "non")


@dataclass(frozen=True)
class Answer:
    """A question's answer now: ``value`` (raw), ``text`` (for students), ``working`` (how it
    comes about, ending in the text). ``known`` is False when it cannot be read yet (``text``
    then says why, e.g. before the first batch)."""

    value: Any
    text: str
    working: str
    known: bool = True

    @property
    def line(self) -> str:
        """The one line a panel shows for a revealed answer: the working (it ends in the text)."""
        return self.working or self.text

    def with_explanation(self, explain: str) -> str:
        """:attr:`line`, then the question's ``explain`` as a sentence of its own."""
        if not explain:
            return self.line
        return f"{self.line}{'' if self.line.endswith(('.', '!', '?')) else '.'} {explain}"


@dataclass(frozen=True)
class Verdict:
    """What a typed answer gets: ``correct`` and a ``message`` ("✓ …" with the working, or "✗ …"
    with why and the working without its result). ``reveals``: the message shows the answer."""

    correct: bool
    message: str
    reveals: bool


# ------------------------------------------------------------------------------------------------
# the answer
def _context(question: Question, sim: Simulation, lesson: Lesson | None, context: Context | None) -> Context:
    if context is not None:
        return context
    if lesson is not None and 1 <= question.slide <= len(lesson.slides):
        from .player import context_of

        return context_of(lesson.slides[question.slide - 1], sim)
    return Context(sim)


def _refs(question: Question, lesson: Lesson | None) -> dict:
    if question.expr is None or lesson is None:
        return {}
    from .player import values_at

    return values_at(lesson)


def answer_of(question: Question, sim: Simulation, lesson: Lesson | None = None,
              context: Context | None = None) -> Answer:
    """The answer to ``question`` read now (see the module docstring). ``lesson`` gives the
    slide's cloud settings and the values of ``quantity@N``; ``context`` overrides the sources."""
    ctx = _context(question, sim, lesson, context)
    try:
        if question.expr is None:
            q = QUANTITIES[question.answer]
            source = ctx.source(q.source)
            value = q.read(source)
            if value is None:
                return Answer(None, f"not known here ({q.label} does not apply to this run)", "", False)
            return Answer(value, q.text(value, source), q.working(source, value))
        from .player import explain_comparison, label, resolver

        value_of = resolver(ctx, _refs(question, lesson))
        if isinstance(question.expr, Comparison):
            ok, text = explain_comparison(question.expr, value_of)
            said = (question.choices[0] if ok else question.choices[1]) if question.choices else ("yes" if ok else "no")
            return Answer(ok, said, f"{text} → {said}")
        value = evaluate(question.expr, value_of)
        shown = signed(value)
        numbers = _numbers(question, value_of)
        working = f"{render(question.expr, label)} = " + ("" if numbers == shown else f"{numbers} = ") + shown
        return Answer(value, shown, working)
    except (ValueError, ArithmeticError) as err:
        return Answer(None, f"not known yet ({err})", "", False)


def _numbers(question: Question, value_of: Any) -> str:
    """The expression with each quantity replaced by its value: "0.00136 / 0.000318"."""
    from .expressions import Read

    def as_number(r: Read) -> str:
        return signed(evaluate(r, value_of))

    return render(question.expr, as_number)


def _how(question: Question, sim: Simulation, lesson: Lesson | None, context: Context | None) -> str:
    """The working without its result: "⌈N / B⌉ = ⌈1000 / 400⌉ = ⌈2.5⌉ = ?"."""
    ctx = _context(question, sim, lesson, context)
    try:
        if question.expr is None:
            q = QUANTITIES[question.answer]
            source = ctx.source(q.source)
            w = q.work(source, q.read(source)) if q.work is not None else None
            if w is None:
                return f"{q.label} = ?"
            return f"{w.how}{w.joint}?"
        from .player import label

        if isinstance(question.expr, Comparison):
            c = question.expr
            return f"compare {render(c.left, label)} with {render(c.right, label)}"
        return f"{render(question.expr, label)} = ?"
    except (ValueError, ArithmeticError):
        return ""


# ------------------------------------------------------------------------------------------------
# reading what was typed
_THOUSANDS = re.compile(r"^[-+]?[1-9]\d{0,2}([,'’ \u202f\u00a0_])\d{3}(\1\d{3})*(\.\d+)?$")
_PLAIN = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_LEAD = re.compile(r"^(about|approx\.?|approximately|roughly|around|≈|~|=)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Typed:
    """A number as typed: its value, whether it had a % sign, and its decimals (for rounding)."""

    value: float
    percent: bool
    decimals: int | None       # digits after the decimal point (None with an exponent)
    significant: int


def read_number(text: str) -> Typed | None:
    """A number typed by a person (40000, 40,000, 40 000, 0,5, −0.5, 57.5 %, 1.3e-3, "40 batches")."""
    t = text.strip().replace("−", "-").replace("–", "-")
    t = _LEAD.sub("", t)
    t = re.sub(r"^[^\W\d][\w*]*\s*[=≈]\s*", "", t)       # "w = -0.5", "B_crit ≈ 30"
    pct = False
    m = re.match(r"^(.*?)\s*(%|percent|per cent)\s*$", t, re.IGNORECASE)
    if m:
        t, pct = m.group(1).strip(), True
    m = re.match(r"^([-+]?[\d.,'’ \u202f\u00a0_]*\d(?:[eE][-+]?\d+)?)\s*[A-Za-z][A-Za-z -]*$", t)
    if m:                                    # "40 batches", "200 samples"
        t = m.group(1).strip()
    if _THOUSANDS.match(t):
        t = re.sub(r"[,'’ \u202f\u00a0_]", "", t)
    elif re.match(r"^[-+]?\d+,\d+$", t):     # a decimal comma: 0,5
        t = t.replace(",", ".")
    t = t.replace("_", "")
    if not _PLAIN.match(t):
        return None
    mantissa = re.split(r"[eE]", t)[0].lstrip("+-")
    decimals = None if re.search(r"[eE]", t) else (len(mantissa.split(".")[1]) if "." in mantissa else 0)
    digits = mantissa.replace(".", "").lstrip("0")
    return Typed(float(t), pct, decimals, max(1, len(digits)))


def _close(typed: Typed, value: float, tolerance: float | None) -> bool:
    """Within ``tolerance`` (relative), or, without one, within the default tolerance or equal
    to the value rounded to the digits typed (at least two significant digits)."""
    got = typed.value
    if not math.isfinite(value):
        return got == value
    if tolerance is not None:
        return abs(got - value) <= tolerance * abs(value) or got == value
    if abs(got - value) <= DEFAULT_TOLERANCE * abs(value):
        return True
    if typed.decimals is not None and typed.significant >= 2:
        return abs(round(value, typed.decimals) - got) <= 1e-9 * max(1.0, abs(got))
    return False


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-.,;:!?()\"'’]+", " ", text.strip().lower()).strip()


def _judge_value(q: Quantity | None, value: Any, typed: str, tolerance: float | None) -> tuple[bool, str]:
    """(right, why it is wrong) for a typed answer against a value of quantity kind ``q.kind``."""
    kind = q.kind if q is not None else "number"
    if kind == "name":
        names = q.names(None) if q is not None and q.names is not None else {}
        said = _norm(typed)
        if said == _norm(str(value)) or said in {_norm(a) for a in names.get(str(value), ())}:
            return True, ""
        for other, aliases in names.items():
            if other != value and said in {_norm(a) for a in (other,) + aliases}:
                return False, f"{typed.strip()} is {other}, another algorithm."
        return False, ""
    if kind in ("list", "indices") or (kind == "vector" and isinstance(value, (list, tuple)) and len(value) > 1):
        items = list(value)
        if len(items) == 1 and kind != "indices":
            return _judge_value(Quantity("", "", lambda s: None, "", kind="number"), items[0], typed, tolerance)
        plain = re.sub(r"[^\W\d][\w*]*\s*[=≈]\s*", " ", _strip_sample(typed)).replace("−", "-")
        parts = [p for p in re.split(r"[,;\s()]+", plain) if p]
        if len(parts) != len(items):
            return False, f"there are {len(items)} values to give, not {len(parts)}."
        sub = Quantity("", "", lambda s: None, "", kind="count" if kind == "indices" else "number")
        ok = all(_judge_value(sub, v, p, tolerance)[0] for p, v in zip(parts, items))
        if not ok and kind == "indices":
            shifted = all(_judge_value(sub, v + 1, p, 0.0)[0] for p, v in zip(parts, items))
            if shifted:
                return False, "samples are numbered from 0 here (the first sample is sample 0)."
        return ok, ""
    if isinstance(value, (list, tuple)):
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _norm(typed) == _norm(str(value)), ""
    t = read_number(typed)
    if t is None:
        return False, "that is not a number."
    v = float(value)
    if kind == "percent":
        fraction = Typed(t.value / 100.0, True, None if t.decimals is None else t.decimals + 2, t.significant) \
            if (t.percent or t.value > 1.0) else t
        return _close(fraction, v, tolerance), ""
    if kind == "count" and tolerance is None:
        return t.value == v and not t.percent, ""
    return _close(t, v, tolerance), ""


def _strip_sample(typed: str) -> str:
    """"sample 2", "#2", "samples 3, 17", "2 (numbered from 0)" → the numbers alone."""
    t = re.sub(r"\(.*?\)", " ", typed)
    t = re.sub(r"(?i)\b(samples?|no\.?|number|index|and)\b", " ", t).replace("#", " ")
    return t.strip()


def _diagnose(question: Question, typed: str, value: Any, sim: Simulation) -> str:
    """A likely slip, named: the short last batch forgotten, drop_last forgotten, steps counted
    as iterations."""
    t = read_number(typed)
    if t is None or question.expr is not None:
        return ""
    p = sim.plan
    name = question.answer
    if name == "plan.batches_per_pass" and p.n_samples % p.batch_size:
        if not p.drop_last and t.value == p.n_samples // p.batch_size:
            return "The last, short batch counts too. "
        if p.drop_last and t.value == -(-p.n_samples // p.batch_size):
            return "drop_last drops the short batch. "
    if name in ("plan.steps_per_epoch", "sim.step", "plan.total_steps") and p.accumulate > 1:
        if t.value in (p.iterations_per_epoch, sim.iteration, p.total_iterations):
            return f"That counts iterations; a step takes K = {p.accumulate} of them. "
    if name == "plan.total_steps" and t.value == p.steps_per_epoch_count * p.epochs and p.uneven_epochs:
        return "Not every epoch is full here. "
    return ""


def judge(question: Question, typed: str, sim: Simulation, lesson: Lesson | None = None,
          context: Context | None = None) -> Verdict:
    """Is ``typed`` a right answer to ``question`` now? (see the module docstring)"""
    shown = typed.strip() if typed.isprintable() else repr(typed.strip())
    answer = answer_of(question, sim, lesson, context)
    if not answer.known:
        return Verdict(False, f"The answer is {answer.text}.", False)
    said = _norm(typed)
    right = bool(said) and said in {_norm(a) for a in question.accept}
    why = ""
    if not right:
        if isinstance(question.expr, Comparison):
            words = [_norm(c) for c in question.choices] if question.choices else None
            if words:
                starts = [w for w in words if len(said) >= 3 and w.startswith(said)]
                if said not in words and len(starts) == 1:   # "closer" for "closer to 1"
                    said = starts[0]
                right = said == _norm(answer.text)
                if not right and said not in words:
                    why = f"answer {question.choices[0]!r} or {question.choices[1]!r}. "
            else:
                yes = said in YES
                right = (yes and answer.value is True) or (said in NO and answer.value is False)
                if not right and not yes and said not in NO:
                    why = "answer yes or no. "
        else:
            q = QUANTITIES.get(question.answer) if question.expr is None else None
            tolerance = question.tolerance
            right, why = _judge_value(q, answer.value, typed, tolerance)
            if why:
                why += " "
            if not right and not why:
                why = _diagnose(question, typed, answer.value, sim)
    if right:
        return Verdict(True, f"✓ {shown}: right.", True)
    how = _how(question, sim, lesson, context)
    return Verdict(False, f"✗ not {shown}. {_capital(why)}{_capital(how)}".rstrip(), False)


def _capital(text: str) -> str:
    """A sentence's first letter in capitals when it starts with a word ("the mean loss" → "The
    mean loss", "a pass is" → "A pass is"), never a symbol (c, wᵢ, w*, θ_new, tr Cov[ĝ], cos
    keep their case)."""
    first = text.split(" ", 1)[0] if text else ""
    word = first == "a" or (len(first) >= 2 and first.isascii() and first.isalpha() and first.islower()
                            and first not in _SYMBOL_WORDS)
    return text[0].upper() + text[1:] if word else text


_SYMBOL_WORDS = frozenset({"tr", "cos", "sin", "log", "ln", "exp", "min", "max"})


# ------------------------------------------------------------------------------------------------
# what must stay hidden
def question_quantities(question: Question) -> list[str]:
    """The quantities a question reads on its own slide (the answer's name, or every quantity of
    a computed or comparison answer read without @N): what a panel must mask while it is open."""
    if question.expr is None:
        return [question.answer]
    from .expressions import reads

    return list(dict.fromkeys(r.name for r in reads(question.expr) if r.slide is None))


def _number_forms(v: float) -> list[str]:
    if isinstance(v, bool):
        return []
    if float(v) == int(v) and abs(v) < 1e15:
        n = int(v)
        return list(dict.fromkeys([f"{n:,}", str(n)]))
    forms = [number(v)]
    for spec in (".3g", ".4g", ".5g", ".6g", ".3f", ".4f"):
        s = format(float(v), spec)
        if len(s.lstrip("-0.").replace(".", "")) >= 3:
            forms.append(s)
    return list(dict.fromkeys(forms))


def screen_forms(question: Question, sim: Simulation, lesson: Lesson | None = None,
                 context: Context | None = None) -> list[str]:
    """Every way the answer could be written on a panel (empty when it is not known, or is a
    yes/no or a choice no panel shows)."""
    answer = answer_of(question, sim, lesson, context)
    if not answer.known or isinstance(question.expr, Comparison):
        return []
    value = answer.value
    q = QUANTITIES.get(question.answer) if question.expr is None else None
    kind = q.kind if q is not None else "number"
    forms: list[str] = [answer.text]
    if kind == "name":
        forms.append(str(value))
    elif kind == "percent":
        p = 100.0 * float(value)
        forms += [f"{p:.1f} %", f"{p:.1f}%", f"{p:.3g}%", f"{p:.3g} %"] + _number_forms(float(value))
    elif isinstance(value, (list, tuple)):
        if len(value) == 1:
            forms += _number_forms(value[0])
        else:
            forms.append(format_quantity(value))
            forms.append(", ".join(str(v) for v in value))
    elif isinstance(value, (int, float)):
        forms += _number_forms(value)
    return [f for f in dict.fromkeys(forms) if f]


# ------------------------------------------------------------------------------------------------
def check_answer(typed: str, value: Any) -> bool:
    """The older judge: does ``typed`` match a bare value (numbers to 0.5 % or to the digits
    typed, whole numbers exactly, lists item by item, names ignoring case and spaces)."""
    kind = "name" if isinstance(value, str) else "number"
    if isinstance(value, (list, tuple)) and len(value) > 1:
        kind = "list"
    elif isinstance(value, int) and not isinstance(value, bool):
        kind = "count"
    q = Quantity("", "", lambda s: None, "", kind=kind)
    if kind == "name":
        return _norm(typed).replace(" ", "") == _norm(value).replace(" ", "")
    return _judge_value(q, value, typed, None)[0]

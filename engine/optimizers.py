"""Optimizers as pure ``init``/``update`` pairs on flat float64 parameter vectors (optax style).

Every optimizer follows the update rule that PyTorch documents for ``torch.optim.X`` (see
SCIENCE.md §6); symbols as there: γ learning rate, λ weight decay, g_t the gradient of the loss
at θ_{t−1}, t the number of optimizer **steps** (one accumulated gradient per step, never one
per micro-batch).

* ``init(params)`` returns the state before the first step: plain data, ``{"t": 0, ...arrays}``
  with the array names PyTorch uses (``momentum_buffer``, ``square_avg``, ``sum``, ``exp_avg``,
  ``exp_avg_sq``).
* ``update(grad, state, params, lr)`` returns ``(new_params, new_state)``. It is **pure**: it
  never writes into ``grad``, ``params`` or the arrays of ``state``, and the new state shares no
  array with ``grad``. The simulation keeps old states to step back, so this matters.

``update`` is on the hot path (once per optimizer step, with a handful of parameters), so it
does no validation: the constructor validates every hyperparameter once and picks a specialised
step function, which ``update`` calls. ``grad`` and ``params`` must be float64 arrays of equal
shape; ``lr`` is the step's learning rate (from :mod:`engine.schedules`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from mbsim.engine.errors import ScenarioError

from mbsim.engine.names import OPTIMIZERS  # noqa: E402  (the one list of names)

State = dict[str, "np.ndarray | int"]
"""Optimizer state: ``{"t": steps taken so far}`` plus the optimizer's arrays (never mutated)."""

StepFn = Callable[[np.ndarray, State, np.ndarray, float], tuple[np.ndarray, State]]

_SGD_FAMILY = ("sgd", "momentum", "nesterov")
_DEFAULT_MOMENTUM = {"sgd": 0.0, "momentum": 0.9, "nesterov": 0.9}
_DEFAULT_EPS = {"rmsprop": 1e-8, "adagrad": 1e-10, "adam": 1e-8, "adamw": 1e-8}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_name(name: Any) -> str:
    """Return the canonical (lower-case) optimizer name, or raise naming the closest one."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key in OPTIMIZERS:
        return key
    allowed = ", ".join(OPTIMIZERS)
    close = difflib.get_close_matches(key, OPTIMIZERS, n=1) if isinstance(key, str) else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ScenarioError("optimizer", name, f"unknown optimizer; {hint}choose one of {allowed}")


def _check_range(setting: str, value: Any, lo: float, hi: float, *, lo_open: bool, hi_open: bool) -> float:
    """Check ``value`` is a number in the interval and return it as a float (NaN never passes)."""
    text = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if not _is_number(value):
        raise ScenarioError(setting, value, f"must be a number in {text}")
    x = float(value)
    above = x > lo if lo_open else x >= lo
    below = x < hi if hi_open else x <= hi
    if not (above and below):
        raise ScenarioError(setting, value, f"must be in {text}")
    return x


def _check_nonneg(setting: str, value: Any) -> float:
    """Check ``value`` is a finite number ≥ 0 and return it as a float."""
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ScenarioError(setting, value, "must be a finite number >= 0")
    return float(value)


@dataclass(frozen=True)
class UpdateTerms:
    """One step written out with its numbers (for the phase view and the detail line).

    ``formula`` is the rule in SCIENCE.md §6's symbols (ĝ the step's gradient); ``terms`` the
    named intermediate vectors in the order the rule computes them; ``delta`` = θ_new − θ_old
    as :meth:`Optimizer.update` computes it; ``step_size`` the effective per-parameter step
    γ/(√v̂ + ε) (Adam), γ/(√v + ε) (RMSprop), γ̃/(√s + ε) (Adagrad), None for the SGD family;
    ``velocity`` the momentum buffer b_t after the step (SGD momentum/Nesterov), else None.
    """

    formula: str
    terms: tuple[tuple[str, np.ndarray], ...]
    delta: np.ndarray
    step_size: np.ndarray | None = None
    velocity: np.ndarray | None = None


@dataclass(frozen=True)
class Optimizer:
    """One optimizer and its hyperparameters (immutable; the learning rate is passed per step).

    ``momentum`` and ``eps`` left as ``None`` take the default for ``name``: momentum 0 for
    ``sgd`` and 0.9 for ``momentum``/``nesterov``; eps 1e-10 for ``adagrad`` and 1e-8 for the
    others (the ``torch.optim`` defaults). ``weight_decay`` defaults to 0 for every optimizer,
    including AdamW (whose ``torch.optim`` default is 0.01): the caller decides.

    Fields used by each optimizer (the others are ignored):

    * sgd / momentum / nesterov: ``momentum`` (μ), ``dampening`` (τ), ``weight_decay`` (λ);
      ``nesterov`` is ``torch.optim.SGD(nesterov=True)`` and needs μ > 0 and τ = 0.
    * rmsprop: ``alpha``, ``eps``, ``weight_decay``.
    * adagrad: ``lr_decay``, ``initial_accumulator``, ``eps``, ``weight_decay``.
    * adam / adamw: ``betas``, ``eps``, ``weight_decay`` (added to the gradient for Adam,
      decoupled for AdamW).
    """

    name: str
    momentum: float | None = None
    weight_decay: float = 0.0
    dampening: float = 0.0
    alpha: float = 0.99
    eps: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    lr_decay: float = 0.0
    initial_accumulator: float = 0.0
    _step: StepFn = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = _check_name(self.name)
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "weight_decay", _check_nonneg("weight_decay", self.weight_decay))
        if name in _SGD_FAMILY:
            momentum = _DEFAULT_MOMENTUM[name] if self.momentum is None else self.momentum
            set_(self, "momentum", _check_range("momentum", momentum, 0, 1, lo_open=False, hi_open=True))
            set_(self, "dampening", _check_range("dampening", self.dampening, 0, 1, lo_open=False, hi_open=False))
            if name == "nesterov" and self.momentum == 0:
                raise ScenarioError("momentum", momentum, "nesterov needs a momentum in (0, 1)")
            if name == "nesterov" and self.dampening != 0:
                raise ScenarioError("dampening", self.dampening, "nesterov needs dampening 0")
        else:
            if self.momentum not in (None, 0):
                raise ScenarioError(
                    "momentum", self.momentum,
                    f"only sgd, momentum and nesterov use a momentum; {name} has none",
                )
            set_(self, "momentum", 0.0)
        eps = _DEFAULT_EPS.get(name, 1e-8) if self.eps is None else self.eps
        if not _is_number(eps) or not (0 <= eps < math.inf):
            raise ScenarioError("eps", eps, "must be a finite number >= 0")
        set_(self, "eps", float(eps))
        set_(self, "alpha", _check_range("alpha", self.alpha, 0, 1, lo_open=False, hi_open=False))
        if not (isinstance(self.betas, (tuple, list)) and len(self.betas) == 2):
            raise ScenarioError("betas", self.betas, "must be two numbers in [0, 1)")
        b1 = _check_range("betas", self.betas[0], 0, 1, lo_open=False, hi_open=True)
        b2 = _check_range("betas", self.betas[1], 0, 1, lo_open=False, hi_open=True)
        set_(self, "betas", (b1, b2))
        set_(self, "lr_decay", _check_nonneg("lr_decay", self.lr_decay))
        set_(self, "initial_accumulator", _check_nonneg("initial_accumulator", self.initial_accumulator))
        set_(self, "_step", self._build_step())

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The step function is a closure (not picklable); rebuild it from the fields.
        return (type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init))

    # ----------------------------------------------------------------- public API
    def init(self, params: np.ndarray) -> State:
        """The state before the first step: ``t = 0`` and zero buffers shaped like ``params``.

        Adagrad's ``sum`` starts at ``initial_accumulator`` (s_0 = τ in SCIENCE.md §6).
        """
        zeros = np.zeros_like(params, dtype=np.float64)
        if self.name in _SGD_FAMILY:
            return {"t": 0, "momentum_buffer": zeros} if self.momentum > 0 else {"t": 0}
        if self.name == "rmsprop":
            return {"t": 0, "square_avg": zeros}
        if self.name == "adagrad":
            return {"t": 0, "sum": np.full_like(zeros, self.initial_accumulator)}
        return {"t": 0, "exp_avg": zeros, "exp_avg_sq": zeros.copy()}

    def update(self, grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> tuple[np.ndarray, State]:
        """Take one optimizer step with learning rate ``lr``: return ``(new_params, new_state)``.

        Pure: ``grad``, ``params`` and ``state`` (and its arrays) are left untouched, so calling
        it twice with the same arguments gives the same result. The rule for each optimizer is
        in the docstring of its step function below (``_sgd``, ``_rmsprop``, ...).
        """
        return self._step(grad, state, params, lr)

    @property
    def step_function(self) -> StepFn:
        """The pure function :meth:`update` calls, ``(grad, state, params, lr) → (new_params,
        new_state)``: the simulation's step loop calls it directly (one Python call less)."""
        return self._step

    def explain(self, grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> UpdateTerms:
        """The step :meth:`update` takes from ``state``, written out: formula, intermediate
        values (read from the new state), the update Δθ and, for the adaptive optimizers, the
        effective per-parameter step size. Pure, like :meth:`update`.
        """
        new, st = self.update(grad, state, params, lr)
        delta = new - params
        name, wd, eps = self.name, self.weight_decay, self.eps
        g_name = "g = ĝ + λθ_old" if wd and name != "adamw" else ""
        g = grad + wd * params if (wd and name != "adamw") else grad
        terms: list[tuple[str, np.ndarray]] = [(g_name, g)] if g_name else []
        pre = (g_name + ";  ") if g_name else ""
        gs = "g" if g_name else "ĝ"
        if name in _SGD_FAMILY:
            if self.momentum == 0:
                return UpdateTerms(f"{pre}θ_new = θ_old − lr·{gs}", tuple(terms), delta)
            buf = st["momentum_buffer"]
            mu = f"{self.momentum:g}"
            damp = f"(1−{self.dampening:g})·" if self.dampening else ""
            first = state["t"] == 0
            rule = f"b = {gs} (first step)" if first else f"b = {mu}·b_old + {damp}{gs}"
            if name == "nesterov":
                formula = f"{pre}{rule};  θ_new = θ_old − lr·({gs} + {mu}·b)"
            else:
                formula = f"{pre}{rule};  θ_new = θ_old − lr·b"
            if not first:
                terms.append(("b_old", state["momentum_buffer"]))
            terms.append(("b velocity", buf))
            return UpdateTerms(formula, tuple(terms), delta, velocity=buf)
        if name == "rmsprop":
            v = st["square_avg"]
            step = lr / (np.sqrt(v) + eps)
            formula = f"{pre}v = {self.alpha:g}·v_old + {1 - self.alpha:.2g}·{gs}²;  θ_new = θ_old − lr·{gs}/(√v + ε)"
            terms += [("v", v), ("lr/(√v+ε)", step)]
            return UpdateTerms(formula, tuple(terms), delta, step_size=step)
        if name == "adagrad":
            t = st["t"]
            clr = lr / (1 + (t - 1) * self.lr_decay) if self.lr_decay else lr
            s_ = st["sum"]
            step = clr / (np.sqrt(s_) + eps)
            formula = f"{pre}s = s_old + {gs}²;  θ_new = θ_old − lr·{gs}/(√s + ε)"
            terms += [("s", s_), ("lr/(√s+ε)", step)]
            return UpdateTerms(formula, tuple(terms), delta, step_size=step)
        t = st["t"]
        b1, b2 = self.betas
        m_hat = st["exp_avg"] / (1.0 - b1**t)
        v_hat = st["exp_avg_sq"] / (1.0 - b2**t)
        step = lr / (np.sqrt(v_hat) + eps)
        shrink = "θ_old ← θ_old·(1 − lr·λ);  " if (name == "adamw" and wd) else ""
        formula = (f"{pre}{shrink}m = {b1:g}·m + {1 - b1:.2g}·{gs}, v = {b2:g}·v + {1 - b2:.2g}·{gs}²;  "
                   f"m̂ = m/(1−{b1:g}^{t}), v̂ = v/(1−{b2:g}^{t});  θ_new = θ_old − lr·m̂/(√v̂ + ε)")
        terms += [("m̂", m_hat), ("v̂", v_hat), ("lr/(√v̂+ε)", step)]
        return UpdateTerms(formula, tuple(terms), delta, step_size=step)

    def describe(self) -> str:
        """A short label for the UI: "SGD", "SGD momentum 0.9", "Nesterov 0.9", "AdamW wd 0.01"."""
        name = self.name
        if name in _SGD_FAMILY:
            if name == "nesterov":
                label = f"Nesterov {self.momentum:g}"
            elif self.momentum > 0:
                label = f"SGD momentum {self.momentum:g}"
            else:
                label = "SGD"
            if self.dampening:
                label += f" dampening {self.dampening:g}"
        else:
            label = {"rmsprop": "RMSprop", "adagrad": "Adagrad", "adam": "Adam", "adamw": "AdamW"}[name]
            if name == "adagrad" and self.lr_decay:
                label += f" lr_decay {self.lr_decay:g}"
        if self.weight_decay:
            label += f" wd {self.weight_decay:g}"
        return label

    # ------------------------------------------------------ specialised step functions
    def _build_step(self) -> StepFn:
        """Pick the step function for this optimizer, with its constants bound as locals."""
        name, wd, eps = self.name, self.weight_decay, self.eps
        if name in _SGD_FAMILY:
            return _sgd(self.momentum, self.dampening, wd, name == "nesterov")
        if name == "rmsprop":
            return _rmsprop(self.alpha, eps, wd)
        if name == "adagrad":
            return _adagrad(self.lr_decay, eps, wd)
        return _adam(self.betas[0], self.betas[1], eps, wd, decoupled=name == "adamw")


def _sgd(mu: float, dampening: float, wd: float, nesterov: bool) -> StepFn:
    """``torch.optim.SGD`` (PyTorch docs), one step:

    g ← g + λθ_{t−1} (if λ ≠ 0);
    if μ ≠ 0: b_1 = g (no dampening on the first step), b_t = μ b_{t−1} + (1 − τ) g;
              nesterov: g ← g + μ b_t, else g ← b_t;
    θ_t = θ_{t−1} − γ g.
    """
    if mu == 0:
        if wd == 0:
            def plain(grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> tuple[np.ndarray, State]:
                return params - lr * grad, {"t": state["t"] + 1}
            return plain

        def decayed(grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> tuple[np.ndarray, State]:
            return params - lr * (grad + wd * params), {"t": state["t"] + 1}
        return decayed

    keep = 1.0 - dampening

    def momentum(grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> tuple[np.ndarray, State]:
        t = state["t"]
        g = grad + wd * params if wd else grad
        if t == 0:
            buf = g.copy()                      # b_1 = g_1: a copy, never the caller's array
        elif keep == 1.0:
            buf = mu * state["momentum_buffer"] + g
        else:
            buf = mu * state["momentum_buffer"] + keep * g
        d = g + mu * buf if nesterov else buf
        return params - lr * d, {"t": t + 1, "momentum_buffer": buf}
    return momentum


def _rmsprop(alpha: float, eps: float, wd: float) -> StepFn:
    """``torch.optim.RMSprop`` (PyTorch docs; no momentum, not centered), one step:

    g ← g + λθ_{t−1} (if λ ≠ 0); v_t = α v_{t−1} + (1 − α) g² (v_0 = 0, no bias correction);
    θ_t = θ_{t−1} − γ g / (√v_t + ε).  The first step is ≈ γ/√(1 − α) = 10γ per coordinate.
    """
    one_minus_alpha = 1.0 - alpha

    def step(grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> tuple[np.ndarray, State]:
        g = grad + wd * params if wd else grad
        v = alpha * state["square_avg"] + one_minus_alpha * (g * g)
        return params - lr * (g / (np.sqrt(v) + eps)), {"t": state["t"] + 1, "square_avg": v}
    return step


def _adagrad(lr_decay: float, eps: float, wd: float) -> StepFn:
    """``torch.optim.Adagrad`` (PyTorch docs), one step (t = 1, 2, ...):

    g ← g + λθ_{t−1} (if λ ≠ 0); γ̃ = γ / (1 + (t − 1) η); s_t = s_{t−1} + g² (s_0 = τ);
    θ_t = θ_{t−1} − γ̃ g / (√s_t + ε).
    """

    def step(grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> tuple[np.ndarray, State]:
        t = state["t"] + 1
        g = grad + wd * params if wd else grad
        clr = lr / (1 + (t - 1) * lr_decay) if lr_decay else lr
        s = state["sum"] + g * g
        return params - clr * (g / (np.sqrt(s) + eps)), {"t": t, "sum": s}
    return step


def _adam(beta1: float, beta2: float, eps: float, wd: float, *, decoupled: bool) -> StepFn:
    """``torch.optim.Adam`` / ``torch.optim.AdamW`` (PyTorch docs), one step (t = 1, 2, ...):

    Adam: g ← g + λθ_{t−1} (if λ ≠ 0).   AdamW: θ ← θ_{t−1}(1 − γλ) first, g unchanged.
    m_t = β₁ m_{t−1} + (1 − β₁) g;  v_t = β₂ v_{t−1} + (1 − β₂) g²  (m_0 = v_0 = 0);
    m̂ = m_t / (1 − β₁ᵗ);  v̂ = v_t / (1 − β₂ᵗ);  θ_t = θ − γ m̂ / (√v̂ + ε),
    computed as θ − (γ / (1 − β₁ᵗ)) · m_t / (√v_t / √(1 − β₂ᵗ) + ε), as torch does.
    """
    c1, c2 = 1.0 - beta1, 1.0 - beta2
    coupled = wd if not decoupled else 0.0
    shrink = wd if decoupled else 0.0

    def step(grad: np.ndarray, state: State, params: np.ndarray, lr: float) -> tuple[np.ndarray, State]:
        t = state["t"] + 1
        if shrink:
            params = params * (1.0 - lr * shrink)
        g = grad + coupled * params if coupled else grad
        m = beta1 * state["exp_avg"] + c1 * g
        v = beta2 * state["exp_avg_sq"] + c2 * (g * g)
        denom = np.sqrt(v) / math.sqrt(1.0 - beta2**t) + eps
        new = params - (lr / (1.0 - beta1**t)) * (m / denom)
        return new, {"t": t, "exp_avg": m, "exp_avg_sq": v}
    return step


def make_optimizer(name: str, *, momentum: float | None = None, weight_decay: float = 0.0) -> Optimizer:
    """Build a validated optimizer with the ``torch.optim`` defaults for ``name``.

    ``name`` is one of :data:`OPTIMIZERS` (case-insensitive):

    * ``sgd``: ``torch.optim.SGD`` with momentum 0, or with ``momentum`` if one is given;
    * ``momentum``: SGD with momentum (default 0.9); ``nesterov``: ``SGD(nesterov=True)``,
      default 0.9, and the momentum must be > 0;
    * ``rmsprop`` (α 0.99, ε 1e-8), ``adagrad`` (ε 1e-10, lr_decay 0, initial accumulator 0),
      ``adam`` and ``adamw`` (β (0.9, 0.999), ε 1e-8). These take no momentum: a momentum
      other than ``None``/0 is rejected rather than silently ignored.

    ``weight_decay`` (λ ≥ 0, default 0 for every optimizer, AdamW included — torch's AdamW
    default is 0.01) is added to the gradient (L2), except for AdamW where it is decoupled.

    Raises :class:`ScenarioError` naming the setting, the value and what is allowed; an unknown
    name lists the allowed ones and suggests the closest.
    """
    return Optimizer(_check_name(name), momentum=momentum, weight_decay=weight_decay)

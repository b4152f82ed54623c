"""The target loss checked after every step without evaluating the loss at every step.

A run that checks its target after every step stops at the first step s with L(θ_s) ≤ T, where
L is the full training loss — an O(N) evaluation per step, so a step would cost what the data
set costs (issue 24: the lab took 45 s at N = 10,000). Here a step costs what its batch costs
and the stop is the same step, exactly:

* each run keeps an *anchor*: parameters θ_a at which its loss L_a was evaluated exactly (the
  same evaluation the every-step run makes);
* after a step, a lower bound of L(θ_s) follows from L_a and the distance |θ_s − θ_a| alone
  (:func:`loss_floor`, O(P) per run); where the bound is above T the run cannot have reached
  its target, so nothing is evaluated;
* where it is not, L(θ_s) is evaluated exactly (those runs only): at or below T the run stops
  there, as the every-step run does; else θ_s becomes its anchor.

The bounds, for the segment from θ_a to θ (Δ = θ − θ_a, x̃ = (x, 1) with a bias):

* linear regression (mse) is a quadratic: L(θ) = L_a + ∇L(θ_a)·Δ + ΔᵀAΔ with A = X̃ᵀX̃/N,
  exactly, so the bound is the loss itself less a rounding margin (up to 64 parameters; more: a
  P² product per run and step would cost more than the batch);
* linear and logistic regression are convex, so L(θ) ≥ L_a + ∇L(θ_a)·Δ (the gradient is
  evaluated with the loss at the anchor): tight for the small steps near a noise floor, where
  the target is usually met; with the Lipschitz bounds below, the larger of the two is taken;
* linear, mse: √L(θ) = ‖X̃θ − y‖/√N ≥ √L_a − σ|Δ| (triangle inequality), σ = ‖X̃‖₂/√N;
* logistic, bce: |∇L| = |(1/N) Σ (σ(z_i) − y_i) x̃_i| ≤ (1/N) Σ |x̃_i| =: λ everywhere, so
  L(θ) ≥ L_a − λ|Δ|;
* mlp: the gradient of one output with respect to θ has norm at most
  G² = 1 + Σ_j h_j² + c²|W2|²(1 + |x|²) (∂out/∂b2 = 1, ∂out/∂W2_j = h_j,
  ∂out/∂b1_j = W2_j act'(a_j), ∂out/∂W1_jk = W2_j act'(a_j) x_k, |act'| ≤ c: 1 for tanh and
  relu, ¼ for sigmoid), with |h_j| ≤ 1 (tanh, sigmoid) or h_j ≤ |W1_j||x| + |b1_j| (relu), and
  every norm of the segment at most the anchor's plus |Δ|. Each output moves by at most G|Δ|:
  with mse √L(θ) ≥ √L_a − G|Δ| (the root mean square moves by at most as much); with bce
  L(θ) ≥ L_a − G|Δ| (a per-sample bce is 1-Lipschitz in its logit).

Floating point: an evaluated loss is within a relative 1e-12 of the exact sum for any N mbsim
accepts (pairwise summation, a few rounded operations per sample), so a run is cleared only when
its bound, computed from L_a·(1 − 10⁻⁹) and |Δ|·(1 + 10⁻⁹), is above T·(1 + 10⁻⁹): a margin a
thousand times the rounding, never a step missed. tests/test_target.py checks the bounds
against evaluated losses and the stops against runs that evaluate every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .chunks import pairwise_sums
from .models import LinearModel, MLPModel, Model
from .models.elementwise import bce_pointwise
from .models.linear import ELEMENTWISE_FEATURES
from .pieces import scope as pieces_scope

MARGIN = 1e-9
#: Evaluations of many runs go in chunks of runs holding at most this many outputs at once (a
#: row's loss does not depend on the others: the chunks give the same numbers, in bounded memory).
EVAL_CHUNK = 1 << 20


#: A logistic regression's evaluation over more samples than this (per run) goes a piece of
#: samples at a time (:func:`_bce_evaluation_in_pieces`): at N = 10⁶ each evaluation made ~20 MB
#: of N-long temporaries, every frame of compare mode's three runs (issue 24).
EVAL_PIECE = 1 << 16


def evaluate_runs(model: Model, params: np.ndarray, X_all: np.ndarray, y_all: np.ndarray, n: int
                  ) -> tuple[np.ndarray, ...]:
    """``model.evaluate_runs`` of K runs in chunks of :data:`EVAL_CHUNK` outputs (a logistic
    regression on few features, over many samples: in pieces of samples, the same numbers)."""
    if (isinstance(model, LinearModel) and model.loss_name == "bce"
            and model.n_features <= ELEMENTWISE_FEATURES and len(y_all) > EVAL_PIECE):
        return _bce_evaluation_in_pieces(model, params, X_all, y_all, n)
    rows = max(1, EVAL_CHUNK // max(1, len(y_all)))
    if params.shape[0] <= rows:
        return model.evaluate_runs(params, X_all, y_all, n)
    with pieces_scope():
        parts = [model.evaluate_runs(params[a:a + rows], X_all, y_all, n) for a in range(0, params.shape[0], rows)]
    return tuple(np.concatenate(col) for col in zip(*parts))


def _bce_evaluation_in_pieces(model: LinearModel, params: np.ndarray, X_all: np.ndarray,
                              y_all: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """``model.evaluate_runs`` (bce, few features) from pieces of samples: each output is the
    same products in the same order whatever the slice (``LinearModel._linear_runs``: elementwise
    up to ELEMENTWISE_FEATURES), each per-sample loss is computed alone (bce_pointwise), the
    correct predictions are counted exactly, and the training and validation sums are NumPy's
    pairwise sums of their rows rebuilt from the pieces (:func:`engine.chunks.pairwise_sums`):
    the numbers of the one-array evaluation, bit for bit (tests/test_target.py)."""
    k, n_all = params.shape[0], len(y_all)
    most = max(128, EVAL_PIECE // max(1, k))
    nan = np.full(k, np.nan)
    hits: list[np.ndarray] = []

    def part(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if hi <= lo:
            return nan.copy(), nan.copy()
        hits.clear()

        def piece_sums(a: int, b: int) -> np.ndarray:
            f = model._forward_shared_runs(params, X_all[lo + a:lo + b])
            y = y_all[lo + a:lo + b]
            hits.append(np.count_nonzero((f > 0.0) == (y > 0.5), axis=1))
            return np.add.reduce(bce_pointwise(f, y), axis=1)

        with pieces_scope():
            total = pairwise_sums(hi - lo, most, piece_sums)
        return total / (hi - lo), np.sum(hits, axis=0) / (hi - lo)

    first, acc = part(0, n)
    rest, vacc = part(n, n_all)
    return first, rest, acc, vacc


@dataclass(frozen=True)
class BoundData:
    """What the bounds of one model on one training set need, computed once."""

    kind: str          # "rms" (√L moves by at most c|Δ|) or "lin" (L moves by at most c|Δ|)
    constant: float    # σ or λ (linear models); unused for the MLP
    x_norm2: float     # max_i |x_i|² (the MLP)
    convex: bool = False   # L(θ) ≥ L_a + ∇L(θ_a)·Δ holds (linear and logistic regression)
    grad_error: float = 0.0  # how far a computed gradient may be off, per unit of |Δ|
    hessian: np.ndarray | None = None   # A = X̃ᵀX̃/N: L is exactly quadratic (linear, mse)


def bound_data(model: Model, X: np.ndarray) -> BoundData:
    """The constants of :func:`loss_floor` for ``model`` on the training inputs ``X``."""
    n = X.shape[0]
    x2 = float(np.max(np.einsum("ij,ij->i", X, X))) if n else 0.0
    if isinstance(model, LinearModel):
        Xt = np.hstack([X, np.ones((n, 1))]) if model.bias else X
        if model.loss_name == "mse":
            gram = Xt.T @ Xt / max(1, n)
            sigma = math.sqrt(max(0.0, float(np.max(np.linalg.eigvalsh(gram)))))
            # an upper bound of the spectral norm however eigvalsh rounded: at most the Frobenius
            sigma = min(sigma * (1 + 1e-6) + 1e-12, math.sqrt(float(np.trace(gram))) * (1 + 1e-12))
            return BoundData("rms", sigma, x2, convex=True, hessian=gram if gram.shape[0] <= 64 else None)
        lam = float(np.mean(np.sqrt(np.einsum("ij,ij->i", Xt, Xt)))) * (1 + 1e-12) if n else 0.0
        return BoundData("lin", lam, x2, convex=True, grad_error=1e-7 * lam)
    if isinstance(model, MLPModel):
        return BoundData("rms" if model.loss_name == "mse" else "lin", 0.0, x2)
    raise TypeError(f"no loss bound for {type(model).__name__}")


def _mlp_gradient_bound(model: MLPModel, data: BoundData, anchor: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(K,) G: the largest norm of ∇θ out_i over every sample and every θ within ``dist`` of
    ``anchor`` (see the module docstring)."""
    H, d = model.hidden, model.n_features
    k = anchor.shape[0]
    W1 = anchor[:, :H * d].reshape(k, H, d)
    b1 = anchor[:, H * d:H * d + H]
    W2 = anchor[:, H * d + H:H * d + 2 * H]
    w2 = np.sqrt(np.einsum("kh,kh->k", W2, W2)) + dist
    c = 0.25 if model.activation == "sigmoid" else 1.0
    if model.activation == "relu":
        w1 = np.sqrt(np.einsum("khd,khd->k", W1, W1)) + dist
        b = np.sqrt(np.einsum("kh,kh->k", b1, b1)) + dist
        h2 = 2.0 * (w1 * w1 * data.x_norm2 + b * b)
    else:
        h2 = float(H)
    return np.sqrt(1.0 + h2 + c * c * w2 * w2 * (1.0 + data.x_norm2))


def loss_floor(model: Model, data: BoundData, anchor: np.ndarray, anchor_loss: np.ndarray,
               params: np.ndarray, anchor_grad: np.ndarray | None = None) -> np.ndarray:
    """(K,) a lower bound of the training loss of each of K runs at ``params`` (K, P), from its
    loss ``anchor_loss`` (and, for a convex model, its gradient ``anchor_grad``) evaluated at
    ``anchor`` (K, P); with the floating-point margin of the module docstring already taken
    (NaN or inf anywhere: −inf, nothing cleared)."""
    add = np.add.reduce
    with np.errstate(all="ignore"):
        diff = params - anchor
        dist = np.sqrt(add(diff * diff, axis=1)) * (1 + MARGIN)
        if data.hessian is not None and anchor_grad is not None:
            # least squares, exactly quadratic: L_a + G·Δ + ΔᵀAΔ, less the rounding of each term
            # (a relative 1e-9, a thousand times what float64 sums and products of these sizes
            # can be off)
            curv = add((diff @ data.hessian) * diff, axis=1)
            lin = add(anchor_grad * diff, axis=1)
            scale = np.sqrt(add(anchor_grad * anchor_grad, axis=1)) + 2.0 * data.constant * np.sqrt(np.maximum(anchor_loss, 0.0))
            floor = anchor_loss + lin + curv - MARGIN * (np.abs(anchor_loss) + np.abs(lin) + curv + scale * dist)
            return np.where(np.isfinite(floor), floor, -np.inf)
        if isinstance(model, MLPModel):
            step = _mlp_gradient_bound(model, data, anchor, dist) * (1 + MARGIN) * dist
        else:
            step = data.constant * dist
        base = anchor_loss * (1 - MARGIN)
        if data.kind == "rms":
            root = np.sqrt(np.maximum(base, 0.0)) - step
            floor = np.where(root > 0, root * root, 0.0)
        else:
            floor = base - step
        if data.convex and anchor_grad is not None:
            # the tangent at the anchor, less the gradient's own error (a relative 1e-7 of its
            # size, or of the Lipschitz constant)
            slack = (1e-7 * np.sqrt(add(anchor_grad * anchor_grad, axis=1)) + data.grad_error) * dist
            tangent = base + add(anchor_grad * diff, axis=1) - slack
            if data.kind == "rms":   # mse: the gradient grows with the residual, 2σ√L_a bounds it
                tangent = tangent - 1e-7 * 2.0 * data.constant * np.sqrt(np.maximum(anchor_loss, 0.0)) * dist
            floor = np.maximum(floor, tangent)
    return np.where(np.isfinite(floor), floor, -np.inf)


def cleared(floor: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(K,) True where the bound shows the loss is above the target (no evaluation needed)."""
    return floor > targets * (1 + MARGIN)


class ExactTarget:
    """The every-step target check of K runs with one model on one data set (module docstring).
    It keeps nothing itself: the anchors live in the runs' state (``anchor``, ``anchor_loss``,
    snapshotted with the rest), so going back and replaying gives the same checks."""

    def __init__(self, model: Model, X: np.ndarray, X_all: np.ndarray, y_all: np.ndarray, n: int,
                 targets: np.ndarray) -> None:
        self.model = model
        self.data = bound_data(model, X)
        self.X_all, self.y_all, self.n = X_all, y_all, n
        self.targets = targets

    def evaluate(self, params: np.ndarray) -> np.ndarray:
        """(k,) the training losses of k runs, as the every-step run evaluates them."""
        with np.errstate(all="ignore"):
            return evaluate_runs(self.model, params, self.X_all, self.y_all, self.n)[0]

    def gradients(self, params: np.ndarray) -> np.ndarray | None:
        """(k, P) the full training gradients of k runs (for a convex model's bound), else None."""
        if not self.data.convex:
            return None
        X, y = self.X_all[:self.n], self.y_all[:self.n]
        rows = max(1, EVAL_CHUNK // max(1, self.n))
        out = np.empty_like(params)
        with np.errstate(all="ignore"):
            with pieces_scope():
                for a in range(0, params.shape[0], rows):
                    part = params[a:a + rows]
                    shape = (part.shape[0],) + X.shape
                    out[a:a + rows] = self.model.loss_and_grad_runs(
                        part, np.broadcast_to(X, shape), np.broadcast_to(y, shape[:2]))[1]
        return out

    def check(self, state, params: np.ndarray, live: np.ndarray) -> np.ndarray | None:  # noqa: ANN001
        """After a step: (K,) True for the runs whose loss at ``params`` (K, P) is at or below their
        target (None if none), evaluating only the runs the bound does not clear; those become
        their own anchors. ``state``: the runs' :class:`~engine.runs.RunsState`."""
        want = live & (self.targets > 0)
        if not want.any():
            return None
        floor = loss_floor(self.model, self.data, state.anchor, state.anchor_loss, params, state.anchor_grad)
        todo = want & ~cleared(floor, self.targets)
        if not todo.any():
            return None
        rows = np.flatnonzero(todo)
        loss = self.evaluate(params[rows])
        anchor, anchor_loss = state.anchor.copy(), state.anchor_loss.copy()
        anchor[rows], anchor_loss[rows] = params[rows], loss
        state.anchor, state.anchor_loss = anchor, anchor_loss
        if state.anchor_grad is not None:
            grad = state.anchor_grad.copy()
            grad[rows] = self.gradients(params[rows])
            state.anchor_grad = grad
        state.target_evaluations += len(rows)
        hit = np.zeros(len(live), dtype=bool)
        hit[rows[loss <= self.targets[rows]]] = True
        return hit if hit.any() else None

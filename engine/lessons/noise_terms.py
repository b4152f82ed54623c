"""The noise quantities: gradient noise at the current θ (``noise.*``, SCIENCE.md §3), the
least-squares fit (``fit.*``), the noise cloud (``cloud.*``, SCIENCE.md §5) and the batch-size
lab (``lab.*``, SCIENCE.md §4), with their workings in the students' words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .quantity import Quantity, Working
from .words import number, signed

if TYPE_CHECKING:
    from ..simulation import Simulation
    from .context import CloudRun


# --- gradient noise at the current θ (SCIENCE.md §3) -----------------------------------------
def _noise(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.noise(), attr)


def _batch(sim: Simulation) -> int:
    return sim.plan.effective_batch


def _mean_sample_norm(sim: Simulation) -> float:
    """The mean of |gᵢ| over the N samples at the current θ (≥ |G| by the triangle inequality)."""
    import numpy as np

    with np.errstate(all="ignore"):
        grads = sim.model.per_sample_grads(sim.params, sim.X, sim.y)
        return float(np.mean(np.linalg.norm(grads, axis=1)))


def _fpc(sim: Simulation) -> float:
    from ..noise import fpc_factor

    return fpc_factor(sim.plan.n_samples, _batch(sim))


def _work_fpc(sim: Simulation, value: Any) -> Working:
    n, b = sim.plan.n_samples, _batch(sim)
    return Working(f"c = (N − B) / (B (N − 1)) = ({n:,} − {b:,}) / ({b:,} × {n - 1:,}) = {n - b:,} / {b * (n - 1):,}")


def _work_trace_cov(sim: Simulation, value: Any) -> Working:
    n, b = sim.plan.n_samples, _batch(sim)
    t = sim.noise().trace_sigma
    return Working(f"c × tr Σ = (N − B) / (B (N − 1)) × tr Σ = {_fpc(sim):.4g} × {number(t)}",
                   note=f" (N = {n:,}, B = {b:,}, without replacement)")


def _work_trace_cov_replacement(sim: Simulation, value: Any) -> Working:
    return Working(f"tr Σ / B = {number(sim.noise().trace_sigma)} / {_batch(sim):,}")


def _work_b_simple(sim: Simulation, value: Any) -> Working:
    r = sim.noise()
    return Working(f"B_simple = tr Σ / |G|² = {number(r.trace_sigma)} / {number(r.grad_norm)}²")


def _work_cosine(sim: Simulation, value: Any) -> Working:
    r = sim.noise()
    return Working(f"cos(ĝ, G) = ĝ · G / (|ĝ| |G|), with |ĝ| = {number(r.batch_grad_norm)} and "
                   f"|G| = {number(r.grad_norm)}", ": ")


# --- the least-squares fit --------------------------------------------------------------------
def _least_squares(sim: Simulation) -> Any:
    """θ* minimising the mean squared error of a linear model (normal equations)."""
    import numpy as np

    if sim.scenario.model != "linear":
        raise ValueError("the minimum is known exactly only for a linear model")
    X = sim.X
    if sim.scenario.bias:
        X = np.column_stack([X, np.ones(len(X))])
    theta, *_ = np.linalg.lstsq(X, sim.y, rcond=None)
    return [float(t) for t in theta]


def _min_loss(sim: Simulation) -> float:
    import numpy as np

    return float(sim.model.loss(np.asarray(_least_squares(sim)), sim.X, sim.y))


def _excess_loss(sim: Simulation) -> float:
    """L(θ) − L(θ*): how far the training loss sits above its minimum (linear models)."""
    return float(sim.train_loss - _min_loss(sim))


def _distance(sim: Simulation) -> float:
    """|θ − θ*|: how far the parameters are from the minimum (linear models)."""
    theta = _least_squares(sim)
    return float(sum((float(a) - b) ** 2 for a, b in zip(sim.params, theta)) ** 0.5)


def _sample_minima(sim: Simulation) -> Any:
    """Where each sample's own loss (w·x_i − y_i)² is lowest: w = y_i / x_i (one weight, no bias)."""
    if sim.scenario.model != "linear" or sim.scenario.bias or sim.X.shape[1] != 1:
        raise ValueError("each sample's own minimum needs a linear model with one weight and no bias")
    return [float(y / x) for x, y in zip(sim.X[:, 0], sim.y)]


def _work_minimum(sim: Simulation, value: Any) -> Working:
    if sim.X.shape[1] == 1 and not sim.scenario.bias:
        x, y = sim.X[:, 0], sim.y
        return Working(f"w* = Σ xᵢyᵢ / Σ xᵢ² = {signed(float(x @ y))} / {number(float(x @ x))}", bare=True)
    return Working("the parameters with the lowest training loss (least squares)", ": ")


def _work_excess(sim: Simulation, value: Any) -> Working:
    return Working(f"L(θ) − L(θ*) = {number(sim.train_loss)} − {number(_min_loss(sim))}")


def _work_sample_minima(sim: Simulation, value: Any) -> Working:
    parts = [f"{signed(float(y))} / {number(float(x))}" for x, y in zip(sim.X[:, 0], sim.y)]
    return Working("wᵢ = yᵢ / xᵢ: " + ", ".join(parts), " → ")


# --- the noise cloud (SCIENCE.md §5) ----------------------------------------------------------
def _cloud_predicted(attr: str) -> Callable[[CloudRun], float]:
    def read(cloud: CloudRun) -> float:
        floor = cloud.floor
        if floor is None:
            raise ValueError(cloud.note or "no prediction for this cloud")
        return float(getattr(floor, attr))

    return read


def _work_cloud_spread(cloud: CloudRun, value: Any) -> Working:
    return Working(f"the sum of the variances of the {cloud.runs:,} runs' parameters after "
                   f"{cloud.epochs:,} epochs (tr Cov)", ": ")


def _work_predicted_spread(cloud: CloudRun, value: Any) -> Working:
    floor = cloud.floor
    c = f"{floor.factor:.4g}" if floor is not None else "c"
    return Working(f"tr Σ_θ, where Σ_θ = (I − ηH) Σ_θ (I − ηH)ᵀ + η² c C with η = {number(cloud.lr)} and "
                   f"c = {c}", ": ")


def _work_cloud_excess(cloud: CloudRun, value: Any) -> Working:
    return Working(f"the mean of L(θ) − L(θ*) over the {cloud.runs:,} runs after {cloud.epochs:,} epochs", ": ")


def _work_predicted_excess(cloud: CloudRun, value: Any) -> Working:
    return Working(f"½ tr(H Σ_θ) for η = {number(cloud.lr)} and B = {cloud.batch:,}", ": ")


# --- the batch-size lab (SCIENCE.md §4) -------------------------------------------------------
def _fit(attr: str) -> Callable[[Any], float]:
    def read(result: Any) -> float:
        if result.fit is None:
            raise ValueError("the lab could not fit S = S_min + E_min / B (too few batch sizes reached the target)")
        return float(getattr(result.fit, attr))

    return read


def _b_simple_target(result: Any) -> float:
    if result.b_simple_target is None:
        raise ValueError("no run of the lab reached its target")
    return float(result.b_simple_target)


def _regimes(result: Any) -> int:
    from ..tradeoff import regime

    if result.fit is None:
        raise ValueError("the lab could not fit S = S_min + E_min / B")
    return len({regime(p.batch_size, result.fit.b_crit) for p in result.points if p.majority})


def _work_b_crit(result: Any, value: Any) -> Working:
    f = result.fit
    return Working(f"B_crit = E_min / S_min = {number(f.e_min)} / {number(f.s_min)}")


def _q(name: str, description: str, read: Callable[[Any], Any], label: str, unit: str = "",
       kind: str = "number", work: Callable[[Any, Any], Working | None] | None = None,
       source: str = "sim") -> Quantity:
    return Quantity(name, description, read, label, unit, kind, source, work)


def _say(how: str, joint: str = ": ") -> Callable[[Any, Any], Working]:
    return lambda source, value: Working(how, joint)


NOISE_TERMS: list[Quantity] = [
    _q("noise.grad_norm", "|G|, the norm of the full gradient", _noise("grad_norm"), "|G|", "", "number",
       _say("|G|, the length of the mean gradient over all N samples")),
    _q("noise.mean_sample_grad_norm", "the mean of |gᵢ|, the lengths of the per-sample gradients",
       _mean_sample_norm, "the mean length of one sample's gradient", "", "number",
       _say("the mean of |gᵢ| over the N samples, at the current parameters")),
    _q("noise.batch_grad_norm", "|ĝ|, the norm of the current batch's gradient", _noise("batch_grad_norm"), "|ĝ|",
       "", "number", _say("|ĝ|, the length of the batch's mean gradient")),
    _q("noise.cosine", "cos(ĝ, G): how well the batch gradient points along the full gradient",
       _noise("cosine"), "cos(ĝ, G)", "", "number", _work_cosine),
    _q("noise.trace_sigma", "tr Σ, the per-sample gradient variance (divisor N)", _noise("trace_sigma"), "tr Σ",
       "", "number", _say("tr Σ, the mean of |gᵢ − G|² over the N samples")),
    _q("noise.trace_cov", "tr Cov[ĝ] = (N−B)/(B(N−1)) · tr Σ, without replacement", _noise("trace_cov"),
       "tr Cov[ĝ]", "", "number", _work_trace_cov),
    _q("noise.trace_cov_replacement", "tr Cov[ĝ] = tr Σ / B, with replacement", _noise("trace_cov_replacement"),
       "tr Cov[ĝ] with replacement", "", "number", _work_trace_cov_replacement),
    _q("noise.fpc", "the noise factor c = (N−B)/(B(N−1)): tr Cov[ĝ] = c · tr Σ without replacement", _fpc,
       "the noise factor c", "", "number", _work_fpc),
    _q("noise.b_simple", "B_simple = tr Σ / |G|², the simple noise scale", _noise("b_simple"), "B_simple", "",
       "number", _work_b_simple),
    _q("noise.lr_over_batch", "η/B: the noise floor of constant-step SGD grows with it",
       lambda s: s.scenario.lr / s.plan.effective_batch, "η / B", "", "number",
       lambda s, v: Working(f"η / B = {number(s.scenario.lr)} / {s.plan.effective_batch:,}")),
    _q("fit.minimum", "θ* that minimises the mean training loss (linear models)", _least_squares, "θ*", "θ",
       "vector", _work_minimum),
    _q("fit.min_loss", "L(θ*), the lowest training loss (linear models)", _min_loss, "the lowest training loss",
       "", "number", _say("L(θ*), the training loss at its minimum")),
    _q("fit.excess_loss", "L(θ) − L(θ*): the training loss above its minimum (linear models)", _excess_loss,
       "the excess loss", "", "number", _work_excess),
    _q("fit.distance", "|θ − θ*|: how far the parameters are from the minimum (linear models)", _distance,
       "the distance to the minimum", "", "number",
       lambda s, v: Working("|θ − θ*|, the distance from the parameters now to the minimum of the mean loss", ": ")),
    _q("fit.sample_minima", "where each sample's own loss is lowest: w = y_i / x_i", _sample_minima,
       "each sample's own minimum", "", "list", _work_sample_minima),
    _q("cloud.runs", "K, the runs of the noise cloud", lambda c: c.runs, "the runs of the cloud", "runs", "count",
       _say("K", " = "), "cloud"),
    _q("cloud.epochs", "the epochs the noise cloud has run", lambda c: c.epochs, "the cloud's epochs", "epochs",
       "count", _say("the cloud ran", " "), "cloud"),
    _q("cloud.spread", "the measured spread: tr Cov of the K runs' parameters (divisor K − 1)",
       lambda c: c.spread, "the cloud's spread", "", "number", _work_cloud_spread, "cloud"),
    _q("cloud.predicted_spread", "the predicted stationary spread tr Σ_θ (least squares, SCIENCE.md §5)",
       _cloud_predicted("spread"), "the predicted spread", "", "number", _work_predicted_spread, "cloud"),
    _q("cloud.excess_loss", "the mean over the K runs of L(θ) − L(θ*) (linear models)",
       lambda c: c.excess_loss, "the cloud's mean excess loss", "", "number", _work_cloud_excess, "cloud"),
    _q("cloud.predicted_excess_loss", "the predicted mean excess loss ½ tr(H Σ_θ) (least squares)",
       _cloud_predicted("excess_loss"), "the predicted excess loss", "", "number", _work_predicted_excess, "cloud"),
    _q("lab.b_crit", "B_crit = E_min / S_min from the lab's fit", _fit("b_crit"), "B_crit", "", "number",
       _work_b_crit, "lab"),
    _q("lab.s_min", "S_min, the fewest steps to the lab's target (the fit's asymptote)", _fit("s_min"), "S_min",
       "steps", "number", _say("S_min from the fit S = S_min + E_min / B", ": "), "lab"),
    _q("lab.e_min", "E_min, the fewest examples to the lab's target (the fit's asymptote)", _fit("e_min"),
       "E_min", "examples", "number", _say("E_min from the fit S = S_min + E_min / B", ": "), "lab"),
    _q("lab.b_simple_start", "B_simple at the lab's start (the initial parameters)",
       lambda r: float(r.b_simple_start), "B_simple at the start", "", "number",
       _say("B_simple = tr Σ / |G|² at the initial parameters", ": "), "lab"),
    _q("lab.b_simple_target", "B_simple at the lab's target (median over the runs that reached it)",
       _b_simple_target, "B_simple at the target", "", "number",
       _say("B_simple = tr Σ / |G|² where the runs reached the target (median)", ": "), "lab"),
    _q("lab.target_loss", "the training loss every run of the lab trains to", lambda r: float(r.target_loss),
       "the lab's target loss", "", "number", _say("the lab's target loss", ": "), "lab"),
    _q("lab.regimes", "how many of the three regimes (perfect scaling, diminishing returns, maximal data "
       "parallelism) the swept batch sizes fall in", _regimes, "the regimes the sweep shows", "", "count",
       _say("the swept batch sizes fall in", " "), "lab"),
]


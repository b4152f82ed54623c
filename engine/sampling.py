"""Sampling orders (SCIENCE.md §1.1): the order of sample indices for one pass over the data.

Samplers (``reshuffle``, ``once``, ``sequential``, ``replacement``, ``stratified``) are
stateless: everything they need (the random generator, the previous pass's order) is passed
in, so a run can snapshot and rewind freely. Where a sampler's pass is one draw that does not
depend on the previous pass (``draws_ahead``: reshuffle, stratified), the orders of several
passes are drawn in one call (:meth:`Sampler.draw_ahead_into`) and put together for many rows at
once (:meth:`Sampler.assemble`): the K runs of an ensemble draw K rows and assemble them in one
pass of array operations (:mod:`engine.orders`).

The batch arithmetic that cuts an order into batches is :mod:`engine.plan` (its names are also
importable from here, as before the split).
"""

from __future__ import annotations

import difflib

from mbsim.engine._lazy_numpy import LazyNumpy

from mbsim.engine.errors import ScenarioError

__all__ = [
    "SAMPLINGS", "EPOCH_ENDS", "Sampler", "ReshuffleSampler", "OnceSampler", "SequentialSampler",
    "ReplacementSampler", "StratifiedSampler", "make_sampler", "stream_generator", "draw_orders",
    # the batch arithmetic, from engine.plan
    "Plan", "Position", "PassTable", "make_plan", "plan_for", "algorithm_name", "ALGORITHMS",
]

from mbsim.engine.names import EPOCH_ENDS, SAMPLINGS  # noqa: E402  (the one list of names, NumPy-free)

from mbsim.engine.plan import (ALGORITHMS, PassTable, Plan, Position, algorithm_name, check_batch_size,  # noqa: E402
                         check_n_samples, make_plan, plan_for)

from mbsim.engine.sampler import (OnceSampler, ReplacementSampler, ReshuffleSampler, Sampler,  # noqa: E402
                            SequentialSampler)
from mbsim.engine.stratified import StratifiedSampler  # noqa: E402

np = LazyNumpy(globals())  # NumPy on first use: `mbsim plan` needs only the Plan arithmetic





def stream_generator(seed: int, stream: int) -> np.random.Generator:
    """The generator of sampling stream ``stream`` ≥ 1 of a run seeded ``seed``.

    Stream 0 is no separate generator: it is the run's own generator, continuing after the data
    and the initial parameters were drawn (a lone :class:`~engine.simulation.Simulation`).
    Stream k ≥ 1 is ``SeedSequence(seed, spawn_key=(k,))``, i.e. the k-th child of
    ``np.random.SeedSequence(seed).spawn(k + 1)``: independent of the data's stream and of the
    other streams, and the same for a member of an ensemble and for
    ``Simulation(scenario, sampling_stream=k)``.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


# --------------------------------------------------------------------------------------------
# samplers (SCIENCE.md §1.1)


def order_dtype(n: int) -> type:
    """The integer type a run keeps its orders of n samples in: int32 below 2³¹ samples (half
    of int64's 8 bytes a sample a run; issue 24), else int64. The orders are drawn in int64 as
    the samplers draw them (the same generator draws, the same values) and stored in this."""
    return np.int32 if n < 2**31 else np.int64


def draw_orders(samplers: list[Sampler], generators: list[np.random.Generator],
                previous: np.ndarray | None, live: np.ndarray | None) -> np.ndarray:
    """(K, N) the next pass's orders of K runs (:func:`order_dtype`), row k drawn by
    ``samplers[k]`` from ``generators[k]`` exactly as its :meth:`Sampler.order` draws it; a run
    that is not ``live`` draws nothing and keeps its ``previous`` order (``live`` None: every
    run draws)."""
    k, n = len(samplers), samplers[0].n_samples
    orders = np.empty((k, n), dtype=np.int64)
    for i, (sampler, gen) in enumerate(zip(samplers, generators)):
        if previous is None:
            sampler.order_into(gen, None, orders[i])
        elif live is None or live[i]:
            sampler.order_into(gen, previous[i], orders[i])
        else:
            orders[i] = previous[i]
    return orders.astype(order_dtype(n), copy=False)


def _closest(name: str, choices: tuple[str, ...]) -> str:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.0)
    return match[0] if match else choices[0]


def make_sampler(
    name: str, n_samples: int, *, batch_size: int, labels: np.ndarray | None = None
) -> Sampler:
    """The sampler called ``name`` (one of :data:`SAMPLINGS`) for a set of ``n_samples``.

    ``batch_size`` is used by ``stratified`` (its batches keep the class proportions);
    ``labels`` (one class label per sample) are needed by ``stratified`` only.
    Raises :class:`ScenarioError` for an unknown name (suggesting the closest) and for
    ``stratified`` without class labels.
    """
    if not isinstance(name, str):
        raise ScenarioError(
            "sampling", name, f"must be one of {', '.join(SAMPLINGS)}"
        )
    key = name.strip().lower()
    if key not in SAMPLINGS:
        raise ScenarioError(
            "sampling",
            name,
            f"unknown; choose one of {', '.join(SAMPLINGS)} (did you mean "
            f"{_closest(key, SAMPLINGS)!r}?)",
        )
    n_samples = check_n_samples(n_samples)
    batch_size = check_batch_size(batch_size, n_samples)
    if key == "reshuffle":
        return ReshuffleSampler(n_samples)
    if key == "once":
        return OnceSampler(n_samples)
    if key == "sequential":
        return SequentialSampler(n_samples)
    if key == "replacement":
        return ReplacementSampler(n_samples)
    # stratified
    if labels is None:
        raise ScenarioError(
            "sampling",
            "stratified",
            "needs class labels; the dataset is a regression task — use reshuffle",
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ScenarioError(
            "sampling",
            "stratified",
            f"needs one class label per sample ({n_samples}), got labels of shape "
            f"{labels.shape}",
        )
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels) & (labels == np.round(labels))):
        raise ScenarioError(
            "sampling",
            "stratified",
            "needs class labels, but the targets are continuous (a regression task) — "
            "use reshuffle",
        )
    if labels.dtype.kind not in "biuUSOf":
        raise ScenarioError(
            "sampling", "stratified", f"cannot use labels of type {labels.dtype}"
        )
    return StratifiedSampler(n_samples, batch_size, labels)



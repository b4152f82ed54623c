"""The commands' memory check (engine.memory): before anything large is allocated, what a run,
K runs or the lab will need is estimated from the scenario; past the budget (a quarter of the
available memory, or ``MBSIM_MEMORY_BUDGET``) the command stops with one line saying what
fits, exit 2 (issue 23 item 8)."""

from __future__ import annotations

from typing import Any

from .common import UsageError


def memory_budget() -> tuple[int, str]:
    """(bytes, where they come from); a ``MBSIM_MEMORY_BUDGET`` that is not a size: one line."""
    from mbsim.engine.memory import BudgetError, budget

    try:
        return budget()
    except BudgetError as err:
        raise UsageError(str(err)) from None


def csv_dataset(scenario: Any, src: Any) -> Any:
    """A CSV file's data (its shape is the file's), loaded with the usual one-line errors; the
    caller holds it while its runs are made, so they share it (engine.prepare). None for
    generated data, whose shape the scenario says."""
    if not scenario.is_csv:
        return None
    from mbsim.engine.errors import ScenarioError
    from mbsim.engine.prepare import prepare

    try:
        return prepare(scenario)[1]
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None


def _smaller(scenario: Any) -> str:
    """What makes one run smaller."""
    return ("use a smaller --batch-size" + (", fewer --hidden units" if scenario.model == "mlp" else "")
            + (" or fewer --samples" if not scenario.is_csv else ""))


def check_run(scenario: Any, src: Any, runs: int = 1) -> Any:
    """``mbsim run`` (``--runs K``): refused when its estimate is over the budget, saying how
    many runs fit. Returns the CSV data set to hold (or None)."""
    from mbsim.engine.memory import estimate_run, refusal, runs_that_fit

    limit, source = memory_budget()
    ds = csv_dataset(scenario, src)
    est = estimate_run(scenario, runs, ds)
    if est.total <= limit:
        return ds
    k = runs_that_fit(scenario, limit, runs, dataset=ds) if runs > 1 else 0
    advice = f"--runs {k} fits" if k else f"not even one run fits: {_smaller(scenario)}"
    raise UsageError(refusal(est, limit, source, advice))


def check_lab(scenario: Any, src: Any, runs: int, sizes: list[int] | None, candidates: int) -> Any:
    """``mbsim lab``: refused when its largest batch size's runs are over the budget, saying
    how many runs a batch size fit. Returns the CSV data set to hold (or None)."""
    from mbsim.engine.lab import default_batch_sizes
    from mbsim.engine.memory import estimate_lab, refusal, runs_that_fit

    limit, source = memory_budget()
    ds = csv_dataset(scenario, src)
    n = ds.n_samples if ds is not None else (3 if scenario.dataset == "three-losses" else scenario.samples)
    chosen = sorted(set(sizes)) if sizes else default_batch_sizes(n)
    chosen = [b for b in chosen if 1 <= b <= n] or [n]

    def make(k: int):  # noqa: ANN202
        return estimate_lab(scenario, k, chosen, candidates, ds)

    est = make(runs)
    if est.total <= limit:
        return ds
    k = runs_that_fit(scenario, limit, runs, make=make)
    advice = (f"--runs {k} fits" if k else f"not even one run a batch size fits: {_smaller(scenario)}"
              + (", or --lr-rule constant" if candidates > 1 else ""))
    raise UsageError(refusal(est, limit, source, advice))


def check_app(scenario: Any, src: Any) -> Any:
    """The app on ``scenario`` (its main screen: the run, its record and readings): refused past
    the budget in one line. Returns the CSV data set to hold (or None)."""
    from mbsim.engine.memory import estimate_view, refusal

    limit, source = memory_budget()
    ds = csv_dataset(scenario, src)
    line = refusal(estimate_view("main", scenario, dataset=ds), limit, source,
                   "use fewer --samples" + (" or fewer --hidden units" if scenario.model == "mlp" else ""))
    if line:
        raise UsageError(line)
    return ds

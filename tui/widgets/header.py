"""The header: what is being simulated, and whether it is running.

``worked-example  Mini-batch GD  B=5 of N=200  SGD  lr 0.05          paused — space to run``
"""

from __future__ import annotations

from rich.text import Text

from engine.errors import visible

from ._lines import ItemLine


def speed_label(speed: float | None) -> str:
    """``×10`` for 10 iterations per second, ``×0.5`` for one every 2 s, ``×max`` for as fast
    as the machine goes."""
    return "×max" if speed is None else f"×{speed:g}"


def run_state(sim, *, running: bool, speed: int | None, goal: str = "") -> tuple[str, str]:
    """The state shown on the right of the header, and its kind (a style of app.tcss):
    "paused", "running", "done" or "error".

    Diverging, finished, target reached and diverged come from the engine; running and paused are the
    app's business.
    """
    status = sim.status
    if status == "diverged":
        return f"{sim.state_summary()} — try a smaller learning rate", "error"
    if status == "diverging":
        # the loss is 10³× up (engine rule): say so at once; the app paused at the onset
        go = f"running {speed_label(None if goal else speed)} — space to pause" if running else "paused — < halves lr, space goes on"
        return f"{sim.state_summary()} · {go}", "error"
    if status == "finished":
        return "finished — r to start again", "done"
    if status == "target reached":
        return "target loss reached — r to start again", "done"
    if running:
        if goal:
            return f"running {goal} {speed_label(None)} — space to stop", "running"
        return f"running {speed_label(speed)} — space to pause", "running"
    return "paused — space to run", "paused"


class StatusHeader(ItemLine):
    """Scenario, algorithm (Batch GD / SGD / Mini-batch GD), optimizer, learning rate and state."""

    COMPONENT_CLASSES = {
        "header--name", "header--algorithm", "header--batch", "header--plain",
        "header--error", "header--done", "header--running", "header--paused",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.state_text = ""
        self.state_kind = ""

    def show(self, sim, *, running: bool = False, speed: int | None = 10, goal: str = "") -> None:
        """Redraw from the simulation and the app's run state (no-op when nothing changed)."""
        sc = sim.scenario
        plan = sim.plan
        describe = getattr(sim.optimizer, "describe", None)
        optimizer = describe() if callable(describe) else sc.optimizer
        batch = f"B={sc.batch_size}"
        if plan.accumulate > 1:
            batch = f"B={sc.batch_size}×{plan.accumulate}"
        state, kind = run_state(sim, running=running, speed=speed, goal=goal)
        self.state_text, self.state_kind = state, kind
        state_style = self._style(kind)
        items = [
            Text(visible(sc.name), style=self._style("name")),
            Text(plan.algorithm, style=self._style("algorithm")),
            Text(f"{batch} of N={plan.n_samples}", style=self._style("batch")),
            Text(optimizer, style=self._style("plain")),
            Text(f"lr {sc.lr:g}", style=self._style("plain")),
            Text(state, style=state_style),
        ]
        self.set_items(items)

    def _style(self, kind: str):
        """The Rich style of a part, from app.tcss (so themes and NO_COLOR apply)."""
        if not self.is_attached:
            return ""
        return self.get_component_rich_style(f"header--{kind}", partial=True)

    def lines(self, width: int) -> list[Text]:
        # the state goes to the right edge when everything fits on one line
        items = [i for i in self._items if i is not None]
        if items:
            total = sum(i.cell_len for i in items) + 2 * (len(items) - 1)
            if total <= width:
                left = Text("  ").join(items[:-1])
                gap = width - left.cell_len - items[-1].cell_len
                return [Text.assemble(left, " " * gap, items[-1])]
        return super().lines(width)

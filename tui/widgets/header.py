"""The header: what is being simulated, and whether it is running.

``worked-example  Mini-batch GD  B=5 of N=200  SGD  lr 0.05          paused — space to run``

For compare mode (a Comparison), what is compared, whether it runs, and how the runs are aligned:

``Compare  worked-example  same data, same start  lr 0.05               paused — space to run``
``aligned by epochs: each tick every run sees the same share of the data, so in one epoch GD
makes 1 update, mini-batch 40, SGD 200``

The second line is the longest of a few wordings that fits the width (:func:`explanations`).
"""

from __future__ import annotations

from rich.text import Text

from mbsim.engine.errors import visible

from ._lines import ItemLine
from ._runs import short_names, source_kind


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


def _counts(comp, attr: str) -> str:  # noqa: ANN001
    names = short_names([r.label for r in comp.runs])
    values = [getattr(r.sim.plan, attr) for r in comp.runs]
    first = f"{names[0]} makes {values[0]} update{'s' if values[0] != 1 else ''}"
    return ", ".join([first] + [f"{n} {v}" for n, v in zip(names[1:], values[1:])])


def explanations(comp) -> list[tuple[str, str]]:  # noqa: ANN001
    """(head, rest) wordings of the alignment, longest first; ``head + rest`` is the sentence."""
    align = comp.align
    runs = comp.runs
    names = short_names([r.label for r in runs])
    if align == "epochs":
        per = _counts(comp, "steps_per_epoch_count")
        return [
            ("aligned by epochs", ": each tick every run sees the same share of the data, "
                                  f"so in one epoch {per}"),
            ("aligned by epochs", f": the same share of the data per tick; per epoch {per}"),
            ("by epochs", f": per epoch {per}"),
        ]
    if align == "samples":
        n = runs[0].sim.dataset.n_samples
        b = comp.batch_sizes[1]
        per = _counts(comp, "batches_per_pass")
        return [
            ("aligned by samples", f": each tick every run sees {b} more sample{'s' if b != 1 else ''}, "
                                   f"so in {n} samples {per}"),
            ("aligned by samples", f": {b} more samples per tick; per {n} samples {per}"),
            ("by samples", f": per {n} samples {per}"),
        ]
    sizes = ", ".join(f"{nm} {b}" for nm, b in zip(names[1:], comp.batch_sizes[1:]))
    first = f"{names[0]} sees {comp.batch_sizes[0]} samples"
    return [
        ("aligned by steps", f": each tick every run makes one update, so per tick {first}, {sizes}"),
        ("aligned by steps", f": one update each per tick; per update {first}, {sizes}"),
        ("by steps", f": one update each per tick; {first}, {sizes}"),
    ]


class StatusHeader(ItemLine):
    """Scenario, algorithm (Batch GD / SGD / Mini-batch GD), optimizer, learning rate and state;
    for a comparison, its title, scenario and state, and the alignment sentence below; for the
    noise cloud, its title, scenario, K and settings, and state."""

    COMPONENT_CLASSES = {
        "header--name", "header--algorithm", "header--batch", "header--plain",
        "header--error", "header--done", "header--running", "header--paused",
        "header--title", "header--align", "header--muted",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.state_text = ""
        self.state_kind = ""
        self.explanation = ""          # compare mode: the full (longest) alignment sentence
        self._wordings: list[tuple[str, str]] = []
        self._optional: tuple[int, ...] = ()   # items left out, in this order, to keep one line

    def show(self, source, *, running: bool = False, speed: int | None = 10, goal: str = "",  # noqa: ANN001
             state: str = "", kind: str = "") -> None:
        """Redraw from a simulation and the app's run state, or from a comparison or a noise
        cloud and the ``state`` text its screen decided, of style ``kind`` (running, paused,
        done, error).
        No-op when nothing changed."""
        what = source_kind(source)
        if what != "one":
            self._shown_key = None
        if what == "runs":
            self._show_comparison(source, state, kind)
            return
        if what == "cloud":
            self._show_cloud(source, state, kind)
            return
        sim = source
        status = sim.status
        # what the header says: the settings (a change makes a new scenario and plan), the state
        # (a diverging run's words name its step) and the app's run state; not the counts
        key = (sim, sim.scenario, sim.plan, sim.optimizer, status,   # (held: no id is reused)
               sim.revision if status in ("diverging", "diverged") else None, running, speed, goal,
               self.app.theme if self.is_attached else None, getattr(self, "style_generation", 0))
        if key == getattr(self, "_shown_key", None):
            return                  # every frame asks; most frames change nothing here
        self._shown_key = key
        sc = sim.scenario
        plan = sim.plan
        describe = getattr(sim.optimizer, "describe", None)
        optimizer = describe() if callable(describe) else sc.optimizer
        batch = f"B={sc.batch_size}"
        if plan.accumulate > 1:
            batch = f"B={sc.batch_size}×{plan.accumulate}"
        state, kind = run_state(sim, running=running, speed=speed, goal=goal)
        self.state_text, self.state_kind = state, kind
        self.explanation, self._wordings, self._optional = "", [], ()
        items = [
            Text(visible(sc.name), style=self._style("name")),
            Text(plan.algorithm, style=self._style("algorithm")),
            Text(f"{batch} of N={plan.n_samples}", style=self._style("batch")),
            Text(f"optimizer {optimizer}", style=self._style("plain")),  # not the algorithm's "SGD"
            Text(f"lr {sc.lr:g}", style=self._style("plain")),
            Text(state, style=self._style(kind)),
        ]
        self.set_items(items)

    def _show_cloud(self, ens, state: str, kind: str) -> None:  # noqa: ANN001
        """Title, scenario, K, batch size, optimizer, lr, sampling and state of the noise cloud
        ``ens`` (an Ensemble of sampling seeds); narrow, K's wording and then the sampling go."""
        sc = ens.scenario
        self.state_text, self.state_kind = state, kind
        self.explanation, self._wordings, self._optional = "", [], (2, 6)
        self.set_items([
            Text("Noise cloud", style=self._style("title")),
            Text(visible(sc.name), style=self._style("name")),
            Text(f"{ens.runs} runs, different sampling seeds", style=self._style("muted")),
            Text(f"B={sc.batch_size} of N={ens.n_samples}", style=self._style("batch")),
            Text(sc.optimizer, style=self._style("plain")),
            Text(f"lr {sc.lr:g}", style=self._style("plain")),
            Text(sc.sampling, style=self._style("plain")),
            Text(state, style=self._style(kind)),
        ])

    def _show_comparison(self, comp, state: str, kind: str) -> None:  # noqa: ANN001
        """Title, scenario, state and the alignment sentence of the comparison ``comp``."""
        sc = comp.runs[1].sim.scenario
        self.state_text, self.state_kind = state, kind
        self._wordings = explanations(comp)
        head, rest = self._wordings[0]
        self.explanation = head + rest
        muted = self._style("muted")
        items: list[Text | None] = [
            Text("Compare", style=self._style("title")),
            Text(visible(sc.name), style=self._style("name")),
            Text("same data, same start", style=muted),
            Text(f"lr {sc.lr:g}", style=muted),
            Text(state, style=self._style(kind)),
            None,
            Text.assemble((head, self._style("align")), (rest, muted)),
        ]
        self.set_items(items)

    def _style(self, kind: str):  # noqa: ANN202
        """The Rich style of a part, from app.tcss (so themes and NO_COLOR apply)."""
        if not self.is_attached:
            return ""
        return self.get_component_rich_style(f"header--{kind}", partial=True)

    def lines(self, width: int) -> list[Text]:
        if self._wordings:
            return self._comparison_lines(max(1, width))
        # the state goes to the right edge when everything fits on one line (leaving out the
        # optional items, in their order, then the state's key hint "— space to run", if that
        # makes it fit)
        everything = [i for i in self._items if i is not None]
        versions = [everything]
        if everything and " — " in everything[-1].plain and self.state_kind != "error":
            # (an error keeps its advice: "— try a smaller learning rate")
            state = everything[-1]
            versions.append(everything[:-1] + [state[:state.plain.index(" — ")]])
        for version in versions:
            dropped: set[int] = set()
            for drop in (None, *self._optional):
                if drop is not None:
                    dropped.add(drop)
                items = [item for k, item in enumerate(version) if k not in dropped]
                if not items:
                    break
                total = sum(i.cell_len for i in items) + 2 * (len(items) - 1)
                if total <= width:
                    left = Text("  ").join(items[:-1])
                    gap = width - left.cell_len - items[-1].cell_len
                    return [Text.assemble(left, " " * gap, items[-1])]
        return super().lines(width)

    def _comparison_lines(self, width: int) -> list[Text]:
        """The first line with the state at the right edge (dropping the least useful items
        when narrow), then the longest alignment wording that fits."""
        first = [i for i in self._items[:5] if i is not None]
        if not first:
            return [Text()]
        out: list[Text] = []
        total = sum(i.cell_len for i in first) + 2 * (len(first) - 1)
        if total <= width:
            left = Text("  ").join(first[:-1])
            out.append(Text.assemble(left, " " * (width - total + 2), first[-1]))
        else:
            for keep in (first[:2] + first[3:], first[:2] + first[4:], first[:1] + first[4:]):
                total = sum(i.cell_len for i in keep) + 2 * (len(keep) - 1)
                if total <= width:
                    left = Text("  ").join(keep[:-1])
                    out.append(Text.assemble(left, " " * (width - total + 2), keep[-1]))
                    break
            else:
                out.extend(super().lines(width)[:2])
        muted = self._style("muted")
        for head, rest in self._wordings:
            if len(head) + len(rest) <= width:
                break
        line = Text.assemble((head, self._style("align")), (rest, muted))
        if line.cell_len > width:
            line.truncate(width, overflow="ellipsis")
        out.append(line)
        return out

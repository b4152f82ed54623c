"""Compare mode's header: what is compared, whether it runs, and how the three runs are aligned.

``Compare  worked-example  same data, same start  lr 0.05               paused — space to run``
``aligned by epochs: each tick every run sees the same share of the data, so in one epoch GD
makes 1 update, mini-batch 40, SGD 200``

The second line is the longest of a few wordings that fits the width (:func:`explanations`).
"""

from __future__ import annotations

from rich.text import Text

from ._lines import ItemLine
from engine.errors import visible

from ._runs import short_names


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


class CompareHeader(ItemLine):
    """Title, scenario, state (right) and the alignment sentence (second line)."""

    COMPONENT_CLASSES = {
        "cheader--title", "cheader--name", "cheader--align", "cheader--muted",
        "cheader--running", "cheader--paused", "cheader--done", "cheader--error",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.state_text = ""
        self.explanation = ""          # the full (longest) alignment sentence
        self._wordings: list[tuple[str, str]] = []

    def _style(self, kind: str):  # noqa: ANN202
        if not self.is_attached:
            return ""
        return self.get_component_rich_style(f"cheader--{kind}", partial=True)

    def show(self, comp, *, state: str, kind: str) -> None:  # noqa: ANN001
        """Redraw: ``state`` is the run state text, ``kind`` its style (running, paused, done, error)."""
        sc = comp.runs[1].sim.scenario
        self.state_text = state
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

    def lines(self, width: int) -> list[Text]:
        width = max(1, width)
        first = [i for i in self._items[:5] if i is not None]
        if not first:
            return [Text()]
        out: list[Text] = []
        total = sum(i.cell_len for i in first) + 2 * (len(first) - 1)
        if total <= width:
            left = Text("  ").join(first[:-1])
            out.append(Text.assemble(left, " " * (width - total + 2), first[-1]))
        else:
            # drop the least useful items first, keep the state
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

"""The sample strip's words (a mixin of :class:`~.strip.SampleStrip`): the caption above the cells
(which order, how it was drawn, how cells are grouped, parts dropped to fit) and the legend
below them, each kept as a row of cells while what it says stays (the strip draws every frame)."""

from __future__ import annotations

import numpy as np

from ._strip_layout import CURRENT, GLYPHS, TO_COME, USED


class StripText:
    """The caption and the legend of the strip (its host is a SampleStrip: ``_sid``,
    ``_palette_key``, ``_colors``, ``_sim``, ``layout_``, ``_occ``, ``_anim``, ``fast``, ``size``,
    ``caption``, ``legend`` and ``put_text``)."""

    def _text_row(self, name: str, w: int, key: tuple, draw) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """A row of text (the caption, the legend) as ``draw`` puts it on a blank row of width
        ``w``, kept while ``key``, the width and the palette stay the same."""
        rows = self.__dict__.setdefault("_text_rows", {})
        full = (w, self._palette_key, key)
        hit = rows.get(name)
        if hit is None or hit[0] != full:
            c = np.full((1, w), " ", dtype="<U1")
            s = np.full((1, w), self._sid["blank"], dtype=np.int32)
            draw(c, s)
            hit = rows[name] = (full, c[0], s[0])
        return hit[1], hit[2]

    def _legend_key(self) -> tuple:
        """What the legend line depends on (besides the width and the style table)."""
        sim, lay = self._sim, self.layout_
        return (sim is not None and bool(sim.plan.leftover) and sim.order is not None,
                self._occ is not None and lay is not None and lay.per_cell == 1,
                sim.dataset.task if sim is not None else "classification", len(self._colors))

    def _put_legend(self, chars: np.ndarray, sids: np.ndarray, y: int) -> None:
        sid = self._sid
        x = 0
        lay = self.layout_
        for state, word in ((CURRENT, "current batch"), (USED, "used"), (TO_COME, "to come")):
            x = self.put_text(chars, sids, y, GLYPHS[state], sid[0, USED] if state == USED else sid["title"], x)
            x = self.put_text(chars, sids, y, f" {word}  ", sid["muted"], x)
        if self._sim is not None and self._sim.plan.leftover and self._sim.order is not None:
            x = self.put_text(chars, sids, y, "·", sid["sits"], x)
            x = self.put_text(chars, sids, y, " sits out  ", sid["muted"], x)
        if self._occ is not None and lay is not None and lay.per_cell == 1:
            x = self.put_text(chars, sids, y, "2", sid["title"], x)
            x = self.put_text(chars, sids, y, " 2nd draw  ", sid["muted"], x)
        task = self._sim.dataset.task if self._sim is not None else "classification"
        if task == "classification":
            x = self.put_text(chars, sids, y, "■", sid[0, TO_COME], x)
            x = self.put_text(chars, sids, y, " class 0 ", sid["muted"], x)
            x = self.put_text(chars, sids, y, "■", sid[len(self._colors) - 1, TO_COME], x)
            x = self.put_text(chars, sids, y, " class 1", sid["muted"], x)
        else:
            x = self.put_text(chars, sids, y, "target y: low ", sid["muted"], x)
            for lvl in range(len(self._colors)):
                x = self.put_text(chars, sids, y, "■", sid[lvl, TO_COME], x)
            x = self.put_text(chars, sids, y, " high", sid["muted"], x)
        self.legend = "".join(chars[y].tolist()).rstrip()

    def _write_text(self, sim, p) -> None:  # noqa: ANN001
        """The caption: which order, where the current batch sits, how cells are grouped.

        Parts are dropped, least important first, until the caption fits the width.
        """
        sc = sim.scenario
        c = sim.counters()
        lay = self.layout_
        n = sim.dataset.n_samples
        passes_differ = getattr(sc, "steps_per_epoch_or_none", None) is not None
        # what the caption says depends on these alone: kept while they stay (every frame)
        key = (c.pass_number if passes_differ else c.epoch, passes_differ, sc.sampling, n, id(sim.order),
               sim.order is None, sim.plan.leftover, lay.per_cell if lay is not None else None,
               self._anim is not None, getattr(self, "fast", False), self.size.width)
        if key == self.__dict__.get("_caption_key") and sim.order is self.__dict__.get("_caption_order"):
            return
        self._caption_key, self._caption_order = key, sim.order
        unit = f"Pass {c.pass_number}" if passes_differ else f"Epoch {c.epoch}"
        every = "pass" if passes_differ else "epoch"
        how = {
            "reshuffle": f"reshuffled every {every}",
            "once": f"shuffled once, same order every {every}",
            "sequential": f"sequential, same order every {every}",
            "stratified": "stratified: each batch keeps the class mix",
            "replacement": "drawn with replacement",
        }.get(sc.sampling, sc.sampling)
        parts: list[tuple[int, str]] = []            # (priority: lower is kept longer, text)
        if sim.order is None:
            parts.append((0, f"{n} samples in index order"))
            parts.append((3, "the order is drawn when the epoch starts"))
            parts.append((2, how))
        elif sc.sampling == "replacement":
            counts = np.bincount(sim.order, minlength=n)
            parts.append((0, f"{unit}: {n} draws with replacement"))
            parts.append((1, f"{int((counts >= 2).sum())} samples drawn 2+ times, {int((counts == 0).sum())} never"))
        else:
            parts.append((0, f"{unit}'s order"))
            parts.append((1, how))
        if sim.plan.leftover:
            parts.append((2, f"drop_last: {sim.plan.leftover} sit out"))
        if lay is not None and lay.per_cell > 1:
            parts.append((1, f"1 cell = {lay.per_cell} samples"))
        if self._anim is not None:
            parts.insert(1, (0, "new order!"))
        if getattr(self, "fast", False):
            parts.append((1, "colours return when epochs slow down"))
        width = self.size.width
        text = " · ".join(t for _, t in parts)
        while len(text) > width and len(parts) > 1:
            worst = max(range(len(parts)), key=lambda k: (parts[k][0], k))
            parts.pop(worst)
            text = " · ".join(t for _, t in parts)
        self.caption = text[:width]

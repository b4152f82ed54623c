"""Every panel tells the truth at every moment (issue 10, item 1).

After any change — a live key, the settings screen, the palette, a preset, ``r``, ``←`` — the
counters, the header, the strip's grouping and its caption show the new state at once, whether a
step follows or not. Expected values are computed here from N and B by hand (M = ceil(N/B) for
``drop_last`` off), never read back from the engine's plan.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest
from textual.command import CommandPalette

from engine import Scenario, Simulation
import tui.app as tui_app
from tui.app import MbsimApp

N = 200                    # the worked example: N = 200, B = 5, 1000 epochs
B0 = 5
POWERS_UP = {5: 8, 8: 16, 16: 32, 32: 64, 64: 128, 128: 200, 200: 200}
POWERS_DOWN = {5: 4, 4: 2, 2: 1, 1: 1, 8: 4, 16: 8}
SAMPLING_WORDS = {              # how the strip's caption names each sampling
    "reshuffle": "reshuffled every epoch",
    "once": "shuffled once, same order every epoch",
    "sequential": "sequential, same order every epoch",
    "replacement": "with replacement",
    "stratified": "stratified",
}


def make_app(**settings) -> MbsimApp:
    return MbsimApp(Scenario(**settings), animate=False, throttle=False)


def drive(app: MbsimApp, script, size=(120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


def algorithm(b: int, n: int = N) -> str:
    return "Batch GD" if b == n else "SGD" if b == 1 else "Mini-batch GD"


def strip_groups(app: MbsimApp) -> int:
    """Batches the strip draws: runs of cells on one row with no gap between them."""
    lay = app.strip.layout_
    assert lay is not None
    if not lay.gaps:
        return -1
    row, col = np.asarray(lay.row), np.asarray(lay.col)
    new = np.r_[True, (row[1:] != row[:-1]) | (col[1:] != col[:-1] + 1)]
    return int(new.sum())


def check_screen(app: MbsimApp, *, b: int, epoch: int, batch: int, iteration: int,
                 sampling: str = "reshuffle", lr: float = 0.05) -> None:
    """Counters, header, strip grouping and caption all show B = b (N = 200)."""
    m = math.ceil(N / b)
    text = app.counters_line.text
    assert f"Epoch {epoch}/1000  Batch {batch}/{m}  Iteration {iteration}" in text, text
    header = app.header.text
    assert f"B={b} of N={N}" in header, header
    assert algorithm(b) in header, header
    assert f"lr {lr:g}" in header, header
    if 2 <= b < N:   # batches of one sample, or one batch of all, are drawn without gaps
        assert strip_groups(app) == m
    caption = app.strip.caption
    assert SAMPLING_WORDS[sampling] in caption, caption
    if app.sim.order is not None and "Epoch" in caption:
        assert f"Epoch {epoch}'s order" in caption, caption


# ------------------------------------------------------------------------------------------------
# the issue's own examples
def test_bracket_right_then_left_shows_the_new_count_at_once():
    app = make_app()

    async def script(pilot):
        # 5 → 8 → 16 → back to 8 (the batch size the second ] came from)
        await pilot.press("right_square_bracket", "right_square_bracket", "left_square_bracket")
        check_screen(app, b=8, epoch=1, batch=0, iteration=0)      # Batch 0/25, not 0/13

    drive(app, script)


def test_bracket_right_twice_regroups_the_strip():
    app = make_app()

    async def script(pilot):
        await pilot.press("right_square_bracket", "right_square_bracket")
        check_screen(app, b=16, epoch=1, batch=0, iteration=0)     # Batch 0/13, groups of 16

    drive(app, script)


def test_mid_epoch_to_batch_gd():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "n")
        for _ in range(6):
            await pilot.press("right_square_bracket")
        check_screen(app, b=200, epoch=1, batch=0, iteration=3)    # Batch GD: Batch 0/1

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# the matrix: every live key at step 0, mid-epoch, at an epoch boundary, twice in a row
WHERE = {            # keys to get there → (epoch the change starts, iteration)
    "step 0": ((), 1, 0),
    "mid-epoch": (("n", "n", "n"), 1, 3),
    "epoch boundary": (("e",), 2, 40),
}


def expected_after(key: str, times: int) -> dict:
    """B, lr and sampling after pressing ``key`` ``times`` times from the worked example."""
    b, lr, sampling = B0, 0.05, "reshuffle"
    cycle = ["reshuffle", "once", "sequential", "replacement"]  # regression: no stratified
    for _ in range(times):
        if key == "right_square_bracket":
            b = POWERS_UP[b]
        elif key == "left_square_bracket":
            b = POWERS_DOWN[b]
        elif key == "greater_than_sign":
            lr *= 2
        elif key == "less_than_sign":
            lr /= 2
        elif key == "m":
            sampling = cycle[(cycle.index(sampling) + 1) % len(cycle)]
    return {"b": b, "lr": lr, "sampling": sampling}


LIVE_KEYS = ("left_square_bracket", "right_square_bracket", "less_than_sign", "greater_than_sign",
             "o", "m")


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("key", LIVE_KEYS)
def test_every_live_key_shows_at_once(key, where):
    app = make_app()
    before, epoch, iteration = WHERE[where]

    async def script(pilot):
        await pilot.press(*before)
        optimizers = [app.sim.optimizer.describe()]
        for times in (1, 2):          # twice in a row without a step in between
            await pilot.press(key)
            check_screen(app, epoch=epoch, batch=0, iteration=iteration, **expected_after(key, times))
            optimizers.append(app.sim.optimizer.describe())
            if key == "o":
                assert optimizers[-1] in app.header.text
        if key == "o":
            assert len(set(optimizers)) == 3                      # two different optimizers shown
        # and one step later the counters go on from the new plan
        await pilot.press("n")
        want = expected_after(key, 2)
        check_screen(app, epoch=epoch, batch=1, iteration=iteration + 1, **want)

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# other ways the state changes
def test_reset_after_a_change_shows_the_first_settings():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "right_square_bracket", "right_square_bracket")
        check_screen(app, b=16, epoch=1, batch=0, iteration=2)
        await pilot.press("r")
        check_screen(app, b=5, epoch=1, batch=0, iteration=0)

    drive(app, script)


def test_back_over_a_change_shows_the_old_settings():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "n", "right_square_bracket")
        check_screen(app, b=8, epoch=1, batch=0, iteration=3)
        await pilot.press("left")
        check_screen(app, b=5, epoch=1, batch=2, iteration=2)

    drive(app, script)


def test_back_then_a_change_at_the_same_iteration():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "left", "m")
        check_screen(app, b=5, epoch=1, batch=0, iteration=1, sampling="once")

    drive(app, script)


def test_the_settings_screen_shows_its_change_at_once():
    from tui.screens.settings import SettingsScreen

    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "n", "right_square_bracket")      # a first change at iteration 3
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.controls["batch_size"].value = "25"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is not screen
        check_screen(app, b=25, epoch=1, batch=0, iteration=3)      # the same iteration again

    drive(app, script)


def test_a_preset_from_the_palette_shows_at_once():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert CommandPalette.is_open(app)
        await pilot.press(*"preset: mini-batch-32")
        for _ in range(60):
            await pilot.pause(0.05)
            if app.screen.query("CommandList").first().option_count:
                break
        await pilot.press("down", "enter")
        for _ in range(60):
            await pilot.pause(0.05)
            if app.sim.scenario.name != "worked-example":
                break
        sim = app.sim
        n, b = sim.dataset.n_samples, sim.scenario.batch_size
        assert app.counters_line.text.startswith(f"Epoch 1/{sim.scenario.epochs}  Batch 0/{math.ceil(n / b)}  Iteration 0")
        assert f"of N={n}" in app.header.text and sim.scenario.name in app.header.text

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# the engine's side of the rule
def test_every_mutating_method_bumps_the_revision():
    sim = Simulation(Scenario())
    seen = [sim.revision]

    def bumped() -> None:
        assert sim.revision != seen[-1]
        seen.append(sim.revision)

    sim.step_phase(); bumped()
    sim.step_iteration(); bumped()
    sim.step_update(); bumped()
    sim.run_iterations(3); bumped()
    sim.run_epoch(); bumped()
    sim.apply_changes(batch_size=8); bumped()
    sim.apply_changes(batch_size=4); bumped()          # replaces the change at the same iteration
    sim.back(1); bumped()
    sim.goto_iteration(5); bumped()
    sim.reset(); bumped()
    sim.reset(); bumped()                              # even when nothing else differs
    # reading does not
    sim.counters(); sim.noise(); _ = sim.last; sim.full_gradient()
    assert sim.revision == seen[-1]


def test_a_rescue_bumps_the_revision():
    sim = Simulation(Scenario(lr=50.0))
    sim.run_to_end()
    assert sim.status == "diverged"
    r = sim.revision
    sim.apply_changes(lr=0.01)
    assert sim.revision != r and sim.status == "ready"


# ------------------------------------------------------------------------------------------------
# item 5: plots explain every line they draw
LEGEND_WORDS = {          # what the legend must say for each line the loss plot draws
    "batch": "batch", "batch_low": "batch min–max", "batch_high": "batch min–max",
    "epoch": "epoch mean", "train": "train", "val": "val", "train_acc": "train acc",
    "val_acc": "val acc",
}
BRAILLE = range(0x2800, 0x2900)


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(rgb)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_every_line_of_the_loss_plot_has_a_legend_entry(size):
    from engine.scenario import load_preset

    app = MbsimApp(load_preset("adam"), animate=False, throttle=False)

    async def script(pilot):
        await pilot.press("n", "n", "n", "greater_than_sign", "n", "n")
        app.settle()
        await pilot.pause()
        plot = app.lossplot
        legend = plot.legend
        assert set(plot.series) >= {"batch", "epoch", "val", "train", "train_acc", "val_acc"}
        for name in plot.series:
            assert LEGEND_WORDS[name] in legend, (name, legend)
        assert app.sim.changes and "setting changed" in legend, legend
        assert all(len(line) <= plot.size.width for line in legend.split("\n"))
        # every line drawn has one look: braille dots, the train loss like the others
        pal = plot._palette()
        colours = {key: _hex(pal[key]) for key in ("train", "epoch", "val")}
        body = plot._lines[legend.count("\n") + 1:]
        for key, colour in colours.items():
            glyphs = {ch for text, styles in body for ch, st in zip(text, styles)
                      if st is not None and st.color is not None and st.color.triplet is not None
                      and st.color.triplet.hex == colour}
            assert glyphs or key != "train", key           # the train loss is on top: it shows
            assert all(ord(ch) in BRAILLE for ch in glyphs), (key, glyphs)

    drive(app, script, size=size)


@pytest.mark.parametrize("steps", [1, 7, 29, 41, 101, 260, 1210])
def test_the_x_axis_ends_near_the_data(steps):
    app = make_app()

    async def script(pilot):
        app.sim.run_iterations(steps)
        app.settle()
        await pilot.pause()
        end = app.lossplot._xlim[1]
        assert steps <= end <= max(1.25 * steps, steps + 1)   # the data reach 80 % across

    drive(app, script)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_compare_plot_legend_names_all_three_runs(size):
    app = make_app()

    async def script(pilot):
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        for _ in range(12):
            await pilot.press("n")
        screen.settle()
        await pilot.pause()
        plot = screen.plot
        for name, b in (("Batch GD", 200), ("Mini-batch GD", 5), ("SGD", 1)):
            assert name in plot.legend or f"B={b} " in plot.legend + " ", plot.legend
        assert len(plot.legend) <= plot.size.width
        xmax = max(float(x.max()) for _, x, _ in plot.series if len(x))
        assert xmax <= plot._xlim[1] <= 1.25 * xmax

    drive(app, script, size=size)


# ------------------------------------------------------------------------------------------------
# item 9: screenshots on every screen, created exclusively
class NotedApp(MbsimApp):
    """The app, keeping the text of every notification."""

    CSS_PATH = str(Path(tui_app.__file__).parent / "app.tcss")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def notify(self, message, *args, **kwargs) -> None:  # noqa: ANN001
        self.notes.append(str(message))
        super().notify(message, *args, **kwargs)


def _svgs(folder) -> list:
    return sorted(p for p in folder.glob("mbsim-*.svg") if p.is_file() and not p.is_symlink())


@pytest.mark.parametrize("where", ["compare", "help", "lens", "phase", "settings"])
def test_S_takes_a_screenshot_on_every_screen_and_says_where(where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = NotedApp(Scenario(), animate=False, throttle=False)
    opener = {"compare": "c", "help": "question_mark", "lens": "l", "phase": "d", "settings": "s"}[where]

    async def script(pilot):
        await pilot.press("n", opener)
        await pilot.pause()
        if where == "settings":
            app.screen.focus_next()     # away from a text field (there S is a letter typed)
            app.set_focus(None)
            await pilot.pause()
        shown = app.screen
        await pilot.press("S")
        await pilot.pause()
        files = _svgs(tmp_path)
        assert len(files) == 1, where
        svg = files[0].read_text()
        assert svg.startswith("<svg")
        marker = {"compare": "Batch GD", "help": "help", "lens": "lens", "phase": "phase view",
                  "settings": "batch_size"}[where]
        assert marker.replace(" ", "&#160;") in svg or marker in svg
        assert app.screen is shown                            # the screen stays as it was
        assert any(str(files[0]) in note for note in app.notes), app.notes

    drive(app, script)


def test_the_palette_takes_a_screenshot_in_compare_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = NotedApp(Scenario(), animate=False, throttle=False)

    async def script(pilot):
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"screenshot")
        for _ in range(60):
            await pilot.pause(0.05)
            if app.screen.query("CommandList").first().option_count:
                break
        await pilot.press("down", "enter")
        for _ in range(60):
            await pilot.pause(0.05)
            if _svgs(tmp_path):
                break
        files = _svgs(tmp_path)
        assert len(files) == 1
        assert "Mini-batch" in files[0].read_text().replace("&#160;", " ")
        assert any(str(files[0]) in note for note in app.notes)

    drive(app, script)


def test_a_screenshot_never_follows_a_planted_link_nor_overwrites(tmp_path):
    app = NotedApp(Scenario(), animate=False, throttle=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "shot.svg").symlink_to(tmp_path / "nowhere.svg")      # dangling
    (tmp_path / "shot-2.svg").symlink_to(victim)                       # to an existing file
    (tmp_path / "shot-3.svg").write_text("an older picture")

    async def script(pilot):
        app.action_screenshot(filename="shot.svg", path=str(tmp_path))
        assert not (tmp_path / "nowhere.svg").exists()
        assert victim.read_text() == "keep me"
        assert (tmp_path / "shot-3.svg").read_text() == "an older picture"
        made = tmp_path / "shot-4.svg"
        assert made.is_file() and not made.is_symlink()
        assert made.read_text().startswith("<svg")
        assert any(str(made) in note for note in app.notes)

    drive(app, script)


def test_write_new_refuses_links_and_existing_files(tmp_path):
    from tui.files import create_numbered, write_new

    (tmp_path / "a.toml").symlink_to(tmp_path / "elsewhere.toml")
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "a.toml", "x = 1\n")
    assert not (tmp_path / "elsewhere.toml").exists()
    (tmp_path / "b.toml").write_text("old")
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "b.toml", "new")
    assert (tmp_path / "b.toml").read_text() == "old"
    assert create_numbered(tmp_path, "b", ".toml", "new") == tmp_path / "b-2.toml"


def test_the_save_prompt_refuses_a_link(tmp_path):
    from tui.screens.save import check_path

    (tmp_path / "s.toml").symlink_to(tmp_path / "target.toml")
    path, message = check_path("s.toml", tmp_path)
    assert path is None and "link" in message


# ------------------------------------------------------------------------------------------------
# item 10: small things
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_the_strips_brackets_show_around_every_batch(size):
    app = make_app()

    async def script(pilot):
        for _ in range(40):                          # every batch of the epoch, the last too
            app.sim.step_iteration()
            app.redraw(force=True)
            await pilot.pause()
            chars = app.strip._chars
            lay = app.strip.layout_
            if not lay.gaps:
                continue
            text = ["".join(row) for row in chars.tolist()]
            assert sum(row.count("[") for row in text) == 1, text
            assert sum(row.count("]") for row in text) == 1, (app.sim.iteration, text)

    drive(app, script, size=size)


def test_a_saved_scenario_describes_the_changed_settings():
    from tui.live import scenario_to_save

    app = make_app()

    async def script(pilot):
        assert scenario_to_save(app.sim).description == Scenario().description
        await pilot.press("n", "right_square_bracket", "greater_than_sign")
        saved = scenario_to_save(app.sim)
        assert saved.batch_size == 8 and saved.lr == 0.1
        assert "batches of 5" not in saved.description
        assert "batch_size 5 → 8" in saved.description and "lr 0.05 → 0.1" in saved.description

    drive(app, script)


def test_compare_align_says_the_runs_restart():
    app = NotedApp(Scenario(), animate=False, throttle=False)

    async def script(pilot):
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("n", "n", "a")
        await pilot.pause()
        assert any("aligned by samples" in n and "restarted" in n for n in app.notes), app.notes
        assert app.screen.comp.target == 0

    drive(app, script)


def test_micro_reads_k_of_k_right_after_a_step():
    app = make_app(samples=256, batch_size=8, accumulate=4, epochs=3)

    async def script(pilot):
        assert app.counters_line.text.endswith("micro 0/4")
        await pilot.press("n", "n")
        assert app.counters_line.text.endswith("Step 0  Samples 16  micro 2/4")
        await pilot.press("n", "n")
        assert app.counters_line.text.endswith("Step 1  Samples 32  micro 4/4")
        await pilot.press("n")
        assert app.counters_line.text.endswith("Step 1  Samples 40  micro 1/4")

    drive(app, script)


def shown_title(app: MbsimApp) -> str:
    """The first line of text the phase view shows (inside its border)."""
    from textual.geometry import Region

    view = app.phase_view
    g = view.styles.gutter
    lines = view.render_lines(Region(g.left, g.top, view.content_size.width, view.content_size.height))
    return "".join(seg.text for seg in lines[0]).strip()


def test_the_phase_view_says_done_or_in_progress_like_the_counters():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "d")
        title = shown_title(app)
        assert "Iteration 2" in app.counters_line.text
        assert title.startswith("Iteration 2 done · epoch 1, batch 2"), title
        await pilot.press("p")
        title = shown_title(app)
        assert "Batch 2/40  Iteration 2" in app.counters_line.text   # not counted yet
        assert title.startswith("Iteration 3 in progress · epoch 1, batch 3"), title
        await pilot.press("p", "p", "p")
        title = shown_title(app)
        assert "Batch 3/40  Iteration 3" in app.counters_line.text
        assert title.startswith("Iteration 3 done · epoch 1, batch 3"), title

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# item 8: speeds below one batch per second
def test_speeds_below_one_batch_per_second():
    app = MbsimApp(Scenario(), animate=False, throttle=False, speed="1")

    async def script(pilot):
        await pilot.press("minus")
        assert app.speed == 0.5
        await pilot.press("space")
        assert "running ×0.5" in app.header.text
        await pilot.press("space", "minus")
        assert app.speed == 0.2
        await pilot.press("minus")
        assert app.speed == 0.2                      # the slowest
        await pilot.press("plus", "plus")
        assert app.speed == 1

    drive(app, script)


def test_the_command_line_speed_below_one():
    from tui.app import parse_speed

    assert parse_speed("0.5") == 0.5 and parse_speed("0.2") == 0.2
    with pytest.raises(ValueError, match="at least 0.2"):
        parse_speed("0.1")

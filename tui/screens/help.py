"""The help screen (``?``): each panel, each key and each term, in a sentence."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

PANELS = (
    ("Header", "the scenario, the algorithm its batch size makes, the optimizer, the learning "
               "rate, and whether the run is paused, running, finished, diverging (the loss is climbing away: the run pauses there) or diverged."),
    ("Counters", "how far training has got, counted five ways: the epoch, the batch within it, "
                 "iterations, optimizer steps and samples seen."),
    ("Sample strip", "every training sample in the order this epoch visits them: the current "
                     "batch is highlighted and the samples already used are dimmed; watch the "
                     "order change when a new epoch reshuffles."),
    ("Landscape", "the loss on the whole training set over two parameters (dark is low), the "
                  "path of full-batch gradient descent (solid), this run's path (dotted), the "
                  "current point, and arrows for the full gradient G and the batch gradient ĝ."),
    ("Loss plot", "the loss of each batch (faint and jumpy), its running mean over the epoch, "
                  "the loss on the whole training set, and on held-out validation samples."),
    ("Detail line", "the phase just done in the current iteration, and the noise of the batch "
                    "gradient at this point."),
)

NOISE = (
    ("|G|, |ĝ|", "the lengths of the full gradient and of this batch's gradient."),
    ("cos(ĝ,G)", "how well the batch gradient points the same way as the full one (1 is the same)."),
    ("tr Cov[ĝ]", "how much ĝ varies from batch to batch, summed over the parameters; exact, "
                  "for batches drawn without replacement (finite population correction)."),
    ("B_simple", "the batch size at which that noise is about as large as the gradient itself."),
)

KEYS = (
    ("space", "run or pause; the header shows which."),
    ("n  →", "one batch: one iteration (forward, loss, backward, update)."),
    ("e", "run to the end of the current epoch."),
    ("p", "one phase of the iteration: forward, then loss, then backward, then update."),
    ("←  backspace", "step back one iteration, exactly, even across an epoch boundary."),
    ("+  -", "faster or slower: ×10 means ten batches a second, ×0.5 one every 2 seconds, ×max as fast as possible."),
    ("[  ]", "batch size to the previous / next power of two (1 and N at the ends), from the next step; the parameters are kept."),
    ("<  >", "halve / double the learning rate, from the next step."),
    ("o", "next optimizer: SGD, momentum, Nesterov, RMSprop, Adagrad, Adam, AdamW (fresh optimizer state)."),
    ("m", "next sampling order: reshuffle, once, sequential, with replacement, stratified."),
    ("s", "settings: every setting, checked as you type; says whether Apply keeps the run or starts a new one."),
    ("c", "compare mode: Batch GD, this batch size and SGD side by side from the same start."),
    ("k", "the noise cloud: K runs (100, or mbsim --runs K) with different sampling seeds from the same start, their spread measured and predicted."),
    ("l", "the one-dimensional lens: each sample's own loss along one line, and their mean."),
    ("d", "the phase view: the current batch's inputs, predictions, losses, gradients and update (p opens it too)."),
    ("a", "the arithmetic line: the batch arithmetic of the settings in force, with numbers "
          "(⌈N/B⌉ batches per epoch, the last one's size, × epochs = steps); [ and ] change it at once."),
    ("b", "the batch-size lab: steps and examples to reach one loss for B = 1, 2, 4, …, N, the fitted "
          "critical batch size next to B_simple (escape stops the sweep, b or escape comes back)."),
    ("shift+s", "save an SVG screenshot of the screen shown in the working folder (also here and in compare mode)."),
    ("r", "start again from the same data and the same initial parameters."),
    ("?", "this help (escape or ? closes it)."),
    ("q  ctrl+c", "quit."),
    ("pgdn  .", "in a lesson (mbsim lesson NAME): the next slide; its directives run (pgup  , the previous one, exactly as it began; enter reveals an answer, t types one)."),
    ("ctrl+p", "the command palette: presets, x axis of the loss plot, landscape parameters, save the scenario, themes."),
)

TERMS = (
    ("sample", "one training example: an input and its target."),
    ("batch", "the group of B samples whose average gradient is used for one update."),
    ("iteration", "one forward and backward pass over one batch."),
    ("step", "one change of the parameters by the optimizer; with gradient accumulation "
             "several iterations (micro-batches) make one step."),
    ("epoch", "the unit the training loop counts in: one pass over the data, unless "
              "steps_per_epoch fixes it at a number of steps instead (epoch_end then says what "
              "happens where a pass runs out: continue, cut the epoch short, or restart)."),
    ("pass", "one sweep through every training sample, in the epoch's shuffled order."),
    ("Batch GD", "B = N: each step uses the whole training set, so the path is smooth and an "
                 "epoch is a single step."),
    ("SGD", "B = 1: each step uses one sample, so steps are cheap but noisy."),
    ("Mini-batch GD", "1 < B < N: the usual middle way, about N/B steps per epoch."),
    ("short last batch", "when B does not divide N the last batch of a pass has fewer samples, "
                         "but it still makes a full step with the same learning rate "
                         "(unless drop_last leaves those samples out)."),
)


SECTIONS = (
    ("Panels", PANELS),
    ("Noise readout", NOISE),
    ("Keys", KEYS),
    ("Terms", TERMS),
)


def help_text() -> str:
    """The whole help as plain text (for tests and the README)."""
    return "\n\n".join(
        "\n".join([title] + [f"  {name}: {text}" for name, text in rows]) for title, rows in SECTIONS
    )


class HelpScreen(ModalScreen[None]):
    """Help over the main screen; escape, ? or q closes it. A screen's own help (compare mode,
    the noise cloud) is a subclass with its :attr:`BOX_TITLE` and :attr:`SECTIONS`."""

    BOX_TITLE = "mbsim help"
    SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = SECTIONS

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "close help"),
        Binding("S", "app.screenshot", "screenshot", show=False),  # a modal screen hides the app's
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box") as box:
            box.border_title = self.BOX_TITLE
            box.border_subtitle = "↑ ↓ scroll · escape closes"
            with VerticalScroll(id="help-scroll"):
                for title, rows in self.SECTIONS:
                    yield Static(title, classes="help-section")
                    with Grid(classes="help-grid"):
                        for name, text in rows:
                            yield Static(name, classes="help-name", markup=False)
                            yield Static(text, classes="help-text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)

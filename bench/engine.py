"""Benchmark of the engine (DESIGN.md "Budgets", issue 14); prints ratios, is not a test.

Every budget of issue 14 in one run, CPU time (user + system of the child processes, or of this
process), medians of alternating rounds:

A. worked example, whole processes: ``mbsim run --quiet`` vs the minimal updates-only loop (<= 1.5x)
B. ``mbsim run --quiet --history F`` vs the minimal loop computing the same per-step values (<= 1.3x)
C. trace and history writers: extra CPU per step over ``mbsim run --quiet`` (<= 15 / <= 8 us)
D. per-step cost vs N, B = 32, linear and logistic: N = 1e5 and 1e6 within 2x of N = 1e4
E. MLP-64 at N = 1e5 vs the batch-only floor (the model's loss_and_grad + the optimizer) (<= 5x)
F. startup: mbsim --help, plan, presets, lesson --check vs python -c pass (target <= 0.12 s)
G. (as before) in-process Simulation vs the loop, and torch DataLoader + SGD where installed

Older description of part A:

The worked example (N = 200 samples on a line, batches of 5 reshuffled every epoch, plain SGD
with lr 0.05, 1000 epochs = 40,000 steps), three ways:

1. whole processes, timed side by side (alternating, median of ROUNDS): ``mbsim run --quiet``
   against a separate ``python -c`` process running a minimal hand-written NumPy loop that does
   the same updates on the same data (read from ``mbsim run --data-out``) and the same per-step
   measurements mbsim records: the batch loss before the update and the full training loss
   after it. Budget: ratio <= 1.5.
2. in-process: ``Simulation(Scenario()).run_to_end()`` against the same loop.
3. where torch is importable: the same loop written with ``DataLoader(shuffle=True)``,
   ``nn.Linear`` and ``torch.optim.SGD`` (float64, one thread), in-process.

Run it after the README's install:  .venv/bin/python bench/engine.py [--rounds N] [--epochs E]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this file is called engine.py: make `import engine` find the package, not this script
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

# The reference: the minimal NumPy loop, as a standalone program (argv: data.csv epochs mode).
# mode "updates": the same SGD updates only (the issue-14 budget for `mbsim run --quiet`);
# mode "history": also the values `--history` writes per step: the batch loss before the update,
# the Keras running epoch mean, and the full training and validation losses where mbsim
# evaluates them (every EVAL steps and at every epoch end).
REFERENCE = r"""
import sys
import numpy as np
data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
X, y = np.ascontiguousarray(data[:, :-1]), np.ascontiguousarray(data[:, -1])
epochs, B, lr, mode, EVAL = int(sys.argv[2]), 5, 0.05, sys.argv[3], int(sys.argv[4])
Xv, yv = X[:50] * 0.5, y[:50] * 0.5                # a held-out set of the same size as mbsim's
N = len(y)
rng = np.random.default_rng(0)
w = np.zeros(X.shape[1])
b = 0.0
steps = epochs * -(-N // B)
rows = np.full((steps, 4), np.nan)
k = 0
for epoch in range(epochs):
    order = rng.permutation(N)
    total = 0.0
    n = 0
    for start in range(0, N, B):
        idx = order[start:start + B]
        xb, yb = X[idx], y[idx]
        r = xb @ w + b - yb                      # forward
        gw = (2.0 / len(idx)) * (xb.T @ r)       # backward
        gb = 2.0 * r.mean()
        w = w - lr * gw                          # SGD update
        b = b - lr * gb
        if mode == "history":
            bl = r @ r / len(idx)                # batch loss before the update (MSE, no 1/2)
            total += bl * len(idx)
            n += len(idx)
            rows[k, 0], rows[k, 1] = bl, total / n
            if (k + 1) % EVAL == 0 or start + B >= N:
                rf = X @ w + b - y
                rv = Xv @ w + b - yv
                rows[k, 2], rows[k, 3] = rf @ rf / N, rv @ rv / len(yv)
        k += 1
rf = X @ w + b - y
print(repr(float(rf @ rf / N)))
"""

TORCH = r'''
def torch_loop(X, y, epochs, B=5, lr=0.05):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    torch.set_num_threads(1)
    torch.manual_seed(0)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    model = torch.nn.Linear(Xt.shape[1], 1).double()
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.MSELoss()
    loader = DataLoader(TensorDataset(Xt, yt), batch_size=B, shuffle=True)
    for epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)      # batch loss before the update
            loss.backward()
            opt.step()
            batch_loss = loss.item()
            with torch.no_grad():
                train_loss = loss_fn(model(Xt).squeeze(1), yt).item()   # full loss after
    return train_loss
'''


def mbsim_command() -> list[str]:
    """The installed console script, or the module when running from a source tree."""
    script = Path(sys.executable).parent / "mbsim"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "mbsim"]


def cpu(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """CPU seconds (user + system) of one child process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in ok:
        raise SystemExit(f"bench: {' '.join(cmd[:4])} ... failed ({result.returncode}): {result.stderr.strip()}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.stdout.strip()


def medians(cmds: dict[str, list[str]], env: dict[str, str], rounds: int
            ) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Median CPU time of each command, run side by side in alternating rounds (in the order
    of ``cmds``), and every round's times."""
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(rounds):
        for name, cmd in cmds.items():
            times[name].append(cpu(cmd, env)[0])
    return {name: statistics.median(t) for name, t in times.items()}, times


def paired(times: dict[str, list[float]], num: str, den: str) -> float:
    """Median over rounds of num / den, each ratio from one round: commands run next to each
    other, so a change of the machine's speed between rounds moves both."""
    return statistics.median(a / b for a, b in zip(times[num], times[den]))


def verdict(ratio: float, budget: float) -> str:
    return f"budget <= {budget:g}x {'OK' if ratio <= budget else 'OVER'}"


def per_step_cpu(make, iterations: int) -> float:
    """CPU seconds per iteration of ``sim.run_iterations`` on a fresh simulation (construction
    and data generation not counted)."""
    sim = make()
    sim.run_iterations(50)                           # warm up (first orders, caches)
    start = time.process_time()
    ran = sim.run_iterations(iterations)
    return (time.process_time() - start) / max(1, ran)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="fewer rounds and steps (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.epochs = 1, 100
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # as installed: compiled modules are cached (a sandbox may set PYTHONDONTWRITEBYTECODE,
    # which makes every process compile mbsim's sources again and measures that instead)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    mbsim = mbsim_command()
    epochs = str(args.epochs)
    steps = args.epochs * 40
    sys.path.insert(0, str(ROOT))
    from mbsim.engine.scenario import Scenario
    from mbsim.engine.simulation import Simulation
    from mbsim.engine.threads import use_one_blas_thread

    use_one_blas_thread()
    k_eval = Simulation(Scenario(epochs=1)).eval_every

    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "worked-example.csv")
        cpu(mbsim + ["run", "--quiet", "--epochs", "1", "--data-out", data], env)
        hist, trace = str(Path(tmp) / "h.csv"), str(Path(tmp) / "t.jsonl")
        cmds = {   # each budget's two commands next to each other in a round (paired ratios)
            "run": mbsim + ["run", "--quiet", "--epochs", epochs],
            "ref": [sys.executable, "-c", REFERENCE, data, epochs, "updates", str(k_eval)],
            "history": mbsim + ["run", "--quiet", "--epochs", epochs, "--history", hist],
            "ref_history": [sys.executable, "-c", REFERENCE, data, epochs, "history", str(k_eval)],
            "trace": mbsim + ["run", "--quiet", "--epochs", epochs, "--trace", trace],
            "pass": [sys.executable, "-c", "pass"],
        }
        for cmd in cmds.values():                    # warm the file cache
            cpu(cmd, env)
        t, rounds = medians(cmds, env, args.rounds)
        print(f"worked example: N=200 (+50 val), B=5, {args.epochs} epochs = {steps:,} SGD steps; "
              f"eval every {k_eval} steps; CPU time, median of {args.rounds} alternating rounds")
        for name in cmds:
            print(f"  {name:12s} {t[name]:8.3f} s")
        a = t["run"] / t["ref"]
        b = t["history"] / t["ref_history"]
        pa, pb = paired(rounds, "run", "ref"), paired(rounds, "history", "ref_history")
        print(f"A ratio run --quiet / updates-only loop       {a:6.2f}x (paired {pa:4.2f}x)   "
              f"{verdict(max(a, pa), 1.5)}")
        print(f"B ratio run --history / same-values loop      {b:6.2f}x (paired {pb:4.2f}x)   "
              f"{verdict(max(b, pb), 1.3)}")
        tw = (t["trace"] - t["run"]) / steps * 1e6
        hw = (t["history"] - t["run"]) / steps * 1e6
        print(f"C trace writer   {tw:6.1f} us/step   budget <= 15 {'OK' if tw <= 15 else 'OVER'}")
        print(f"C history writer {hw:6.1f} us/step   budget <= 8 {'OK' if hw <= 8 else 'OVER'}")

    # D. per-step cost vs N (B = 32), in-process, nothing reading the losses but the eval points
    iters = 2000 if args.quick else 6000
    for dataset, model in (("line", "linear"), ("blobs", "logistic")):
        costs = {}
        for n in (10_000, 100_000, 1_000_000):
            sc = Scenario(dataset=dataset, samples=n, val_samples=n // 10, batch_size=32, epochs=1000)
            costs[n] = min(per_step_cpu(lambda: Simulation(sc), iters) for _ in range(2))
        base = costs[10_000]
        print(f"D {model:8s} B=32 per step: " + "  ".join(f"N={n:,}: {c * 1e6:6.1f} us" for n, c in costs.items()))
        for n in (100_000, 1_000_000):
            r = costs[n] / base
            print(f"D {model:8s} N={n:,} / N=10,000  {r:6.2f}x   {verdict(r, 2.0)}")

    # E. MLP-64 at N = 1e5 against the batch-only floor
    sc = Scenario(dataset="moons", samples=100_000, val_samples=10_000, model="mlp", hidden=64,
                  batch_size=32, epochs=1000)
    mlp = min(per_step_cpu(lambda: Simulation(sc), iters // 2) for _ in range(2))
    sim = Simulation(sc)
    import numpy as np

    X, y, params = sim.X, sim.y, sim.params
    opt = sim.optimizer
    state = opt.init(params)
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(y) - 32, size=iters)
    start = time.process_time()
    for s0 in starts:
        _, g = sim.model.loss_and_grad(params, X[s0:s0 + 32], y[s0:s0 + 32])
        params, state = opt.update(g, state, params, 0.05)
    floor = (time.process_time() - start) / iters
    r = mlp / floor
    print(f"E MLP-64 N=100,000 B=32: {mlp * 1e6:6.1f} us/step, floor {floor * 1e6:6.1f} us  {r:6.2f}x   {verdict(r, 5.0)}")

    # F. startup
    starts_cmds = {
        "pass": [sys.executable, "-c", "pass"],
        "--help": mbsim + ["--help"],
        "plan": mbsim + ["plan"],
        "presets": mbsim + ["presets"],
    }
    probe = subprocess.run(mbsim + ["lesson", "--help"], capture_output=True, env=env)
    if probe.returncode == 0:
        starts_cmds["lesson --check"] = mbsim + ["lesson", "--check", "intro"]
    for cmd in starts_cmds.values():                 # warm: compiled modules cached
        subprocess.run(cmd, capture_output=True, env=env, stdin=subprocess.DEVNULL)
    cpu_t: dict[str, list[float]] = {k: [] for k in starts_cmds}
    wall_t: dict[str, list[float]] = {k: [] for k in starts_cmds}
    for _ in range(max(5, args.rounds)):
        for name, cmd in starts_cmds.items():
            t0 = time.perf_counter()
            cpu_t[name].append(cpu(cmd, env, ok=(0, 2))[0])
            wall_t[name].append(time.perf_counter() - t0)
    p = statistics.median(cpu_t["pass"])
    for name in starts_cmds:
        m, w = statistics.median(cpu_t[name]), statistics.median(wall_t[name])
        extra = "" if name == "pass" else (f"   {m / p:5.2f}x python -c pass   target <= 0.12 s "
                                           f"{'OK' if m <= 0.12 else 'OVER'}")
        print(f"F startup {name:14s} {m:6.3f} s CPU ({w:6.3f} s wall){extra}")
    if "lesson --check" not in starts_cmds:
        print("F startup lesson --check: no `mbsim lesson` command in this tree")

    if args.quick:
        return
    in_process(args, data_loop_steps=steps)


def in_process(args: argparse.Namespace, data_loop_steps: int) -> None:
    """G. in-process Simulation.run_to_end vs the loop, and torch where importable."""
    import numpy as np

    from mbsim.engine.scenario import Scenario
    from mbsim.engine.simulation import Simulation

    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "d.csv")
        cpu(mbsim_command() + ["run", "--quiet", "--epochs", "1", "--data-out", data],
            {**os.environ, "PYTHONPATH": str(ROOT)})
        table = np.loadtxt(data, delimiter=",", skiprows=1, ndmin=2)
    ref_src = REFERENCE.replace('data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)', "data = TABLE")
    ref_src = ref_src.replace("int(sys.argv[2]), 5, 0.05, sys.argv[3], int(sys.argv[4])", "EPOCHS, 5, 0.05, 'updates', 20")
    ref_src = ref_src.replace("print(repr(float(rf @ rf / N)))", "")
    code = compile(ref_src, "<reference>", "exec")
    t_sim, t_loop = [], []
    for _ in range(args.rounds):
        start = time.process_time()
        sim = Simulation(Scenario(epochs=args.epochs))
        sim.run_to_end()
        t_sim.append(time.process_time() - start)
        start = time.process_time()
        exec(code, {"TABLE": table, "EPOCHS": args.epochs})
        t_loop.append(time.process_time() - start)
    s, lp = statistics.median(t_sim), statistics.median(t_loop)
    steps = data_loop_steps
    print(f"G in-process Simulation.run_to_end {s:7.3f} s ({steps / s:,.0f} steps/s); "
          f"updates-only loop {lp:7.3f} s; ratio {s / lp:5.2f}x")
    try:
        import torch  # noqa: F401
    except ImportError:
        print("G torch: not importable here, no DataLoader + torch.optim.SGD comparison")
        return
    namespace: dict = {}
    exec(TORCH, namespace)
    X, y = table[:, :-1], table[:, -1]
    start = time.process_time()
    namespace["torch_loop"](X, y, args.epochs)
    tt = time.process_time() - start
    print(f"G in-process torch DataLoader+SGD  {tt:7.3f} s; mbsim / torch {s / tt:5.2f}x")


if __name__ == "__main__":
    main()

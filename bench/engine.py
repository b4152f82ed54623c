"""Benchmark of the engine (DESIGN.md "Budgets"); prints numbers, is not a test.

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

# The reference: the minimal NumPy loop, as a standalone program (argv: data.csv epochs).
REFERENCE = r'''
import sys
import numpy as np
data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
X, y = np.ascontiguousarray(data[:, :-1]), np.ascontiguousarray(data[:, -1])
epochs, B, lr = int(sys.argv[2]), 5, 0.05
N = len(y)
rng = np.random.default_rng(0)
w = np.zeros(X.shape[1])
b = 0.0
batch_losses = np.empty(epochs * -(-N // B))
train_losses = np.empty_like(batch_losses)
k = 0
for epoch in range(epochs):
    order = rng.permutation(N)
    for start in range(0, N, B):
        idx = order[start:start + B]
        xb, yb = X[idx], y[idx]
        r = xb @ w + b - yb                      # forward
        batch_losses[k] = r @ r / len(idx)       # batch loss before the update (MSE, no 1/2)
        gw = (2.0 / len(idx)) * (xb.T @ r)       # backward
        gb = 2.0 * r.mean()
        w = w - lr * gw                          # SGD update
        b = b - lr * gb
        rf = X @ w + b - y
        train_losses[k] = rf @ rf / N            # full training loss after the update
        k += 1
print(repr(float(train_losses[k - 1])))
'''

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
    return [sys.executable, "-m", "tui"]


def wall(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} ... failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed, result.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=1000)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    mbsim = mbsim_command()
    epochs = str(args.epochs)
    steps = args.epochs * 40

    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "worked-example.csv")
        wall(mbsim + ["run", "--quiet", "--epochs", "1", "--data-out", data], env)
        run_cmd = mbsim + ["run", "--quiet", "--epochs", epochs]
        ref_cmd = [sys.executable, "-c", REFERENCE, data, epochs]
        wall(run_cmd, env), wall(ref_cmd, env)  # warm the file cache
        t_mbsim, t_ref = [], []
        for _ in range(args.rounds):  # side by side, alternating
            t_mbsim.append(wall(run_cmd, env)[0])
            t, ref_loss = wall(ref_cmd, env)
            t_ref.append(t)
        start = time.perf_counter()
        wall([sys.executable, "-c", "import numpy"], env)
        t_numpy = time.perf_counter() - start

        m, r = statistics.median(t_mbsim), statistics.median(t_ref)
        print(f"worked example: N=200, B=5, {args.epochs} epochs = {steps:,} SGD steps; "
              f"median of {args.rounds} alternating rounds")
        print(f"  whole process  mbsim run --quiet     {m:8.3f} s   ({steps / m:,.0f} steps/s)")
        print(f"  whole process  NumPy reference loop  {r:8.3f} s   ({steps / r:,.0f} steps/s)"
              f"   final train loss {float(ref_loss):.4f}")
        print(f"  (python -c 'import numpy' alone: {t_numpy:.3f} s)")
        print(f"  ratio mbsim / reference (process)    {m / r:8.2f}x   budget <= 1.5x "
              f"{'OK' if m / r <= 1.5 else 'OVER'}")

        # in-process
        import numpy as np

        from engine.scenario import Scenario
        from engine.simulation import Simulation

        table = np.loadtxt(data, delimiter=",", skiprows=1, ndmin=2)
        ref_src = REFERENCE.replace("data = np.loadtxt(sys.argv[1], delimiter=\",\", skiprows=1, ndmin=2)",
                                    "data = TABLE").replace("int(sys.argv[2])", "EPOCHS")
        ref_src = ref_src.replace("print(repr(float(train_losses[k - 1])))", "")
        code = compile(ref_src, "<reference>", "exec")
        t_sim, t_loop = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            sim = Simulation(Scenario(epochs=args.epochs))
            sim.run_to_end()
            t_sim.append(time.perf_counter() - start)
            start = time.perf_counter()
            exec(code, {"TABLE": table, "EPOCHS": args.epochs})
            t_loop.append(time.perf_counter() - start)
        s, lp = statistics.median(t_sim), statistics.median(t_loop)
        print(f"  in-process     Simulation.run_to_end {s:8.3f} s   ({steps / s:,.0f} steps/s)   "
              f"final train loss {sim.train_loss:.4f}")
        print(f"  in-process     NumPy reference loop  {lp:8.3f} s   ({steps / lp:,.0f} steps/s)")
        print(f"  ratio mbsim / reference (in-process) {s / lp:8.2f}x")

        try:
            import torch  # noqa: F401
        except ImportError:
            print("  torch: not importable here, no DataLoader + torch.optim.SGD comparison")
            return
        namespace: dict = {}
        exec(TORCH, namespace)
        X, y = table[:, :-1], table[:, -1]
        t_torch = []
        for _ in range(1):  # torch is slow here; one round is enough for a ratio
            start = time.perf_counter()
            torch_loss = namespace["torch_loop"](X, y, args.epochs)
            t_torch.append(time.perf_counter() - start)
        tt = statistics.median(t_torch)
        print(f"  in-process     torch DataLoader+SGD  {tt:8.3f} s   ({steps / tt:,.0f} steps/s)   "
              f"final train loss {torch_loss:.4f}")
        print(f"  ratio mbsim / torch (in-process)     {s / tt:8.2f}x")


if __name__ == "__main__":
    main()

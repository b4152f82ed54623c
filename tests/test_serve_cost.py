"""What a session of ``mbsim serve`` costs to start (issue 24 item 3: 30 tabs opening at once).

The fork server (tui.web_zygote) does once what every session would do first: a forked session
imports nothing, finds the command line's parser built, and the fork server is single-threaded
with its objects frozen out of the collector when it forks. ``python -m mbsim`` without a
terminal refuses before importing the TUI. Nothing here is timed: what is checked is what is
(not) done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: In a fresh interpreter with a session's environment: prepare() as the fork server does, then
#: fork a session exactly as tui.web_zygote._session does (its pipes as stdin/stdout), let it
#: draw its first screens, ask it to quit, and report what the child imported after the fork.
FORKED_SESSION = textwrap.dedent("""
    import gc, json, os, select, sys, threading, time
    import mbsim.tui.web_zygote as zygote

    zygote.prepare()
    report = {"threads": threading.active_count(), "frozen": gc.get_freeze_count()}
    r_in, w_in = os.pipe(); r_out, w_out = os.pipe(); r_rep, w_rep = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w_in); os.close(r_out); os.close(r_rep)
        os.dup2(r_in, 0); os.dup2(w_out, 1)
        before = set(sys.modules)
        sys.argv = ["mbsim"]
        try:
            from mbsim.tui.entry import main
            code = main()
        except BaseException as exc:
            code = repr(exc)
        new = sorted(set(sys.modules) - before)
        os.write(w_rep, json.dumps({"new": new, "code": code}).encode())
        os._exit(0)
    os.close(r_in); os.close(w_out); os.close(w_rep)
    received, end = b"", time.monotonic() + 60
    while time.monotonic() < end and len(received) < 30_000:  # the first screen
        ready, _, _ = select.select([r_out], [], [], 1.0)
        if ready:
            chunk = os.read(r_out, 1 << 20)
            if not chunk:
                break
            received += chunk
    time.sleep(1.0)  # the app's own first frames (the panels drawn after Ready)
    while select.select([r_out], [], [], 0)[0] and os.read(r_out, 1 << 20):
        pass
    quit = json.dumps({"type": "quit"}).encode()
    os.write(w_in, b"M" + len(quit).to_bytes(4, "big") + quit)
    os.close(w_in)
    while select.select([r_out], [], [], 30)[0] and os.read(r_out, 1 << 20):
        pass
    os.waitpid(pid, 0)
    child = json.loads(os.read(r_rep, 1 << 20) or b"{}")
    report.update(child, screen_bytes=len(received))
    print(json.dumps(report))
""")


def session_env() -> dict[str, str]:
    from mbsim.tui.webserve import session_environment

    env = session_environment({}, 100, 30)  # textual-serve's: the web driver, the size
    env.pop("MBSIM_FORCE_TUI", None)
    return env


def test_a_forked_session_imports_nothing_and_the_fork_server_forks_single_threaded():
    done = subprocess.run([sys.executable, "-c", FORKED_SESSION], cwd=ROOT, env=session_env(),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["screen_bytes"] > 10_000, report          # the session drew its screen
    assert report["code"] == 0, report                        # and quit when asked
    assert report["new"] == [], ("a forked session imported these after the fork; import them "
                                 f"in tui.web_zygote.prepare: {report['new']}")
    assert report["threads"] == 1                             # fork() with no other thread
    assert report["frozen"] > 10_000                          # gc.freeze() after the imports


def test_the_prebuilt_parser_is_taken_once_and_parses_as_a_new_one(capsys):
    import mbsim.tui.cli as cli

    assert cli.main(["plan", "--batch-size", "8"]) == 0
    fresh = capsys.readouterr().out
    cli.prebuild_parser()
    prebuilt = cli._prebuilt
    assert prebuilt is not None
    assert cli.main(["plan", "--batch-size", "8"]) == 0
    assert cli._prebuilt is None                              # taken by that main()
    assert capsys.readouterr().out == fresh
    assert cli._parser() is not prebuilt                      # later calls build their own
    assert "25 batches per epoch: 25 × 8" in fresh


REFUSAL = textwrap.dedent("""
    import sys
    from mbsim.tui.cli import main
    code = main(sys.argv[1:])
    tui = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich", "plotext")
                 or m == "mbsim.tui.app")
    print(code, len(tui))
""")


def refuse(*args: str) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TEXTUAL_DRIVER", "MBSIM_FORCE_TUI")}
    done = subprocess.run([sys.executable, "-c", REFUSAL, *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    return done.stdout.strip(), done.stderr.strip()


def test_without_a_terminal_mbsim_refuses_before_importing_the_tui():
    out, err = refuse()
    assert out == "2 0"                                      # exit 2, no Textual/Rich/plotext
    assert err == ("mbsim: the TUI needs a terminal; use 'mbsim run' for headless output "
                   "(or 'mbsim plan', 'mbsim presets')")
    out, err = refuse("--preset", "sgd", "--lr", "0.01", "--run")
    assert out == "2 0" and "needs a terminal" in err


def test_a_bad_speed_is_still_named_before_the_missing_terminal():
    out, err = refuse("--speed", "fast")
    assert out.split()[0] == "2"
    assert err.startswith("mbsim: --speed 'fast':") and err.count("\n") == 0
    out, err = refuse("--speed", "5")                       # a good speed: then the terminal
    assert out.split()[0] == "2" and "needs a terminal" in err


def test_bad_data_is_still_named_before_the_missing_terminal():
    out, err = refuse("--lr", "-1")
    assert out == "2 0" and err.startswith("mbsim: --lr -1:")

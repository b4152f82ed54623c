"""mbsim: see mini-batch training happen.

The repository's folders install as two subpackages (pyproject.toml maps them):

* :mod:`mbsim.engine` — the NumPy engine (``from mbsim.engine import Scenario, Simulation``);
* :mod:`mbsim.tui` — the command line and the Textual app (``python -m mbsim``, the ``mbsim`` command).
"""

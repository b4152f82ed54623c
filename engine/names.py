"""The names a scenario may choose from, in one NumPy-free module.

``engine.scenario`` validates settings against these tuples; keeping them apart from the modules
that implement them (datasets, models, samplers, optimizers, schedules, which need NumPy) lets
``mbsim --help``, ``mbsim plan`` and ``mbsim presets`` start without importing NumPy (issue 14,
"Start fast"). The implementing modules re-export them (``engine.models.MODELS`` and so on);
tests/test_startup.py checks that both spellings agree.
"""

from __future__ import annotations

REGRESSION_DATASETS: tuple[str, ...] = ("line", "plane", "three-losses")
CLASSIFICATION_DATASETS: tuple[str, ...] = ("blobs", "moons", "circles", "xor", "spiral")
DATASETS: tuple[str, ...] = REGRESSION_DATASETS + CLASSIFICATION_DATASETS  # plus "csv:PATH"
MODELS: tuple[str, ...] = ("linear", "logistic", "mlp")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid")
SAMPLINGS: tuple[str, ...] = ("reshuffle", "once", "sequential", "replacement", "stratified")
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw")
SCHEDULES: tuple[str, ...] = ("constant", "step", "cosine", "warmup")
#: What steps_per_epoch does at the end of a pass (SCIENCE.md §1.3).
EPOCH_ENDS: tuple[str, ...] = ("continue", "cut", "restart")

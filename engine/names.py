"""The names a scenario may choose from, in one NumPy-free module.

``engine.scenario`` validates settings against these tuples; keeping them apart from the modules
that implement them (datasets, models, samplers, optimizers, schedules, which need NumPy) lets
``mbsim --help``, ``mbsim plan`` and ``mbsim presets`` start without importing NumPy (issue 14,
"Start fast"). The implementing modules re-export them (``engine.models.MODELS`` and so on);
tests/test_startup.py checks that both spellings agree.
"""

from __future__ import annotations

REGRESSION_DATASETS: tuple[str, ...] = ("line", "plane", "hyperplane", "three-losses")
CLASSIFICATION_DATASETS: tuple[str, ...] = ("blobs", "moons", "circles", "xor", "spiral")
DATASETS: tuple[str, ...] = REGRESSION_DATASETS + CLASSIFICATION_DATASETS  # plus "csv:PATH"
MODELS: tuple[str, ...] = ("linear", "logistic", "mlp")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid")
SAMPLINGS: tuple[str, ...] = ("reshuffle", "once", "sequential", "replacement", "stratified")
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw")
SCHEDULES: tuple[str, ...] = ("constant", "step", "cosine", "warmup")
#: What steps_per_epoch does at the end of a pass (SCIENCE.md §1.3).
EPOCH_ENDS: tuple[str, ...] = ("continue", "cut", "restart")

# the batch-size lab (engine.lab re-exports these; ``mbsim lab --help`` needs them without NumPy)
#: How the learning rate follows the batch size in the lab.
LR_RULES: tuple[str, ...] = ("constant", "linear", "sqrt", "tuned")
#: The tuned rule's grid: the scenario's lr times these.
TUNED_FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
LAB_RUNS = 8          # runs per batch size
LAB_PARALLEL = 16     # the hardware model's P: samples processed in parallel
LAB_MEMORY = 128      # the hardware model's M: samples the device holds

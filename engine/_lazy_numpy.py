"""NumPy imported on first use, for modules that the command line needs without NumPy.

``engine.sampling`` holds both the samplers (NumPy) and the batch arithmetic (:class:`Plan`,
plain integers) that ``mbsim plan`` prints. It binds ``np = LazyNumpy(globals())``; the first
attribute read imports NumPy and rebinds the module's ``np`` to the real module, so after that
there is no indirection at all.
"""

from __future__ import annotations

from typing import Any


class LazyNumpy:
    """Stands in for ``numpy`` in one module's globals until an attribute is first read."""

    def __init__(self, namespace: dict[str, Any], name: str = "np") -> None:
        self._namespace = namespace
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import numpy

        self._namespace[self._name] = numpy
        return getattr(numpy, attr)

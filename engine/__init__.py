"""Zumen engine: offline hybrid search over drawings and documents.

Pure Python. Importing this package never imports Qt or torch; the training stack
(`engine.learn`) imports torch lazily, inside the functions that need it.
"""

import os

# Nothing leaves the machine: onnxruntime (1.32) sends usage telemetry by default (DNS look-ups of
# mobile.events.data.microsoft.com) and keeps a device id and an event queue under
# ~/.cache/Microsoft/DeveloperTools. Its switch must be set before onnxruntime is first loaded,
# and every Zumen process (CLI, desktop, workers, tests) imports this package first.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

from engine.errors import EngineError  # noqa: E402

__all__ = ["EngineError", "__version__"]
__version__ = "0.1.0"

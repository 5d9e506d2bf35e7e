"""Zumen engine: offline hybrid search over drawings and documents.

Pure Python. Importing this package never imports Qt or torch; the training stack
(`engine.learn`) imports torch lazily, inside the functions that need it.
"""

from engine.errors import EngineError

__all__ = ["EngineError", "__version__"]
__version__ = "0.1.0"

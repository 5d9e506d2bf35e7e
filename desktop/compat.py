"""Work-arounds for bugs in the Qt binding that the app must survive.

PySide6 6.12.0 on Python < 3.12 drops one reference to `None` on every call of a method that
returns void (setText, update, processEvents, ...). On 3.12+ None is immortal, so nothing happens
there; on 3.11 the interpreter aborts with "none_dealloc" after a few thousand calls. 6.11.3 is
fine. `guard_none_refcount()` detects the leak at start-up and, only then, gives None a huge
reference count, which makes it effectively immortal as on 3.12.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject

log = logging.getLogger(__name__)
PIN = 1 << 40
_pinned = False


def none_refcount_leaks() -> bool:
    """True when a void Qt call loses a reference to None (the PySide6 6.12 / Python 3.11 bug)."""
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(8):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before - 4


def guard_none_refcount() -> bool:
    """Pin None's reference count when the binding leaks it. Returns True when pinned."""
    global _pinned
    if _pinned or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _pinned
    if not none_refcount_leaks():
        return False
    _pinned = True
    ctypes.c_ssize_t.from_address(id(None)).value += PIN  # ob_refcnt is PyObject's first field
    log.warning("PySide6 leaks references to None on this Python; pinned None (upgrade/downgrade "
                "PySide6, e.g. 6.11.3, to remove this work-around)")
    return True

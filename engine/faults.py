"""Fault injection for crash tests: `ZUMEN_FAULT=POINT:N` kills the process (SIGKILL where the OS
has it) the N-th time it passes the named point. Unset (always, outside tests) it costs one dict
lookup per point.

Points: `committed` (a document's catalog transaction committed, its vectors not yet saved),
`embedded` (a batch of vectors made, not yet saved), `saving` (a vector file written to its
temporary name, not yet moved over the old one), `saved` (one vector index saved, the other not).
"""

from __future__ import annotations

import os
import signal

_plan: dict[str, int] = {}


def arm(spec: str | None) -> None:
    """Arm `POINT:N` (as in ZUMEN_FAULT); None or "" disarms."""
    _plan.clear()
    if spec:
        point, _, count = spec.partition(":")
        _plan[point] = int(count or 1)


def fault_point(name: str) -> None:
    if name in _plan:
        _plan[name] -= 1
        if _plan[name] <= 0:
            kill = getattr(signal, "SIGKILL", None)
            if kill is not None:
                os.kill(os.getpid(), kill)
            os._exit(137)


arm(os.environ.get("ZUMEN_FAULT"))

"""Progress reporting and cooperative cancellation for long engine jobs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from engine.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """A snapshot of a long job. `total` is None while unknown."""

    stage: str  # "scan", "extract", "embed", "save", "train", ...
    done: int
    total: Optional[int]
    unit: str = "files"
    message: str = ""
    rate: Optional[float] = None  # units per second
    eta_s: Optional[float] = None

    @property
    def fraction(self) -> Optional[float]:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """Thread-safe flag. Long jobs call `check()` between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by user")


class RateMeter:
    """Turns (done, total) counts into Progress with a smoothed rate and ETA."""

    def __init__(self, stage: str, total: Optional[int], unit: str = "files") -> None:
        self.stage = stage
        self.total = total
        self.unit = unit
        self._t0 = time.perf_counter()

    def progress(self, done: int, message: str = "") -> Progress:
        elapsed = max(time.perf_counter() - self._t0, 1e-6)
        rate = done / elapsed if done else None
        eta = None
        if rate and self.total is not None:
            eta = max(0.0, (self.total - done) / rate)
        return Progress(self.stage, done, self.total, self.unit, message, rate, eta)


def report(callback: Optional[ProgressCallback], progress: Progress) -> None:
    if callback is not None:
        callback(progress)

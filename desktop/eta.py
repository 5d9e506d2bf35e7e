"""Time-left estimates for long jobs (pure Python, no Qt): a smoothed, stall-aware rate per stage.

The engine reports `Progress(stage, done, total)` as units finish. The plain estimate
(units done / time since start) misleads in three ways seen on real index runs:
- a slow first unit (models loading) makes the first estimate huge ("10 min" for a 2.5 min run);
- a fast run of small files followed by scans that need OCR gives "0.1 s left" for many seconds;
- a new stage (reading -> understanding content) starts from a different rate and size.

`EtaEstimator` therefore
- keeps one estimate per stage and starts afresh when the stage (or its total) changes;
- averages the time per unit with exponentially decaying weights over the units done (the last
  `window` units count most: 10% of the stage, between 5 and 50 units), so old speeds fade;
- leaves out the stage's first unit (it carries model loading) once later ones are measured, and
  shows nothing during a warm-up: at least 3 units, 10% of the stage (up to one window) and
  2 seconds;
- counts a report that is later than expected (a unit, or a batch of as many units as the last
  report brought) as evidence of a slower rate: a stall makes the estimate grow instead of
  sitting at "1 s left"; between reports the estimate counts down.
`estimate()` may be called at any time (a timer), not only when progress arrives.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Estimate:
    stage: str
    done: int
    total: Optional[int]
    rate: Optional[float]  # units per second (smoothed); None during the warm-up
    eta_s: Optional[float]  # seconds left in this stage; None when unknown or still warming up
    busy_s: float  # seconds since the last unit finished (how long the current one is taking)


class EtaEstimator:
    def __init__(self, *, warmup_units: int = 3, warmup_share: float = 0.1, warmup_s: float = 2.0,
                 window: Optional[float] = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.warmup_units, self.warmup_share, self.window = warmup_units, warmup_share, window
        self.warmup_s = warmup_s
        self._clock = clock
        self._key: Optional[tuple[str, Optional[int]]] = None
        self._done = self._start_done = 0
        self._t_start = self._t_last = 0.0
        self._n = 0.0  # the stage's averaging window, in units
        self._units = self._secs = 0.0  # exponentially weighted sums over units done
        self._first = (0.0, 0.0)  # the stage's first interval: (units, seconds)
        self._step = 1  # units per report (the engine reports embeddings in batches)

    def reset(self) -> None:
        self._key = None

    def update(self, stage: str, done: int, total: Optional[int]) -> None:
        now = self._clock()
        key = (stage, total)
        if key != self._key or done < self._done:
            self._key = key
            self._done = self._start_done = done
            self._t_start = self._t_last = now
            self._units = self._secs = 0.0
            self._first = (0.0, 0.0)
            self._step = 1
            self._n = self.window or min(50.0, max(5.0, 0.1 * (total or 0)))
            self._warmup_units = max(self.warmup_units,
                                     min(self._n, self.warmup_share * ((total or 0) - done)))
            return
        if done == self._done:
            return  # a message-only update: the current unit is still running
        units, secs = done - self._done, max(now - self._t_last, 1e-6)
        self._step = units
        if self._done == self._start_done:
            self._first = (units, secs)  # kept apart: used only while nothing else is measured
        else:
            decay = math.exp(-units / self._n)
            self._units = self._units * decay + units
            self._secs = self._secs * decay + secs
        self._done, self._t_last = done, now

    def estimate(self) -> Estimate:
        now = self._clock()
        stage, total = self._key if self._key else ("", None)
        busy = max(0.0, now - self._t_last) if self._key else 0.0
        units, secs = (self._units, self._secs) if self._units else self._first
        warm = (self._done - self._start_done >= self._warmup_units
                and now - self._t_start >= self.warmup_s and units > 0)
        if not warm:
            return Estimate(stage, self._done, total, None, None, busy)
        per_unit = secs / units
        eta: Optional[float] = None
        if total is not None:
            remaining = max(0, total - self._done)
            if remaining == 0:
                eta = 0.0
            step = min(self._step, remaining)  # units the next report should bring
            if busy <= step * per_unit:  # the next report is not due yet: count down
                eta = remaining * per_unit - busy
            else:  # overdue: count it as if it came now (a lower bound on its time)
                decay = math.exp(-step / self._n)
                per_unit = (secs * decay + busy) / (units * decay + step)
                eta = (remaining - step) * per_unit
        return Estimate(stage, self._done, total, 1.0 / per_unit, eta, busy)

"""The Library page's time-left estimator (desktop/eta.py) on a simulated clock: warm-up, a slow
first unit, stage changes, stalls, batched reports, and two recorded real index runs."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from desktop.eta import EtaEstimator

RECORDINGS = Path(__file__).resolve().parent / "golden" / "index_progress"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def run(est: EtaEstimator, clock: Clock, stage: str, total: int, seconds_per_unit, start: int = 0):
    """Report units start+1..total, each taking seconds_per_unit(i); yields after each report."""
    est.update(stage, start, total)
    for i in range(start + 1, total + 1):
        clock.t += seconds_per_unit(i)
        est.update(stage, i, total)
        yield i


def test_no_estimate_during_the_warm_up():
    clock = Clock()
    est = EtaEstimator(clock=clock)
    steps = run(est, clock, "index", 20, lambda i: 0.5)
    next(steps), next(steps)
    assert est.estimate().eta_s is None  # 2 units, 1 s: too early to say
    next(steps)
    assert est.estimate().eta_s is None  # 3 units but only 1.5 s
    next(steps)
    eta = est.estimate().eta_s
    assert eta == pytest.approx(16 * 0.5, rel=0.05)


def test_a_slow_first_file_does_not_inflate_the_estimate():
    """Models load during the first file (10 s), then 0.5 s per file: the plain average said
    ten minutes for a two-minute run."""
    clock = Clock()
    est = EtaEstimator(clock=clock)
    for done in run(est, clock, "index", 148, lambda i: 10.0 if i == 1 else 0.5):  # noqa: B007 - read after the loop
        estimate = est.estimate()
        if estimate.eta_s is not None:
            break
    truth = (148 - done) * 0.5
    plain = (148 - done) * clock.t / done
    assert estimate.eta_s == pytest.approx(truth, rel=0.1)
    assert plain > 2 * truth  # what the engine's cumulative average shows at that moment


def test_the_estimate_counts_down_between_reports():
    clock = Clock()
    est = EtaEstimator(clock=clock)
    for _ in run(est, clock, "index", 100, lambda i: 2.0):
        if clock.t >= 30:
            break
    before = est.estimate().eta_s
    clock.t += 1.5  # the next file is due in 2 s
    assert est.estimate().eta_s == pytest.approx(before - 1.5)


def test_a_stall_makes_the_estimate_grow_instead_of_reaching_zero():
    """Fast text files, then a scan that needs 40 s of OCR: the old figure sat at '0.2 s left'."""
    clock = Clock()
    est = EtaEstimator(clock=clock)
    for _ in run(est, clock, "index", 60, lambda i: 0.05):
        if clock.t > 2.5:
            break
    start = est.estimate().eta_s
    seen = []
    for _ in range(40):
        clock.t += 1.0
        seen.append(est.estimate())
    assert start < 2.0
    assert all(b.eta_s >= a.eta_s for a, b in zip(seen[3:], seen[4:]))  # grows while stalled
    assert seen[-1].eta_s > 10 * start and seen[-1].busy_s == pytest.approx(40.0)
    assert seen[-1].rate < seen[0].rate


def test_a_new_stage_starts_its_own_estimate():
    clock = Clock()
    est = EtaEstimator(clock=clock)
    list(run(est, clock, "index", 50, lambda i: 0.1))
    assert est.estimate().eta_s == 0.0
    est.update("embed", 0, 800)  # reading is done; understanding the content starts
    clock.t += 8.0  # loading the encoders
    estimate = est.estimate()
    assert (estimate.stage, estimate.eta_s) == ("embed", None)  # not "0 s left"
    for _ in range(6):  # batches of 32 items, 2 s each
        clock.t += 2.0
        est.update("embed", est.estimate().done + 32, 800)
    remaining = 800 - 6 * 32
    assert est.estimate().eta_s == pytest.approx(remaining / 16.0, rel=0.05)


def test_batched_reports_are_not_mistaken_for_a_stall():
    """Embeddings arrive 32 at a time: waiting 1.5 s for a 2 s batch is on time, not a stall."""
    clock = Clock()
    est = EtaEstimator(clock=clock)
    est.update("embed", 0, 640)
    for done in range(32, 32 * 6, 32):
        clock.t += 2.0
        est.update("embed", done, 640)
    at_report = est.estimate().eta_s
    clock.t += 1.5
    assert est.estimate().eta_s == pytest.approx(at_report - 1.5)
    assert est.estimate().rate == pytest.approx(16.0)


def replay(events: list[list], tick_s: float = 0.25) -> list[tuple[float, float | None, float | None]]:
    """Feed a recorded run to the estimator, reading it every tick like the page's timer.
    Rows (true seconds left in the step, the engine's figure, ours) while reading or embedding."""
    clock = Clock()
    est = EtaEstimator(clock=clock)
    step_end = {}
    for i, (t, stage, *_rest) in enumerate(events):
        nxt = events[i + 1][0] if i + 1 < len(events) else t
        step_end[stage] = nxt  # a step lasts until the next one's first report
    rows, i, last = [], 0, None
    while clock.t < events[-1][0]:
        while i < len(events) and events[i][0] <= clock.t:
            last = events[i]
            est.update(last[1], last[2], last[3])
            i += 1
        if last is not None and last[1] in ("index", "embed"):
            rows.append((step_end[last[1]] - clock.t, last[4], est.estimate().eta_s))
        clock.t += tick_s
    return rows


@pytest.mark.parametrize("name", ["sample_library", "148_drawings"])
def test_recorded_index_runs_get_closer_estimates(name):
    events = json.loads((RECORDINGS / f"{name}.json").read_text(encoding="utf-8"))["events"]
    rows = replay(events)
    errors = {}
    for col, label in ((1, "engine"), (2, "ours")):
        errors[label] = [abs(r[col] - r[0]) for r in rows if r[col] is not None]
    for label in errors:
        errors[label].sort()
    p90 = {label: e[int(0.9 * len(e))] for label, e in errors.items()}
    assert statistics.median(errors["ours"]) <= statistics.median(errors["engine"])
    assert p90["ours"] < p90["engine"] and errors["ours"][-1] < errors["engine"][-1]
    assert len(errors["ours"]) > 0.6 * len(rows)  # an estimate most of the time

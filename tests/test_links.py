"""Links and odd directory entries (issue #10, defects 4, 6 and 9): a link to a file is indexed
under the link's own path, so the library follows the folder; links to nothing, link loops, a
link to /dev/zero and paths too long to open are listed with their reason and never stop a run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.api import Engine
from engine.config import EngineSettings
from tests.fakes import FakeTextEncoder

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links and /dev/zero: POSIX")


def open_engine(tmp_path: Path, **settings) -> Engine:
    return Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None,
                       ocr=None, settings=EngineSettings(**settings))


@pytest.fixture
def folders(tmp_path):
    inside, outside = tmp_path / "docs", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (inside / "a.txt").write_text("bearing S45C", encoding="utf-8")
    (outside / "target.txt").write_text("coolant pump impeller", encoding="utf-8")
    (inside / "link.txt").symlink_to(outside / "target.txt")
    return inside, outside


def test_a_link_to_a_file_outside_is_indexed_under_the_link_and_follows_the_folder(tmp_path, folders):
    inside, outside = folders
    with open_engine(tmp_path) as engine:
        assert engine.index([inside]).added == 2
        assert [h.path for h in engine.search("coolant").hits] == [str(inside / "link.txt")]
        assert engine.similar(inside / "link.txt").query_path == str(inside / "link.txt")
        (inside / "link.txt").unlink()  # the link goes: so does its document
        report = engine.index()
        assert report.removed == 1 and not engine.search("coolant").hits
        (inside / "link.txt").symlink_to(outside / "target.txt")
        engine.index()
        assert engine.remove_folder(inside) == 2  # removing the folder removes what it linked
        assert engine.status().documents == 0


def test_links_can_be_left_out(tmp_path, folders):
    inside, _ = folders
    with open_engine(tmp_path, follow_symlinks=False) as engine:
        report = engine.index([inside])
        assert (report.added, report.failed) == (1, 1)
        reasons = {Path(f.path).name: f.reason for f in engine.status().failed}
        assert "following links is off" in reasons["link.txt"]


def test_a_document_stored_under_a_target_path_outside_every_folder_is_dropped(tmp_path, folders):
    """What an older version left (the link's target path) or a crashed `remove` left."""
    inside, outside = folders
    with open_engine(tmp_path) as engine:
        engine.index([inside])
        cat = engine._lib.catalog
        with cat.transaction() as tx:
            tx.execute("UPDATE documents SET path=? WHERE path=?",
                       (str((outside / "target.txt").resolve()), str(inside / "link.txt")))
        report = engine.index()
        assert report.removed == 1 and report.added == 1
        assert [h.path for h in engine.search("coolant").hits] == [str(inside / "link.txt")]


def make_long_path(root: Path, levels: int) -> Path:
    """Folders nested deeper than PATH_MAX, made one level at a time (relative to a folder
    handle), with long.txt at the bottom."""
    fd = os.open(root, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir("x" * 120, dir_fd=fd)
        nxt = os.open("x" * 120, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    out = os.open("long.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, b"deep")
    os.close(out)
    os.close(fd)
    return root.joinpath(*["x" * 120] * levels)


def test_dangling_links_loops_devices_and_long_paths_are_listed_and_never_stop_a_run(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("first S45C", encoding="utf-8")
    (root / "b_dangling.txt").symlink_to(root / "gone.txt")
    (root / "c_loop.txt").symlink_to(root / "c_loop2.txt")
    (root / "c_loop2.txt").symlink_to(root / "c_loop.txt")
    (root / "d_zero.txt").symlink_to("/dev/zero")  # reading it never ends
    os.mkfifo(root / "e_pipe.txt")
    make_long_path(root, 40)  # > PATH_MAX (4096): reachable by walking, not by its path
    (root / "z.txt").write_text("last SUS304", encoding="utf-8")
    with open_engine(tmp_path) as engine:
        report = engine.index([root])
        assert report.added == 2 and engine.search("SUS304").hits  # files after them indexed
        reasons = {Path(f.path).name: f.reason for f in engine.status().failed}
        assert "missing file" in reasons["b_dangling.txt"]
        assert "loop" in reasons["c_loop.txt"] and "loop" in reasons["c_loop2.txt"]
        assert "not a regular file" in reasons["d_zero.txt"]
        assert "not a regular file" in reasons["e_pipe.txt"]
        assert any("folder not indexed: the path is too long" in r for r in reasons.values())
        again = engine.index()
        assert (again.added, again.failed) == (0, report.failed)


def test_touched_but_unchanged_files_count_as_unchanged(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("bearing", encoding="utf-8")
    with open_engine(tmp_path) as engine:
        engine.index([root])
        os.utime(root / "a.txt", ns=(1, 2_000_000_000_000_000_000))
        report = engine.index()
        assert (report.added, report.updated, report.unchanged) == (0, 0, 1)

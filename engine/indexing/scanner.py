"""Find indexable files under the library's folders and compare them with the catalog."""

from __future__ import annotations

import os
import stat
from fnmatch import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from engine.progress import CancelToken

IGNORE_MARKER = ".zumenignore"
SKIPPED_EXAMPLES = 5  # example paths kept per skipped file type


@dataclass(frozen=True)
class FileStamp:
    path: str  # absolute, resolved, as stored in the catalog
    size: int
    mtime_ns: int


@dataclass
class ScanPlan:
    new: list[FileStamp] = field(default_factory=list)
    changed: list[FileStamp] = field(default_factory=list)
    unchanged: list[FileStamp] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped_failed: list[FileStamp] = field(default_factory=list)  # failed before, not changed since

    @property
    def to_process(self) -> list[FileStamp]:
        return self.new + self.changed


def canonical(path: Path | str) -> str:
    return str(Path(path).expanduser().resolve())


def safe_path(path: Path | str) -> str:
    """A path as text that can always be stored and shown: bytes that are not valid UTF-8 in a
    file name (a Latin-1 name from an old share) appear as \\xe9."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def walk_files(roots: Iterable[Path], suffixes: frozenset[str],
               cancel: CancelToken | None = None,
               rejected: list[tuple[str, str]] | None = None,
               skipped: dict[str, list] | None = None) -> list[FileStamp]:
    """All regular files under `roots` (files or folders) whose suffix is supported, sorted by
    path.

    Hidden files/folders (starting with '.'), Office lock files ('~$x.docx') and what a
    `.zumenignore` file excludes (see `read_ignore`) are skipped. Supported names that cannot be
    indexed are appended to `rejected` as (safe path, reason): pipes, devices and sockets (reading
    one would wait forever) and names that are not valid UTF-8. Visible files of other types are
    counted in `skipped`: extension -> [count, a few example paths].
    """
    found: dict[str, FileStamp] = {}
    for root in roots:
        root = Path(root).expanduser()
        if root.is_file():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = _walk(root)
        else:
            continue
        for p in candidates:
            if cancel is not None:
                cancel.check()
            if p.name.startswith(("~$", ".")):
                continue
            if p.suffix.lower() not in suffixes:
                if skipped is not None:
                    entry = skipped.setdefault(p.suffix.lower(), [0, []])
                    entry[0] += 1
                    if len(entry[1]) < SKIPPED_EXAMPLES:
                        entry[1].append(safe_path(p))
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            reason = ""
            if not stat.S_ISREG(st.st_mode):
                reason = "not a regular file (a pipe, device or socket): nothing to read"
            elif safe_path(p) != str(p):
                reason = ("the file name is not valid UTF-8 text (an old code page?): "
                          "rename the file to index it")
            if reason:
                if rejected is not None:
                    rejected.append((safe_path(canonical(p)), reason))
                continue
            key = canonical(p)
            found[key] = FileStamp(key, st.st_size, st.st_mtime_ns)
    return [found[k] for k in sorted(found)]


def _walk(root: Path) -> Iterable[Path]:
    ignores: list[tuple[Path, list[str]]] = []  # (folder holding .zumenignore, its patterns)
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        here = Path(dirpath)
        if IGNORE_MARKER in filenames:
            patterns = read_ignore(here / IGNORE_MARKER)
            if not patterns:  # an empty marker excludes its own folder and everything below
                dirnames[:] = []
                continue
            ignores.append((here, patterns))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not _ignored(here / d, True, ignores))
        for name in sorted(filenames):
            if not _ignored(here / name, False, ignores):
                yield here / name


def read_ignore(path: Path) -> list[str]:
    """Patterns of a `.zumenignore` (gitignore-like: globs relative to its folder, '#' comments,
    a trailing '/' matches folders only)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def _ignored(path: Path, is_dir: bool, ignores: list[tuple[Path, list[str]]]) -> bool:
    for base, patterns in ignores:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        for pat in patterns:
            if pat.endswith("/"):
                if is_dir and (fnmatch(rel, pat[:-1]) or fnmatch(path.name, pat[:-1])):
                    return True
            elif fnmatch(rel, pat) or fnmatch(path.name, pat):
                return True
    return False


def is_under(path: str, roots: Iterable[str]) -> bool:
    """Is `path` one of `roots` or inside one of them (whole path components, any OS)?"""
    return any(Path(path).is_relative_to(r) for r in roots)


def plan_scan(found: list[FileStamp], indexed: Mapping[str, tuple[int, int]],
              failed: Mapping[str, tuple[int, int]], roots: Iterable[str],
              *, retry_failed: bool = False) -> ScanPlan:
    """Diff what is on disk against what the catalog holds, within `roots` only."""
    plan = ScanPlan()
    seen = set()
    for f in found:
        seen.add(f.path)
        stamp = (f.size, f.mtime_ns)
        if f.path in indexed:
            (plan.unchanged if indexed[f.path] == stamp else plan.changed).append(f)
        elif f.path in failed and failed[f.path] == stamp and not retry_failed:
            plan.skipped_failed.append(f)
        else:
            plan.new.append(f)
    roots = list(roots)
    plan.deleted = sorted(p for p in indexed if p not in seen and is_under(p, roots))
    return plan

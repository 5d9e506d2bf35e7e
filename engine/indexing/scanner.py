"""Find indexable files under the library's folders and compare them with the catalog."""

from __future__ import annotations

import errno
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
               skipped: dict[str, list] | None = None, *,
               follow_symlinks: bool = True) -> list[FileStamp]:
    """All regular files under `roots` (files or folders) whose suffix is supported, sorted by
    path.

    Hidden files/folders (starting with '.'), Office lock files ('~$x.docx') and what a
    `.zumenignore` file excludes (see `read_ignore`) are skipped. Supported names that cannot be
    indexed are appended to `rejected` as (safe path, reason): pipes, devices and sockets (reading
    one would wait forever, a link to /dev/zero too), names that are not valid UTF-8, links to
    nothing, link loops and paths too long to open. Visible files of other types are counted in
    `skipped`: extension -> [count, a few example paths].

    A symbolic link to a file is indexed under the link's own path in the folder (`file_key`),
    wherever its target lies, so the library follows the folder: deleting the link or removing
    the folder drops it. `follow_symlinks=False` skips file links instead (recorded). Links to
    folders are never followed (no loops, no second copy of a tree).
    """
    found: dict[str, FileStamp] = {}
    for root in roots:
        root = Path(root).expanduser()
        if root.is_file():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = _walk(root, rejected)
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
            reason, st = "", None
            try:
                if p.is_symlink() and not follow_symlinks:
                    reason = "a symbolic link: following links is off (EngineSettings.follow_symlinks)"
                else:
                    st = p.stat()
            except OSError as exc:
                reason = unreadable_reason(exc)
            if st is not None and not stat.S_ISREG(st.st_mode):
                reason = "not a regular file (a pipe, device or socket): nothing to read"
            elif st is not None and safe_path(p) != str(p):
                reason = ("the file name is not valid UTF-8 text (an old code page?): "
                          "rename the file to index it")
            if reason or st is None:
                if rejected is not None:
                    rejected.append((safe_path(file_key(p)), reason))
                continue
            key = file_key(p)
            found[key] = FileStamp(key, st.st_size, st.st_mtime_ns)
    return [found[k] for k in sorted(found)]


def file_key(path: Path) -> str:
    """The path a file is stored under: its folder resolved, its own name kept (a symbolic link
    stays the link, not its target)."""
    path = Path(path).expanduser()
    try:
        return str(path.parent.resolve() / path.name)
    except (OSError, RuntimeError):  # a folder loop or a path too long: as given, made absolute
        return os.path.abspath(path)


def unreadable_reason(exc: OSError) -> str:
    """Why a file that is listed cannot be opened, in words."""
    if exc.errno == getattr(errno, "ELOOP", -1):
        return "a symbolic link loop: it never reaches a file"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long for this system to open"
    if exc.errno == errno.ENOENT:
        return "a symbolic link to a missing file (dangling link)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: the indexing user may not read it"
    return f"cannot read file: {exc.strerror or exc}"


def _walk(root: Path, rejected: list[tuple[str, str]] | None = None) -> Iterable[Path]:
    """Files under `root`; folders that cannot be listed go to `rejected` with the reason."""
    ignores: list[tuple[Path, list[str]]] = []  # (folder holding .zumenignore, its patterns)

    def unlisted(exc: OSError) -> None:
        if rejected is not None and exc.filename:
            rejected.append((safe_path(os.path.abspath(exc.filename)),
                             "folder not indexed: " + unreadable_reason(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted):
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

"""Small file helpers shared across the engine."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def file_digest(path: Path | str, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks (model towers are tens of MB)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def readable(path: Path | str) -> bool:
    """May the current OS user read this file now? On POSIX a permission check (`access`, no
    read); on Windows, where `access` ignores ACLs, an open for reading that reads nothing."""
    if sys.platform != "win32":
        return os.access(path, os.R_OK)
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False

"""Typed errors raised by the engine. The UI and CLI catch `EngineError` and show `str(err)`."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class LibraryError(EngineError):
    """The library folder is missing, locked by another writer, or unreadable."""


class ExtractionError(EngineError):
    """A file could not be read: corrupt, encrypted, unsupported or too large.

    The message names the file and the reason; indexing records it and moves on.
    """

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class UnsupportedFileError(ExtractionError):
    """The file type is not one Zumen reads."""


class PackError(EngineError):
    """A model pack is missing, malformed, or its files do not match the manifest."""


class SchemaError(EngineError):
    """The catalog was written by a newer Zumen, or a migration failed."""


class QueryError(EngineError):
    """A query is empty or malformed."""


class ClusterError(EngineError):
    """Indexing on a cluster cannot go on: the extra is not installed, the scheduler cannot be
    reached or has no workers, or a worker lacks what the library needs (its model pack, OCR,
    the same reader versions)."""


class Cancelled(EngineError):
    """A long job stopped because its cancel token was set. Work done so far is kept."""

"""One logging configuration for every entry point: `zumen`, `zumen-desktop` and the training scripts.

Library code only asks for `logging.getLogger(__name__)`; an entry point calls `configure_logging`
once. Messages go to stderr (stdout is the CLI's output, JSON lines with --json).
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Optional

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"


def configure_logging(verbose: bool = False, stream: Optional[IO[str]] = None) -> None:
    """INFO and above with `verbose`, else WARNING and above, to `stream` (default stderr).
    Calling it again replaces the previous configuration."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=FORMAT,
                        datefmt=DATE_FORMAT, stream=stream or sys.stderr, force=True)

"""The command line the generators share: write a file built from the code, or with ``--check``
exit 1 when the file on disk differs from what would be written (their tests run them that way).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(temporary, 0o644)  # mkstemp's 0600 would make the file private
    os.replace(temporary, path)


def generate(path: Path, render: Callable[[], str], description: str,
             argv: list[str] | None = None) -> int:
    """Write ``render()`` to ``path`` (or check it); the exit status for ``sys.exit``."""
    relative = path.relative_to(ROOT)
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if {relative} is stale instead of writing it")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if text != current:
            print(f"{relative} is stale: run python tools/{Path(parser.prog).name}")
            return 1
        return 0
    write_atomically(path, text)
    print(f"wrote {relative} ({text.count(chr(10))} lines)")
    return 0

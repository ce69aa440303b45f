"""``python -m chainrule``: the ``chainrule`` command (see ``chainrule.cli``)."""

import sys

from chainrule.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())

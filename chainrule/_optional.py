"""Optional extras: import them on first use, or say in one line exactly what to install.

>>> install_command("plot").endswith('-m pip install "chainrule[plot]"')
True
>>> import_optional("math", "plot").__name__
'math'
"""

from __future__ import annotations

import importlib
import shlex
import sys
from types import ModuleType


def install_command(extra: str) -> str:
    """The pip command that installs ``chainrule[extra]`` into the running interpreter's
    environment (its own ``python -m pip``, so it lands in the venv in use, not another one)."""
    return f'{shlex.quote(sys.executable)} -m pip install "chainrule[{extra}]"'


def import_optional(module: str, extra: str, purpose: str | None = None) -> ModuleType:
    """``importlib.import_module(module)``, or an ImportError naming the install command.

    ``purpose`` says what needs it ("plots", "TensorBoard logging"); the default is the module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        what = purpose or module.split(".")[0]
        raise ImportError(f"{what} needs the optional package {module.split('.')[0]!r}: "
                          f"run {install_command(extra)}") from error

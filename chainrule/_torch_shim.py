"""Run an unchanged PyTorch script on chainrule: ``python -m chainrule run SCRIPT.py [ARGS]``.

While the script runs, ``import torch`` (and ``torch.nn``, ``torch.optim``, ``torch.utils.data``,
...) resolves to chainrule, and ``torchvision`` to ``chainrule.vision`` (its ``datasets`` and
``transforms`` to ``chainrule.datasets`` / ``chainrule.transforms``). A finder on
``sys.meta_path`` does the aliasing; each aliased module is wrapped in a proxy whose missing
attributes raise ``NotImplementedError: torch.X is not available in chainrule`` rather than a
bare ``AttributeError``, so an unsupported feature is named plainly. ``sys.modules``,
``sys.meta_path``, ``sys.argv`` and ``sys.path`` are restored afterwards.

>>> import pathlib, tempfile
>>> script = pathlib.Path(tempfile.mkdtemp()) / "hello.py"
>>> _ = script.write_text("import torch\\nprint(torch.ones(2).sum().item())\\n")
>>> run_script(script, [])
2.0
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
import types
from collections.abc import Sequence

__all__ = ["NotAvailableInChainrule", "run_script", "main_run"]

_USAGE = "usage: python -m chainrule run SCRIPT.py [ARGS ...]"

# Aliased top-level names, and the chainrule module each stands for.
_ROOT_TARGETS: dict[str, str] = {"torch": "chainrule", "torchvision": "chainrule.vision"}
_SUBMODULE_TARGETS: dict[str, str] = {
    "torchvision.datasets": "chainrule.datasets",
    "torchvision.transforms": "chainrule.transforms",
}


class NotAvailableInChainrule(NotImplementedError, AttributeError):
    """A torch feature chainrule lacks. Also an ``AttributeError``, so ``hasattr`` and
    ``getattr(torch, name, default)`` feature checks keep working."""


class MissingTorchModule(NotImplementedError, ModuleNotFoundError):
    """A torch submodule chainrule lacks. Also a ``ModuleNotFoundError``, so
    ``try: import torch.x except ImportError`` keeps working."""


# A script's traceback then ends in "NotImplementedError: torch.X is not available in chainrule",
# the plain statement a user needs, not the name of a shim-internal class.
for _error in (NotAvailableInChainrule, MissingTorchModule):
    _error.__module__ = "builtins"
    _error.__qualname__ = "NotImplementedError"


def _missing_message(name: str) -> str:
    return f"{name} is not available in chainrule"


def _target_of(fullname: str) -> str:
    """The chainrule module that ``fullname`` (``torch.x.y`` or ``torchvision.x``) stands for."""
    if fullname in _SUBMODULE_TARGETS:
        return _SUBMODULE_TARGETS[fullname]
    root, _, rest = fullname.partition(".")
    for alias, target in _SUBMODULE_TARGETS.items():
        if fullname.startswith(alias + "."):
            return target + fullname[len(alias):]
    base = _ROOT_TARGETS[root]
    return f"{base}.{rest}" if rest else base


class _TorchProxy(types.ModuleType):
    """A chainrule module seen under its torch name."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, target.__doc__)
        object.__setattr__(self, "_chainrule_target", target)

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        fullname = f"{self.__name__}.{attr}"
        try:
            value = getattr(self._chainrule_target, attr)
        except (AttributeError, ImportError):
            pass
        else:
            if not isinstance(value, types.ModuleType):
                return value
        # A submodule: go through the import system so it, too, is proxied (``torch.nn.Linear``
        # without ``import torch.nn``).
        try:
            return importlib.import_module(fullname)
        except MissingTorchModule:
            raise NotAvailableInChainrule(_missing_message(fullname)) from None

    def __dir__(self):
        return sorted({*super().__dir__(), *dir(self._chainrule_target)})

    def __repr__(self) -> str:
        return f"<module '{self.__name__}' (aliased to '{self._chainrule_target.__name__}')>"


class _TorchAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch[.x]`` and ``torchvision[.x]`` and loads them as proxies of chainrule."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in _ROOT_TARGETS:
            return None
        # Every alias is a package so `import torch.x.y` is looked up here; missing ones fail on load.
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        target_name = _target_of(spec.name)
        try:
            target = importlib.import_module(target_name)
        except ModuleNotFoundError as error:
            bound = _module_bound_to_parent(target_name)
            if bound is not None:
                return _TorchProxy(spec.name, bound)
            if error.name is not None and error.name.startswith("chainrule") and \
                    target_name.startswith(error.name):
                raise MissingTorchModule(_missing_message(spec.name)) from None
            raise
        return _TorchProxy(spec.name, target)

    def exec_module(self, module):
        pass  # the chainrule module it stands for is already imported


def _module_bound_to_parent(target_name: str) -> types.ModuleType | None:
    """A module that is an attribute of a plain-file parent, not importable by its dotted name
    (``chainrule.cuda.amp``, standing for ``torch.cuda.amp``)."""
    parent, _, attr = target_name.rpartition(".")
    value = getattr(sys.modules.get(parent), attr, None)
    return value if isinstance(value, types.ModuleType) else None


def _is_aliased(name: str) -> bool:
    return name.partition(".")[0] in _ROOT_TARGETS


def run_script(path: str | os.PathLike, argv: Sequence[str], cuda_as_cpu: bool = False) -> None:
    """Run the Python file at ``path`` as ``__main__`` with ``torch`` resolving to chainrule
    (and, with ``cuda_as_cpu``, ``cuda`` devices meaning the CPU: see ``_device.cuda_as_cpu``)."""
    from chainrule._device import cuda_as_cpu as cuda_devices_as_cpu

    path = os.fspath(path)
    saved_modules = {name: module for name, module in sys.modules.items() if _is_aliased(name)}
    saved_argv, saved_path = sys.argv, list(sys.path)
    finder = _TorchAliasFinder()
    for name in saved_modules:
        del sys.modules[name]
    sys.meta_path.insert(0, finder)
    sys.argv = [path, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        with cuda_devices_as_cpu(cuda_as_cpu):
            runpy.run_path(path, run_name="__main__")
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _is_aliased(name)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        sys.argv = saved_argv
        sys.path[:] = saved_path


def main_run(argv: Sequence[str], cuda_as_cpu: bool = False) -> int:
    """Entry point of ``python -m chainrule run``: ``argv`` is ``[SCRIPT.py, *ARGS]``."""
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr if not argv else sys.stdout)
        return 0 if argv else 2
    script, args = argv[0], argv[1:]
    if not os.path.isfile(script):
        print(f"chainrule run: can't open file '{script}': no such file", file=sys.stderr)
        return 2
    try:
        run_script(script, args, cuda_as_cpu)
    except SystemExit as exit_:
        code = exit_.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0

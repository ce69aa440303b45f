"""Builds the optional compiled kernels (chainrule/_native/kernels.c); everything else is in
pyproject.toml. Without a C compiler the build is skipped and chainrule runs on NumPy alone."""

import sys

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "chainrule._native._kernels", ["chainrule/_native/kernels.c"], optional=True,
    libraries=[] if sys.platform == "win32" else ["m"],  # GELU's erf
    extra_compile_args=[] if sys.platform == "win32" else ["-O3", "-std=c99", "-ffp-contract=fast"])])

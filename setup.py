"""Builds the optional compiled kernels (chainrule/_native/kernels.c and attention.c); everything
else is in pyproject.toml. Without a C compiler the build is skipped and chainrule runs on NumPy alone."""

import sys

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "chainrule._native._kernels", ["chainrule/_native/kernels.c", "chainrule/_native/attention.c"],
    depends=["chainrule/_native/exp_f32.h"], optional=True,
    libraries=[] if sys.platform == "win32" else ["m"],  # erf, exp and tanh in double precision
    # no-trapping-math lets GCC turn the selects of GELU's single-precision erf into vector code,
    # no-math-errno Adam's square roots (errno is never read)
    extra_compile_args=[] if sys.platform == "win32" else ["-O3", "-std=c99", "-ffp-contract=fast",
                                                           "-fno-trapping-math", "-fno-math-errno"])])

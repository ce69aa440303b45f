"""``make demo`` and ``make test`` as a new user meets them: the demo installs the plotting extra
and the command it runs leaves the promised pictures in the run folder; installing prints no
setuptools warnings. ``make -n`` prints what the Makefile would run; the tests run that very
command (with a tiny epoch count through ``ARGS``)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import warnings

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def make_dry_run(*args: str) -> list[list[str]]:
    """The commands ``make -n ARGS`` prints, split like a shell would."""
    result = subprocess.run(["make", "-s", "-n", "-C", REPO, *args], capture_output=True,
                            text=True, check=True)
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


@needs_make
def test_the_demo_install_includes_the_plot_extra_with_matplotlib():
    install, touch = make_dry_run("-B", "-o", ".venv/bin/python", ".venv/.installed-run")
    assert install[-2:] == ["-e", ".[plot]"] and install[1:4] == ["-m", "pip", "install"]
    assert touch == ["touch", ".venv/.installed-run"]
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    assert any(requirement.startswith("matplotlib") for requirement in extras["plot"])


@needs_make
def test_the_demo_command_writes_the_loss_and_classify_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    run_dir = tmp_path / "run"
    (command,) = make_dry_run("-o", ".venv/.installed-run", "demo",
                              f"ARGS=--epochs 1 --hidden 16 --no-progress --run-dir {run_dir}")
    assert command[0] == ".venv/bin/chainrule"
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",  # one BLAS thread per test worker
           **os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": REPO}
    result = subprocess.run([sys.executable, "-m", "chainrule", *command[1:]], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    pngs = sorted(name for name in os.listdir(run_dir) if name.endswith(".png"))
    assert pngs == ["classify_0.png", "classify_1.png", "classify_2.png", "loss.png"]
    for name in pngs:
        assert (run_dir / name).read_bytes()[:4] == b"\x89PNG"


def test_the_package_configuration_gives_setuptools_nothing_to_warn_about():
    pytest.importorskip("setuptools", minversion="77")  # the version pyproject.toml builds with
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), os.path.join(REPO, "pyproject.toml"))
    assert [str(warning.message) for warning in caught] == []
    assert distribution.get_name() == "chainrule"
    assert {name.split(".")[0] for name in distribution.packages} == {"chainrule"}


def test_the_all_extra_names_every_other_extra_and_the_test_extra_installs_it():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    (everything,) = extras["all"]
    assert everything.startswith("chainrule[") and everything.endswith("]")
    assert set(everything[len("chainrule["):-1].split(",")) == set(extras) - {"all", "test"}
    assert "chainrule[all]" in extras["test"]

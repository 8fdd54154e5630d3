"""``pip install steer-kit`` without extras is enough for ``generate()`` and the metrics: the core modules import and
generate runs with every notebook/classroom/test package blocked from import, and the optional tools say in one line
which extra to install. (A subprocess: this process has those packages imported already.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("papermill", "nbformat", "nbclient", "nbgrader", "nbval", "jupyterlab", "jupyter_server",
           "jupyter_server_mathjax", "ipykernel", "ipywidgets", "IPython", "notebook", "pytest")

RUNNER = """
import importlib, json, sys
BLOCKED = {blocked!r}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, Block())
for name in list(sys.modules):  # nothing blocked may be imported already (site hooks)
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
import importlib.util
importlib.util.find_spec = (lambda real: lambda name, *a: None if name.split(".")[0] in BLOCKED else real(name, *a))(
    importlib.util.find_spec)  # "is it installed?" checks see the blocked packages as absent too

core = ["steer_lib", "steer_lib.data", "steer_lib.models", "steer_lib.finetune", "steer_lib.decoding",
        "steer_lib.metrics", "steer_lib.experiments", "steer_lib.experiments.sweep", "steer_lib.experiments.tables",
        "steer_lib.downstream", "steer_lib.cli.generate", "steer_lib.cli.evaluate", "steer_lib.cli.sweep"]
for m in core:
    importlib.import_module(m)

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
from steer_lib.decoding import generate
from steer_lib.models import load_tokenizer

tok = load_tokenizer()
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
model = get_peft_model(LlamaForCausalLM(cfg).eval(), LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).eval()
out = generate(model, tok, ["Write a question:"] * 2, negatives=["Why is the sky blue?", "What is dark matter?"],
               max_new_tokens=3, batch_size=2)  # STEER itself, negatives and all
texts = list(getattr(out, "texts", out))

errors = {{}}
try:
    importlib.import_module("steer_lib.classroom")
except ModuleNotFoundError as e:
    errors["classroom"] = str(e)
try:
    from steer_lib.experiments import pipeline
    pipeline.execute("00_welcome_and_data.ipynb", {{}}, __import__("pathlib").Path("unused.ipynb"))
except ModuleNotFoundError as e:
    errors["pipeline"] = str(e)
leaked = sorted({{m.split(".")[0] for m in sys.modules}} & set(BLOCKED))
print(json.dumps({{"texts": texts, "errors": errors, "leaked": leaked}}))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_generate_runs_without_the_notebook_and_classroom_packages():
    proc = _run(RUNNER.format(blocked=BLOCKED))
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(res["texts"]) == 2 and all(isinstance(t, str) for t in res["texts"])
    assert res["leaked"] == []  # nothing blocked got in by another route
    assert "pip install 'steer-kit[classroom]'" in res["errors"]["classroom"]
    assert "pip install 'steer-kit[notebooks]'" in res["errors"]["pipeline"] and "papermill" in res["errors"]["pipeline"]


def test_the_command_line_names_the_extra_in_one_line():
    code = RUNNER.split("core = [")[0] + "import runpy\nsys.argv = ['steer_lib', 'assignments', 'validate']\n" \
        "runpy.run_module('steer_lib', run_name='__main__')\n"
    proc = _run(code.format(blocked=BLOCKED))
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, proc.stderr[-2000:]
    assert err[0].startswith("error: ") and "steer-kit[classroom]" in err[0] and "nbformat" in err[0]


def test_the_extras_hold_what_the_blocked_modules_come_from():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    core = " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    for pkg in ("papermill", "nbformat", "nbclient", "nbgrader", "nbval", "jupyterlab", "ipykernel", "ipywidgets",
                "jupyter-server-mathjax", "pytest"):
        assert pkg not in core, f"{pkg} is a core dependency"
    assert "steer-kit[notebooks,classroom]" in extras["dev"]  # make install's .[dev] brings every extra
    assert '-e ".[dev]"' in (ROOT / "Makefile").read_text()


def test_regex_is_a_core_dependency():
    """Task specs' ``validity.regex`` runs with the ``regex`` package's timeout (a catastrophic pattern fails with a
    message, issue #25): a core import, so a core requirement, not something transformers happens to bring."""
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(r.replace(" ", "").startswith("regex>=") for r in core), core
    import regex

    assert regex.match("a", "a", timeout=1.0)  # the keyword the kit relies on

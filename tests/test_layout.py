"""The package layout: one folder per pipeline stage, no import cycles, lower stages never import higher ones.

The import graph is read from the source (every ``import`` and ``from … import``, also those inside functions,
which run later but still tie two modules together), so a lazy import cannot hide a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "steer_lib"

# Each stage's rank: a module may import only modules of its own rank or lower.
LAYERS = {
    "config": 0, "runtime": 0, "paths": 0, "locks": 0, "plots": 0, "files": 0, "extras": 0, "__init__": 0,
    "install_kit": 0,  # the hosted-runtime installer: standard library only, run by path before the kit is installed
    "data": 1, "models": 2, "finetune": 3, "decoding": 4, "metrics": 5, "authors": 6, "experiments": 7,
    "downstream": 8, "classroom": 9, "bench": 10, "cli": 11, "__main__": 12,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every steer_lib module ``name`` imports (``import a.b.c`` also runs ``a`` and ``a.b``)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            parts = t.split(".")
            for i in range(1, len(parts) + 1):
                cand = ".".join(parts[:i])
                if cand not in known or cand == name:
                    continue
                if name.startswith(cand + "."):
                    # one's own package is already being imported; only a name taken from its __init__ counts
                    if isinstance(node, ast.ImportFrom) and mod == cand and any(
                            f"{mod}.{a.name}" not in known for a in node.names):
                        found.add(cand)
                    continue
                found.add(cand)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    g = {name: imports(name, path, known) for name, path in mods.items()}
    # importing a package's module runs the package's __init__ first: not an edge of the module itself
    for name in g:
        g[name].discard("steer_lib")
    return g


def stage(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_layer():
    assert sorted({stage(m) for m in modules()} - set(LAYERS)) == []


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(g[n]):
            if state.get(m) == 1:
                cycle = stack[stack.index(m):] + [m]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)


def test_lower_stages_never_import_higher_ones():
    bad = [f"{a} -> {b}" for a, deps in graph().items() for b in deps if LAYERS[stage(b)] > LAYERS[stage(a)]]
    assert bad == []


def test_the_graph_sees_lazy_imports():
    g = graph()
    assert "steer_lib.finetune.domain_model" in g["steer_lib.decoding.writer"] or \
        "steer_lib.finetune" in g["steer_lib.decoding.writer"] or "steer_lib.finetune.domain_model" in g["steer_lib.experiments.experiment"]
    assert "steer_lib.data.text" in g["steer_lib.decoding.engine"]
    assert "steer_lib.data.text" in g["steer_lib.decoding.methods"]  # only inside _text_stats: a lazy import


def _calls(path: Path, func: str) -> list[int]:
    return [n.lineno for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == func]


def test_only_the_command_line_parses_arguments_or_prints():
    offenders = []
    for name, path in modules().items():
        if stage(name) in ("cli", "__main__", "install_kit"):  # (install_kit: a script the notebooks' first cell runs)
            continue
        src = path.read_text(encoding="utf-8")
        if "import argparse" in src:
            offenders.append(f"{name}: imports argparse")
        offenders += [f"{name}:{line}: print()" for line in _calls(path, "print")]
    assert offenders == []


def test_each_stage_package_documents_and_exports_its_api():
    for d in sorted(p for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        init = ast.parse((d / "__init__.py").read_text(encoding="utf-8"))
        assert ast.get_docstring(init), f"{d.name}/__init__.py has no docstring"


def test_top_level_folders_exist_in_a_checkout():
    root = PKG.parent
    for folder in ("notebooks", "steer_lib", "data", "figures", "tests"):
        assert (root / folder).is_dir(), folder
    for folder in ("data", "figures"):
        assert (root / folder / "README.md").is_file(), f"{folder}/README.md"
    for f in ("environment.yml", "README.md"):
        assert (root / f).is_file(), f


def test_notebooks_use_only_names_the_library_has():
    """Every ``module.attr`` a notebook reaches through a steer_lib module it imports exists (hidden tests too)."""
    import importlib
    import json
    import re

    missing = []
    for path in sorted((PKG.parent / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        src = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        aliases = {}
        for m in re.finditer(r"from (steer_lib[\w.]*) import ([\w, ]+)", src):
            mod = importlib.import_module(m.group(1))
            for item in m.group(2).split(","):
                name, _, alias = item.strip().partition(" as ")
                obj = getattr(mod, name) if hasattr(mod, name) else importlib.import_module(f"{m.group(1)}.{name}")
                if isinstance(obj, type(importlib)):
                    aliases[alias or name] = obj
        missing += [f"{path.name}: {a}.{attr}" for a, attr in re.findall(r"\b(\w+)\.(\w+)", src)
                    if a in aliases and not hasattr(aliases[a], attr)]
    assert missing == []


_DOTTED = r"\bsteer_lib(?:\.[A-Za-z_]\w*)+"  # a dotted name in prose or code
_ROLE = r":(?:mod|func|class|meth|attr|data|exc|obj):`~?([^`<>\s]+)`"  # a Sphinx cross-reference's target


def _resolves(name: str) -> bool:
    """``name`` is a module, or a chain of attributes on one, that imports."""
    import importlib

    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _candidates(target: str, module: str, cls: str = "", package: str = "") -> list[str]:
    """What a cross-reference written in ``module`` (in class ``cls``'s docstring) may mean: relative to the class,
    the module or its package (``add``, ``.text``, ``evaluate``), or absolute (``steer_lib.files``); Sphinx tries
    them in about this order. ``package``: what relative names start from (default the module's parent; a package's
    ``__init__`` passes itself)."""
    package = package or module.rpartition(".")[0] or module
    if target.startswith("."):
        return [module + target, package + target]
    return ([f"{module}.{cls}.{target}"] if cls else []) + [f"{module}.{target}", f"{package}.{target}", target,
                                                           f"steer_lib.{target}"]


def _documented_references() -> list[tuple[str, str, list[str]]]:
    """``(where, reference, names it may mean)`` for every dotted ``steer_lib.…`` name and every ``:mod:`` /
    ``:func:`` / ``:class:`` (…) target in the package's docstrings, the README and docs/."""
    import re

    found = []
    for name, path in sorted(modules().items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owner = {m: c.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for m in c.body}  # method → class
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            cls = node.name if isinstance(node, ast.ClassDef) else owner.get(node, "")
            doc = ast.get_docstring(node, clean=False) or ""
            package = name if path.name == "__init__.py" else ""  # a package's references start from itself
            where = f"{path.relative_to(PKG.parent)}:{getattr(node, 'lineno', 1)}"
            found += [(where, m, [m]) for m in re.findall(_DOTTED, doc)]
            found += [(where, t, _candidates(t, name, cls, package)) for t in re.findall(_ROLE, doc)]
    for path in [PKG.parent / "README.md", *sorted((PKG.parent / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(PKG.parent))
        found += [(where, m, [m]) for m in re.findall(_DOTTED, text)]
        found += [(where, t, _candidates(t, "steer_lib")) for t in re.findall(_ROLE, text)]
    return found


def test_docstrings_and_docs_name_what_exists():
    """Every ``steer_lib.x.y`` and every ``:mod:``/``:func:``/``:class:`` target in the package's docstrings, the
    README and docs/ imports: a renamed or removed module leaves no reference pointing nowhere."""
    refs = _documented_references()
    assert len(refs) > 50  # the scan sees the references (the package has well over fifty)
    bad = sorted({f"{where}: {ref}" for where, ref, names in refs if not any(_resolves(n) for n in names)})
    assert bad == []


def test_the_reference_check_catches_a_dangling_name():
    assert _resolves("steer_lib.files.write_json") and _resolves("steer_lib.experiments.selection")
    assert not _resolves("steer_lib.sweep_cli") and not _resolves("steer_lib.files.no_such_function")
    assert "steer_lib.metrics.text" in _candidates(".text", "steer_lib.metrics", package="steer_lib.metrics")
    assert _candidates("add", "steer_lib.decoding.negatives", "NegativePool")[0] == \
        "steer_lib.decoding.negatives.NegativePool.add"
    assert "steer_lib.experiments.selection.select_point" in _candidates("select_point", "steer_lib.experiments.selection")

"""A static course site: the notebooks rendered to HTML with nbconvert, in course order, with their figures.

    python -m steer_lib site [--student] [--out DIR]        (make site [STUDENT=1])

Each notebook is rendered from its executed copies (``runs/<profile>/executed/<notebook>[__<params>].ipynb``, as
``make reproduce`` writes them): those of the first profile in :data:`PROFILES` that has any, one page per copy
(one per task, per method, ...). A notebook with no executed copy is rendered as committed, without outputs, under
a banner that says so. Outputs (plots) are already embedded in the notebooks; images referenced from markdown are
embedded too (nbconvert's ``embed_images``), so every page is a single file. The figures the notebooks saved under
``figures/<profile>/`` get a page of their own.

Every ``<img>`` carries alt text (:func:`add_alt`): a figure output's own description, recorded in its metadata when
the notebook ran (:func:`steer_lib.plots.describe_inline_figures`), a saved figure's from its PNG file
(:func:`steer_lib.plots.saved_description`), and a plain statement that none was recorded where there is none.

The student variant renders the nbgrader student versions of the assignment notebooks (generated from the sources,
never executed: an executed copy holds the solutions) and the other lessons as above; a page that contains a
solution or hidden-test marker is an error. The site needs no server: open ``index.html``.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from .. import paths, plots
from ..files import check_output_folder, mark_output_folder, move_into_place, write_json
from ..runtime import no_log
from .assignments import AssignmentError, assignment_notebooks, generate
from .install_cell import find_install_cell
from .student_repo import MARKERS, instructor_only

PROFILES = ("quick", "smoke")  # the executed copies preferred, in order
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")


@dataclass
class Variant:
    source: Path        # the notebook rendered
    label: str          # "" for a notebook's only page, else its parameters ("hypotheses · steer")
    status: str         # "quick" / "smoke" (executed at that profile), "unexecuted", "exercise" (student version)
    page: str = ""      # the HTML file name in the site


@dataclass
class Lesson:
    stem: str
    title: str
    variants: list[Variant] = field(default_factory=list)


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading of the notebook (``# 02 · STEER, step by step`` → ``02 · STEER, step by step``)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return fallback


def executed_copies(stem: str, runs: Path, profiles: tuple[str, ...] = PROFILES) -> tuple[str, list[Path]]:
    """``(profile, copies)`` of the first profile with an executed copy of notebook ``stem``; ``("", [])`` if none."""
    for profile in profiles:
        folder = runs / profile / "executed"
        found = sorted({*folder.glob(f"{stem}.ipynb"), *folder.glob(f"{stem}__*.ipynb")})
        if found:
            return profile, found
    return "", []


def plan(notebooks_dir: Path, runs: Path, student_versions: dict[str, Path] | None = None,
         profiles: tuple[str, ...] = PROFILES) -> list[Lesson]:
    """Which notebook file each page renders, in course order (the numbered notebooks, sorted)."""
    lessons = []
    for nb_path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        stem = nb_path.stem
        lesson = Lesson(stem, plain(title_of(nbformat.read(nb_path, as_version=4), stem)))
        if student_versions is not None and stem in student_versions:
            lesson.variants = [Variant(student_versions[stem], "", "exercise")]
        else:
            profile, copies = executed_copies(stem, runs, profiles)
            if copies:
                lesson.variants = [Variant(c, " · ".join(c.stem.split("__")[1:]), profile) for c in copies]
            else:
                lesson.variants = [Variant(nb_path, "", "unexecuted")]
        for v in lesson.variants:
            v.page = f"{stem}{'__' + re.sub(r'[^A-Za-z0-9_.-]+', '-', v.label.replace(' · ', '__')) if v.label else ''}.html"
        lessons.append(lesson)
    return lessons


BANNERS = {
    "unexecuted": "**Not executed.** This page shows the notebook as committed, without outputs: no executed copy was "
                  "found under `runs/{profiles}/executed/`. Run `make reproduce PROFILE=quick`, then `make site`.",
    "exercise": "**Exercise version.** Solutions are removed: write yours in the cells that say `YOUR CODE HERE` / "
                "`YOUR ANSWER HERE`, then run the notebook yourself. This page has no outputs.",
    "quick": "Executed at `PROFILE=quick`{label}.",
    "smoke": "Executed at `PROFILE=smoke` (CI-sized, small numbers){label}: no `quick` run was found.",
}


def _header(lessons: list[Lesson], i: int, v: Variant) -> str:
    links = ["[↑ course index](index.html)"]
    if i > 0:
        links.append(f"[← {lessons[i - 1].title}]({lessons[i - 1].variants[0].page})")
    if i + 1 < len(lessons):
        links.append(f"[{lessons[i + 1].title} →]({lessons[i + 1].variants[0].page})")
    banner = BANNERS[v.status].format(profiles="{" + ",".join(PROFILES) + "}",
                                      label=f", for {v.label}" if v.label else "")
    return " · ".join(links) + f"\n\n> {banner}"


INSTALL_NOTE = ("*(The notebook's first code cell, which installs the kit on a hosted runtime and does nothing "
                "elsewhere, is left out of this page.)*")
GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "eta": "η", "theta": "θ", "phi": "φ", "mid": "|"}


def plain(title: str) -> str:
    """A title's simple LaTeX as text, for the index and the links (``$P_\\theta$`` → ``P_θ``)."""
    return re.sub(r"\$([^$]*)\$", lambda m: re.sub(r"\\([a-z]+)", lambda g: GREEK.get(g.group(1), g.group(1)),
                                                   m.group(1)), title)


# MathJax 2.7 from the jupyter-server-mathjax package, copied into the site: nbconvert's default loads it from a
# CDN, so on an offline machine (a lab without internet, this kit's CI) every formula showed as raw TeX.
MATHJAX_DIR = "_static/mathjax"
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def mathjax_source() -> Path | None:
    """The folder of the installed MathJax copy (``jupyter_server_mathjax/static``), or None when it is missing."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    return static if (static / "MathJax.js").is_file() else None


NO_ALT = "A figure drawn by the code cell above; no text description was recorded with it."
NBCONVERT_ALT = "No description has been provided for this image"  # what nbconvert writes where alt is missing
IMG = re.compile(r"<img\b[^>]*>", re.I)
_ALT = re.compile(r"""\salt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_SRC = re.compile(r"""\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def output_alts(nb: nbformat.NotebookNode) -> dict[str, str]:
    """``{base64 payload: description}`` of the notebook's image outputs that recorded one (``plots.ALT_KEY`` in
    the output's ``image/png`` / ``image/jpeg`` metadata)."""
    alts = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for mime in ("image/png", "image/jpeg"):
                alt = (out.get("metadata", {}).get(mime) or {}).get(plots.ALT_KEY)
                if mime in out.get("data", {}) and isinstance(alt, str) and alt.strip():
                    alts["".join(out["data"][mime].split())] = alt.strip()
    return alts


def add_alt(body: str, alts: dict[str, str], fallback: str = NO_ALT) -> str:
    """Give every ``<img>`` of ``body`` that has no ``alt`` (or an empty one, or nbconvert's generic
    :data:`NBCONVERT_ALT`) one: the description recorded for its embedded image in ``alts`` (:func:`output_alts`),
    else ``fallback``."""
    def fix(m: re.Match) -> str:
        tag = m.group(0)
        alt = _ALT.search(tag)
        given = next((g for g in alt.groups() if g is not None), "").strip() if alt else ""
        if given and given != NBCONVERT_ALT:
            return tag
        src = _SRC.search(tag)
        url = next((g for g in src.groups() if g is not None), "") if src else ""
        payload = "".join(url.partition(",")[2].split()) if url.startswith("data:") else ""  # (base64: no spaces)
        text = html.escape(alts.get(payload) or fallback, quote=True)
        tag = _ALT.sub("", tag) if alt else tag
        return re.sub(r"^<img\b", f'<img alt="{text}"', tag, flags=re.I)

    return IMG.sub(fix, body)


def render(nb_path: Path, header_md: str, base: Path, mathjax_url: str | None = MATHJAX_URL) -> str:
    """One notebook as a self-contained HTML page (nbconvert's lab template), ``header_md`` above its first cell.

    Images referenced from markdown are read relative to ``base`` (the notebooks' folder: an executed copy under
    ``runs/`` keeps the paths of its source) and embedded.
    """
    from nbconvert import HTMLExporter

    nb = nbformat.read(nb_path, as_version=4)
    i = find_install_cell(nb)
    if i is not None:  # a reader needs to know it is there, not to read it
        nb.cells[i] = nbformat.v4.new_markdown_cell(INSTALL_NOTE)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(header_md))
    extra = {"mathjax_url": mathjax_url} if mathjax_url else {}  # None: nbconvert's default (its CDN)
    exporter = HTMLExporter(template_name="lab", embed_images=True, **extra)
    quiet = _DropMessage("Alternative text is missing")  # (nbconvert's warning: add_alt gives every image its own)
    exporter.log.addFilter(quiet)
    try:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(base),
                                                                          "name": nb_path.stem}})
    finally:
        exporter.log.removeFilter(quiet)
    return add_alt(body, output_alts(nb))


class _DropMessage:
    """A logging filter that drops the records whose message starts with ``prefix``."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def filter(self, record) -> bool:
        return not str(record.msg).startswith(self.prefix)


HREF = re.compile(r'href="([^"#:?]+)(#[^"]*)?"')


def link_local_files(body: str, base: Path, root: Path, site: Path, student: bool) -> str:
    """Make a page's links to the kit's own files (07's ``../docs/fidelity.md``) resolve inside the site.

    A markdown file is rendered to ``files/<its path>.html``, any other file is copied to ``files/<its path>``;
    links to pages of the site itself, to places on the page and to other sites stay as they are. The student site
    links no file that the student copy leaves out (the teaching guide's answer key): such a link goes nowhere.
    """
    root = root.resolve()

    def fix(m: re.Match) -> str:
        target, anchor = m.group(1), m.group(2) or ""
        path = (base / target).resolve()
        if root not in path.parents or not path.is_file():
            return m.group(0)  # a page of the site (index.html, 01_….html) or not the kit's file
        rel = path.relative_to(root).as_posix()
        if student and instructor_only(rel):
            return 'href="#left-out-of-the-student-copy"'
        dest = site / "files" / (rel[:-3] + ".html" if rel.endswith(".md") else rel)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith(".md"):
                dest.write_text(_doc_page(rel, path.read_text(encoding="utf-8"), dest.relative_to(site)),
                                encoding="utf-8")
            else:
                shutil.copyfile(path, dest)
        return f'href="{dest.relative_to(site).as_posix()}{anchor}"'

    return HREF.sub(fix, body)


def _doc_page(rel: str, text: str, where: Path) -> str:
    import mistune

    up = "../" * (len(where.parts) - 1)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>steer-kit: {html.escape(rel)}</title><style>{CSS}
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:.2rem .4rem}}</style></head>
<body><p><a href="{up}index.html">↑ course index</a> · <code>{html.escape(rel)}</code></p>
{mistune.html(text)}
</body></html>
"""


def figures(figures_root: Path, profiles: tuple[str, ...]) -> tuple[str, list[Path]]:
    """``(profile, files)`` of the first profile with saved figures under ``figures_root/<profile>/``."""
    for profile in profiles:
        found = sorted(p for p in (figures_root / profile).rglob("*") if p.suffix.lower() in FIGURE_SUFFIXES)
        if found:
            return profile, found
    return "", []


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.5;color:#1b1b1b}h1{margin-bottom:.2rem}ol{padding-left:1.4rem}li{margin:.6rem 0}
.status{font-size:.8rem;padding:.05rem .45rem;border-radius:.6rem;margin-left:.4rem;white-space:nowrap}
.quick{background:#d9f2dd}.smoke{background:#fff1c2}.unexecuted{background:#f3d6d6}.exercise{background:#dbe7fb}
.variants{font-size:.9rem}.note{color:#555;font-size:.9rem}img{max-width:100%;border:1px solid #ddd}"""
STATUS_TEXT = {"quick": "executed · quick", "smoke": "executed · smoke", "unexecuted": "not executed",
               "exercise": "exercise version"}


def _index(lessons: list[Lesson], student: bool, fig_page: str | None) -> str:
    items = []
    for lesson in lessons:
        first = lesson.variants[0]
        status = f'<span class="status {first.status}">{STATUS_TEXT[first.status]}</span>'
        if len(lesson.variants) == 1:
            items.append(f'<li><a href="{first.page}">{html.escape(lesson.title)}</a>{status}</li>')
        else:
            subs = ", ".join(f'<a href="{v.page}">{html.escape(v.label)}</a>' for v in lesson.variants)
            items.append(f'<li><a href="{first.page}">{html.escape(lesson.title)}</a>{status}'
                         f'<div class="variants">one page per run: {subs}</div></li>')
    fig = f'<p><a href="{fig_page}">The figures the notebooks saved</a></p>' if fig_page else ""
    kind = "student edition: exercises without solutions" if student else "rendered notebooks"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>steer-kit: the course</title><style>{CSS}</style></head>
<body><h1>steer-kit: the course</h1>
<p class="note">STEER (arXiv 2308.07645), from the formula to the paper's tables: {kind}, in course order.
Each notebook builds on the earlier ones through cached results, never through kernel state.</p>
<ol start="0">
{chr(10).join(items)}
</ol>
{fig}
<p class="note">Built with nbconvert by <code>make site{" STUDENT=1" if student else ""}</code>.</p>
</body></html>
"""


def _figures_page(profile: str, files: list[str], alts: dict[str, str] | None = None) -> str:
    """``alts``: each file's description (:func:`steer_lib.plots.saved_description`); without one, its name."""
    alts = alts or {}
    figs = "\n".join(f'<figure><img src="{f}" alt="{html.escape(alts.get(f) or "Figure " + Path(f).stem, quote=True)}">'
                     f"<figcaption>{html.escape(f)}</figcaption></figure>" for f in files)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>steer-kit: figures</title><style>{CSS}</style></head>
<body><p><a href="index.html">↑ course index</a></p><h1>Figures ({html.escape(profile)})</h1>
{figs}
</body></html>
"""


def build(out: Path | None = None, student: bool = False, notebooks_dir: Path | None = None,
          runs: Path | None = None, figures_root: Path | None = None, profiles: tuple[str, ...] = PROFILES,
          log: Callable[[str], None] = no_log, force: bool = False) -> Path:
    """Render the site into ``out`` (default ``site/``, or ``site-student/`` with ``student``); returns its
    ``index.html``. ``out`` is replaced as a whole, so a page of a notebook that no longer exists cannot stay;
    hence an ``out`` that holds files the kit did not write is refused unless ``force``."""
    root = paths.root()
    out = Path(out or root / ("site-student" if student else "site")).resolve()
    notebooks_dir = Path(notebooks_dir or root / "notebooks")
    runs = Path(runs or paths.runs_dir())
    figures_root = Path(figures_root or root / "figures")
    check_output_folder(out, "site", force, also_ours=_is_site, force_does="replace it, and everything in it, by the site")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".steer-site-", dir=out.parent) as tmp:
        students = None
        if student:  # (no notebook with exercises: every page is a lesson as it is)
            students = generate(Path(tmp) / "release", notebooks_dir) if _has_exercises(notebooks_dir) else {}
        lessons = plan(notebooks_dir, runs, students, profiles)
        site = Path(tmp) / "site"
        site.mkdir()
        mathjax = mathjax_source()
        if mathjax is not None:
            shutil.copytree(mathjax, site / MATHJAX_DIR)
        else:
            log("jupyter-server-mathjax is not installed: formulas load MathJax from its CDN (raw TeX offline)")
        for i, lesson in enumerate(lessons):
            for v in lesson.variants:
                page = render(v.source, _header(lessons, i, v), notebooks_dir,
                              MATHJAX_URL if mathjax is not None else None)
                page = link_local_files(page, notebooks_dir, notebooks_dir.parent, site, student)
                (site / v.page).write_text(page, encoding="utf-8")
                log(f"{v.page}: {STATUS_TEXT[v.status]}")
        fig_profile, fig_files = figures(figures_root, profiles)
        fig_page = None
        if fig_files:
            rels, alts = [], {}
            for f in fig_files:
                rel = Path("figures") / fig_profile / f.relative_to(figures_root / fig_profile)
                (site / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, site / rel)
                rels.append(rel.as_posix())
                alts[rel.as_posix()] = plots.saved_description(f) if f.suffix.lower() == ".png" else ""
            fig_page = "figures.html"
            (site / fig_page).write_text(_figures_page(fig_profile, rels, alts), encoding="utf-8")
        (site / "index.html").write_text(_index(lessons, student, fig_page), encoding="utf-8")
        write_json(site / "site.json",
                   {"student": student, "pages": {v.page: {"notebook": l.stem, "status": v.status, "label": v.label}
                                                  for l in lessons for v in l.variants}})
        mark_output_folder(site, "site")
        if student:
            leaks = [f"{p.name}: {m}" for p in sorted(site.glob("*.html")) for m in MARKERS
                     if m in visible_text(p.read_text(encoding="utf-8"))]
            if leaks:
                raise AssignmentError("the student site would show solutions:\n  " + "\n  ".join(leaks))
        if out.exists():
            move_into_place(site, out)
        else:
            site.rename(out)
    return out / "index.html"


def _is_site(folder: Path) -> bool:
    """A site the kit built before the output marker existed: its ``site.json`` lists its pages."""
    try:
        return "pages" in json.loads((folder / "site.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def visible_text(page: str) -> str:
    """The text of an HTML page without its tags (syntax highlighting splits code into many ``<span>``s)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _has_exercises(notebooks_dir: Path) -> bool:
    try:
        return bool(assignment_notebooks(notebooks_dir))
    except AssignmentError:
        return False

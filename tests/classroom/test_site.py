"""`make site`: every page exists, every image and internal link resolves, every image has alt text, pages come in
course order, executed copies are preferred (quick, then smoke, else the committed notebook under a banner), and the
student variant shows no solution."""
from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from steer_lib.classroom import site
from steer_lib.classroom.install_cell import INSTALL_CELL, TAG

ALT = 'Heatmap of γ × η: 3-grams from 0.7 to 0.86 & "MAUVE"'  # (characters that need escaping in an attribute)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
SOLUTION = {"grade": False, "grade_id": "double", "locked": False, "schema_version": 3, "solution": True,
            "task": False}
TEST = {"grade": True, "grade_id": "test_double", "locked": True, "points": 3, "schema_version": 3,
        "solution": False, "task": False}
QUESTION = {"grade": False, "grade_id": "question_why", "locked": True, "points": 0, "schema_version": 3,
            "solution": False, "task": True}
ANSWER = {"grade": True, "grade_id": "why", "locked": False, "points": 2, "schema_version": 3, "solution": True,
          "task": False}


def _nb(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, src, meta, outputs in cells:
        cell = nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
        cell.metadata.update(meta)
        if outputs:
            cell.outputs = outputs
        nb.cells.append(cell)
    return nb


@pytest.fixture()
def course(tmp_path):
    nbs, runs, figs = tmp_path / "notebooks", tmp_path / "runs", tmp_path / "figures"
    (nbs / "img").mkdir(parents=True)
    (nbs / "img" / "dot.png").write_bytes(PNG)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# The guide\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (tmp_path / "docs" / "teaching.md").write_text("# Answer key\n\nThe secret answer.\n")
    intro = [("markdown", "# 00 · Intro\n\nA picture: ![dot](img/dot.png). See [the guide](../docs/guide.md#part) "
              "and [the teaching guide](../docs/teaching.md).", {}, None),
             ("code", INSTALL_CELL, {"tags": [TAG]}, None), ("code", "print('hi')", {}, None)]
    toy = [("markdown", "# 01 · Toy exercise with $P_\\theta$", {}, None),
           ("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            {"nbgrader": SOLUTION}, None),
           ("code", "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(5) == 10\n### END HIDDEN TESTS",
            {"nbgrader": TEST}, None),
           ("markdown", "Why double?\n\n=== BEGIN MARK SCHEME ===\n1 point: names the rubric point.\n"
            "=== END MARK SCHEME ===", {"nbgrader": QUESTION}, None),
           ("markdown", "### BEGIN SOLUTION\nThe model answer says why.\n### END SOLUTION", {"nbgrader": ANSWER}, None)]
    more = [("markdown", "# 02 · More", {}, None), ("code", "x = 1", {}, None)]
    for name, cells in (("00_intro", intro), ("01_toy", toy), ("02_more", more)):
        nbformat.write(_nb(cells), nbs / f"{name}.ipynb")
    # executed copies: 00 only at smoke (with a plot), 01 at quick for two tasks (and at smoke: not used)
    # (one plot recorded its description when it ran, as plots.use_style() makes figures do; one did not)
    described = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(PNG).decode()},
                                       metadata={"image/png": {"alt": ALT}})
    plot = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(PNG[:-1] + b"\0").decode()})
    text = nbformat.v4.new_output("stream", name="stdout", text="hi\n")
    (runs / "smoke" / "executed").mkdir(parents=True)
    (runs / "quick" / "executed").mkdir(parents=True)
    nbformat.write(_nb([intro[0], intro[1], ("code", "print('hi')", {}, [text, described, plot])]),
                   runs / "smoke" / "executed" / "00_intro.ipynb")
    for task in ("alpha", "beta"):
        nbformat.write(_nb(toy), runs / "quick" / "executed" / f"01_toy__{task}.ipynb")
    nbformat.write(_nb(toy), runs / "smoke" / "executed" / "01_toy.ipynb")
    (figs / "smoke").mkdir(parents=True)
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Description", ALT)  # what plots.savefig stores
    Image.new("RGB", (2, 2)).save(figs / "smoke" / "heatmap.png", pnginfo=info)
    (figs / "smoke" / "other.png").write_bytes(PNG)  # a figure saved without a description
    return {"notebooks_dir": nbs, "runs": runs, "figures_root": figs}


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.links, self.scripts, self.alts = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
            self.alts.append(a.get("alt"))
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])


def _text(page: Path) -> str:
    """A page's text as a reader sees it (syntax highlighting splits code into many <span>s)."""
    return site.visible_text(page.read_text(encoding="utf-8"))


def _check_pages(out: Path) -> dict:
    meta = json.loads((out / "site.json").read_text())
    pages = ["index.html", *meta["pages"], *(["figures.html"] if (out / "figures.html").exists() else [])]
    n_imgs = 0
    for page in pages:
        assert (out / page).is_file(), f"{page} is missing"
        refs = _Refs()
        refs.feed((out / page).read_text(encoding="utf-8"))
        assert all(alt and alt.strip() for alt in refs.alts), f"{page}: an <img> without alt text"
        for src in refs.imgs:
            assert src, f"{page}: an <img> without src"
            n_imgs += 1
            if not src.startswith("data:image/"):
                assert not urlparse(src).scheme and (out / unquote(src)).is_file(), f"{page}: <img src={src!r}>"
        for src in refs.scripts:  # MathJax is part of the site: formulas render on an offline machine too
            if "mathjax" in src.lower():
                url = urlparse(src)
                assert not url.scheme and (out / unquote(url.path)).is_file(), f"{page}: <script src={src!r}>"
        if page != "index.html" and page != "figures.html" and not page.startswith("files/"):
            assert any("mathjax" in s.lower() for s in refs.scripts), f"{page} loads no MathJax"
        for href in refs.links:
            url = urlparse(href)
            if url.scheme or href.startswith("#"):
                continue  # external (nbconvert's own anchors and CDN links) or a place on the same page
            assert (out / unquote(url.path)).is_file(), f"{page}: link {href!r} does not resolve"
    return {"meta": meta, "n_imgs": n_imgs}


def test_the_site_renders_every_notebook_in_course_order(course, tmp_path):
    index = site.build(tmp_path / "site", **course)
    out = index.parent
    checked = _check_pages(out)
    pages = checked["meta"]["pages"]
    assert list(pages) == ["00_intro.html", "01_toy__alpha.html", "01_toy__beta.html", "02_more.html"]
    assert {p: v["status"] for p, v in pages.items()} == {
        "00_intro.html": "smoke", "01_toy__alpha.html": "quick", "01_toy__beta.html": "quick",
        "02_more.html": "unexecuted"}
    text = index.read_text()
    assert text.index("00 · Intro") < text.index("01 · Toy exercise with P_θ") < text.index("02 · More")
    assert 'href="figures.html"' in text and (out / "figures" / "smoke" / "heatmap.png").is_file()
    intro = (out / "00_intro.html").read_text()
    assert "Executed at <code>PROFILE=smoke</code>" in intro
    assert intro.count("data:image/png") >= 3, "the output plots and the markdown image are embedded"
    refs = _Refs()
    refs.feed(intro)
    assert sorted(refs.alts) == sorted(["dot", ALT, site.NO_ALT]), "markdown's own alt; the recorded one; a plain note"
    figs = _Refs()
    figs.feed((out / "figures.html").read_text(encoding="utf-8"))
    assert sorted(figs.alts) == sorted([ALT, "Figure other"]), "a saved figure's description, read from its PNG"
    assert "Not executed" in (out / "02_more.html").read_text()
    assert "find_spec" not in _text(out / "00_intro.html") and "left out of this page" in _text(out / "00_intro.html")
    assert checked["n_imgs"] >= 3
    assert 'href="files/docs/guide.html#part"' in intro and "<table>" in (out / "files/docs/guide.html").read_text()
    assert 'href="files/docs/teaching.html"' in intro, "the instructor's site links the guide"
    assert "return 2 * x" in _text(out / "01_toy__alpha.html"), "the full site shows the executed solutions"


def test_the_student_site_shows_no_solution(course, tmp_path):
    out = site.build(tmp_path / "site-student", student=True, **course).parent
    checked = _check_pages(out)
    assert checked["meta"]["student"] is True
    assert {p: v["status"] for p, v in checked["meta"]["pages"].items()} == {
        "00_intro.html": "smoke", "01_toy.html": "exercise", "02_more.html": "unexecuted"}
    for page in out.glob("*.html"):
        body = _text(page)
        for secret in (*site.MARKERS, "return 2 * x", "double(5)", "names the rubric point", "model answer says"):
            assert secret not in body, f"{page.name}: {secret!r}"
    intro = (out / "00_intro.html").read_text()
    assert 'href="files/docs/guide.html#part"' in intro and (out / "files/docs/guide.html").is_file()
    assert not (out / "files/docs/teaching.html").exists() and "#left-out-of-the-student-copy" in intro
    toy = _text(out / "01_toy.html")
    assert "NotImplementedError" in toy and "Exercise version" in toy and "assert double(2) == 4" in toy
    assert "Why double?" in toy and "YOUR ANSWER HERE" in toy, "the open question stays, its rubric and answer go"


def test_add_alt_fills_only_missing_or_empty_alt_text():
    body = ('<p><img src="data:image/png;base64,QUJD\nREVG"> <IMG alt="" src="x.png"/> <img alt=\'kept\' src="y.png">'
            f'<img src="data:image/png;base64,WFla" alt="  "><img alt="{site.NBCONVERT_ALT}" src="z.png"></p>')
    out = site.add_alt(body, {"QUJDREVG": "a <b> & c"}, fallback="none recorded")
    refs = _Refs()
    refs.feed(out)
    assert refs.alts == ["a <b> & c", "none recorded", "kept", "none recorded", "none recorded"]
    assert out.count("alt=") == 5 and "&lt;b&gt; &amp; c" in out


def test_a_folder_the_kit_did_not_write_is_refused_without_force(course, tmp_path):
    """Issue #25 st-cases: the site replaces --out as a whole, so a folder of someone else's files is refused."""
    from steer_lib.files import OutputExistsError

    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "README.md").write_text("my project\n")
    with pytest.raises(OutputExistsError, match=r"project is a folder that holds files the kit did not write "
                                                r"\(README.md\).*--force"):
        site.build(mine, **course)
    assert sorted(p.name for p in mine.iterdir()) == ["README.md"]
    assert (mine / "README.md").read_text() == "my project\n"
    assert site.build(mine, force=True, **course).is_file() and not (mine / "README.md").exists()
    site.build(mine, **course)  # now the kit's own site: a rebuild needs no --force


def test_a_rebuild_replaces_the_old_site(course, tmp_path):
    out = site.build(tmp_path / "site", **course).parent
    (course["runs"] / "quick" / "executed" / "01_toy__beta.ipynb").unlink()
    site.build(out, **course)
    assert not (out / "01_toy__beta.html").exists() and (out / "01_toy__alpha.html").exists()


@pytest.mark.slow
def test_the_real_student_site_resolves_and_shows_no_solution_rubric_or_model_answer(tmp_path):
    """The kit's own notebooks (executed copies where runs/ has them): every page, image and link resolves, and
    no solution line, hidden test, mark scheme or model answer of the sources is visible on a student page."""
    import re

    from steer_lib.classroom import manual

    nb_dir = Path(__file__).resolve().parents[2] / "notebooks"
    out = site.build(tmp_path / "site-student", student=True, notebooks_dir=nb_dir).parent
    checked = _check_pages(out)
    assert len(checked["meta"]["pages"]) >= len(list(nb_dir.glob("[0-9][0-9]_*.ipynb")))
    visible = "\n".join(_text(p) for p in out.glob("*.html"))
    public = "\n".join(re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", c.source, flags=re.S)
                       for p in nb_dir.glob("*.ipynb") for c in nbformat.read(p, as_version=4).cells)
    for path in nb_dir.glob("[0-9][0-9]_*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            secrets = re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", cell.source, flags=re.S)
            secrets += [manual.mark_scheme(cell.source) or ""]
            for line in "\n".join(secrets).splitlines():
                line = line.strip()
                if len(line) > 25 and not line.startswith("#") and line not in public:
                    assert line not in visible, f"{path.name}: {line[:80]!r} is on the student site"

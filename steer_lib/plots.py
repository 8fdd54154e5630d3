"""Figure helpers shared by the notebooks: one style, saved as PNG and PDF under ``figures/<profile>/``, each figure
with a text description (alt text) built from what it draws.

:func:`describe` reads a matplotlib figure (its title; per panel the title, what is plotted, the axes and the
legend) and writes it as one paragraph. :func:`savefig` stores that text in the files it writes (the PNG's
``Description``, the PDF's ``Subject``), where the course site reads it for ``<img alt>``; :func:`use_style`, which
every notebook calls, makes figures shown inline carry it too (the output's ``image/png`` metadata ``alt``), so the
rendered notebooks and the site describe every figure to a reader who cannot see it.
"""
from __future__ import annotations

import math
from pathlib import Path

from . import paths

ALT_KEY = "alt"        # the key of a figure output's image/png metadata that holds its description
MAX_ALT = 900          # characters: a description, not a data dump (the tables beside each figure hold the numbers)
_LIST = 8              # at most this many bars, series or ticks are named one by one


def use_style() -> None:
    """The kit's figure style; in a notebook, also :func:`describe_inline_figures`."""
    import matplotlib as mpl

    mpl.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10})
    describe_inline_figures()


def savefig(fig, name: str, profile: str, base_model: str = "", alt: str | None = None) -> Path:
    """Save ``fig`` as ``figures/<profile>[@<model>]/<name>.png`` and ``.pdf``; return the PNG path.

    Both files carry ``alt`` (default: :func:`describe` of the figure) as their description."""
    out = paths.figures_dir(profile, base_model)
    out.mkdir(parents=True, exist_ok=True)
    alt = alt or describe(fig)
    fig.savefig(out / f"{name}.pdf", bbox_inches="tight", metadata=file_metadata(fig, "pdf", alt))
    png = out / f"{name}.png"
    fig.savefig(png, bbox_inches="tight", metadata=file_metadata(fig, "png", alt))
    return png


def file_metadata(fig, ext: str, alt: str | None = None) -> dict[str, str]:
    """``savefig(metadata=...)`` that stores the figure's description (``alt``, default :func:`describe`): a PNG's
    ``Description``, a PDF's ``Subject``; nothing for other formats."""
    key = {"png": "Description", "pdf": "Subject"}.get(ext.lower().lstrip("."))
    return {key: alt or describe(fig)} if key else {}


def saved_description(png: Path) -> str:
    """The description :func:`savefig` stored in a PNG file; ``""`` when it has none (or is not a readable PNG)."""
    try:
        from PIL import Image

        with Image.open(png) as im:
            return str(getattr(im, "text", {}).get("Description", "")).strip()
    except Exception:  # noqa: BLE001 -- any unreadable file: no description
        return ""


# ---------------------------------------------------------------- describing a figure
def _fmt(v: float) -> str:
    return "NaN" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def _names(items: list[str]) -> str:
    items = [i for i in items if i]
    more = f" and {len(items) - _LIST} more" if len(items) > _LIST else ""
    return ", ".join(items[:_LIST]) + more


def _ticks(labels) -> list[str]:
    return [t.get_text().strip() for t in labels if t.get_text().strip()]


def _axis(ax, which: str) -> str:
    label = (ax.get_xlabel() if which == "x" else ax.get_ylabel()).strip()
    return f"{which} axis: {label}" if label else ""


def _heatmap(ax, im) -> tuple[str, str]:
    """``(grid, values)``: what the rows and columns are, and the lowest and highest cell."""
    import numpy as np

    arr = np.ma.filled(np.ma.asarray(im.get_array(), dtype=float), np.nan)
    if arr.ndim != 2:
        return "an image", ""
    rows, cols = arr.shape
    ys, xs = _ticks(ax.get_yticklabels()), _ticks(ax.get_xticklabels())
    ylab, xlab = ax.get_ylabel().strip() or "rows", ax.get_xlabel().strip() or "columns"
    grid = f"{rows} × {cols} cells; rows: {ylab}" + (f" ({_names(ys)})" if len(ys) == rows else "")
    grid += f"; columns: {xlab}" + (f" ({_names(xs)})" if len(xs) == cols else "")

    def where(i: int, j: int) -> str:  # "at γ 0.3, η 0.6" (the axes' names without their explanations)
        if len(ys) != rows or len(xs) != cols:
            return ""
        return f" at {ylab.split(' (')[0]} {ys[i]}, {xlab.split(' (')[0]} {xs[j]}"

    if not np.isfinite(arr).any():
        return grid, "no values"
    lo = np.unravel_index(np.nanargmin(arr), arr.shape)
    hi = np.unravel_index(np.nanargmax(arr), arr.shape)
    values = f"values from {_fmt(arr[lo])}{where(*lo)} to {_fmt(arr[hi])}{where(*hi)}"
    empty = int(np.isnan(arr).sum())
    if empty:
        values += f" ({empty} cell{'s' if empty != 1 else ''} empty)"
    return grid, values


def _bars(ax, containers) -> str:
    """Bars: a histogram (adjacent bars on a numeric axis) as its bins' range and tallest bin; a bar chart as each
    bar's category and value (or the range of values, when there are many or several groups)."""
    horizontal = any(getattr(c, "orientation", None) == "horizontal" for c in containers)
    patches = [p for c in containers for p in c.patches]
    values = [float(c.datavalues[i]) if getattr(c, "datavalues", None) is not None else
              float(p.get_width() if horizontal else p.get_height()) for c in containers for i, p in enumerate(c.patches)]
    finite = [v for v in values if not math.isnan(v)]
    groups = [c.get_label() for c in containers if c.get_label() and not c.get_label().startswith("_")]
    cats = _ticks(ax.get_yticklabels() if horizontal else ax.get_xticklabels())
    kind = "horizontal bar chart" if horizontal else "bar chart"
    if not horizontal and len(containers) == 1 and len(patches) > 2:
        starts = [p.get_x() for p in patches]
        ends = [p.get_x() + p.get_width() for p in patches]
        if all(math.isclose(e, s2, rel_tol=1e-6, abs_tol=1e-9) for e, s2 in zip(ends, starts[1:])):  # adjacent bins
            top = max(range(len(values)), key=lambda i: values[i] if not math.isnan(values[i]) else -math.inf)
            return (f"histogram of {len(patches)} bins from {_fmt(starts[0])} to {_fmt(ends[-1])}, the tallest "
                    f"{_fmt(values[top])} at {_fmt(starts[top])}–{_fmt(ends[top])}")
    text = f"{kind} of {len(patches)} bars"
    if len(groups) > 1:
        text += f" in {len(groups)} groups ({_names(groups)})"
    if len(containers) == 1 and len(cats) == len(values):
        return text + ": " + _names([f"{k} {_fmt(v)}" for k, v in zip(cats, values)])
    if finite:
        text += f", values from {_fmt(min(finite))} to {_fmt(max(finite))}"
    if cats and len(cats) * len(containers) == len(values):
        text += f"; categories: {_names(cats)}"
    return text


def _lines(lines, named) -> list[str]:
    """Each line: a vertical or horizontal marker line (``axvline``) by its position, a curve from its first to
    its last value, marked points by their number."""
    out = []
    for ln in named or lines:
        name = ln.get_label() if ln in named else ""
        x = [float(v) for v in ln.get_xdata()]
        y = [float(v) for v in ln.get_ydata()]
        if len(x) == 2 and x[0] == x[1] and y == [0.0, 1.0]:
            out.append(f"a vertical line at {_fmt(x[0])}" + (f" ({name})" if name else ""))
        elif len(y) == 2 and y[0] == y[1] and x == [0.0, 1.0]:
            out.append(f"a horizontal line at {_fmt(y[0])}" + (f" ({name})" if name else ""))
        elif len(y) >= 2 and ln.get_linestyle() not in ("None", ""):
            out.append(f"{name or 'a line'} from {_fmt(y[0])} to {_fmt(y[-1])} over {len(y)} points")
        elif y:
            marks = f"{len(y)} marked points" if len(y) > 1 else f"one point at {_fmt(y[0])}"
            out.append(f"{name or 'points'}: {marks}")
    return out


def _series(ax, grid_said: bool = False) -> str:
    """What ``ax`` draws; ``grid_said``: a heatmap's rows and columns were already described for the figure."""
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer, ErrorbarContainer

    parts = []
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    if bars:
        parts.append(_bars(ax, bars))
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    in_errorbars = {id(ln) for c in errorbars for ln in (c.lines[0], *c.lines[1]) if ln is not None}  # data, caps
    lines = [ln for ln in ax.lines if id(ln) not in in_errorbars and len(ln.get_xdata()) > 0]
    named = [ln for ln in lines if not ln.get_label().startswith("_")]
    trends = _lines(lines, named)
    if trends:
        parts.append(("line plot: " if any(" over " in t for t in trends) else "") + _names(trends))
    points = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    if errorbars:
        n = sum(len(c.lines[0].get_xdata()) for c in errorbars if c.lines and c.lines[0] is not None)
        labels = [c.get_label() for c in errorbars if c.get_label() and not c.get_label().startswith("_")]
        parts.append(f"{n} points with error bars" + (f" ({_names(labels)})" if labels else ""))
    elif points:
        parts.append(f"scatter of {points} points")
    if ax.images:
        grid, values = _heatmap(ax, ax.images[0])
        parts.insert(0, values if grid_said else f"heatmap of {grid}; {values}")
    return "; ".join(p for p in parts if p)


def describe(fig) -> str:
    """Alt text for a matplotlib figure (:func:`describe_parts`); a figure it cannot read is described by its
    titles alone, so that saving or showing a figure never fails for want of a description."""
    try:
        return describe_parts(fig)
    except Exception:  # noqa: BLE001 -- an artist this reader does not know
        titles = [fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""]
        titles += [ax.get_title() for ax in fig.axes]
        titles = [t.replace("\n", " ").strip() for t in titles if t and t.strip()]
        return "Figure" + (": " + "; ".join(titles) if titles else "") + "."


def describe_parts(fig) -> str:
    """Alt text for a matplotlib figure, read from what it draws: the figure's title, then per panel its title,
    what is plotted (a heatmap's grid, its axes' ticks and value range; bars and their values; lines from first to
    last value; points with error bars), the axes' labels and the legend; a panel that only shows text (e.g. "NaN at
    every point") says that text. At most :data:`MAX_ALT` characters.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); _ = ax.bar(["a", "b"], [0.5, 0.25]); _ = ax.set(title="T", ylabel="score")
    >>> describe_parts(fig)
    'Figure, 1 panel. T: bar chart of 2 bars: a 0.5, b 0.25; y axis: score.'
    >>> plt.close(fig)
    """
    sup = fig._suptitle.get_text().strip().replace("\n", " ") if getattr(fig, "_suptitle", None) else ""
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible()]
    head = (f"{sup}. " if sup else "Figure, ") + f"{len(panels)} panel{'s' if len(panels) != 1 else ''}."
    grids = [_heatmap(ax, ax.images[0])[0] for ax in panels if ax.images]
    shared = len(grids) > 1 and len(set(grids)) == 1
    if shared:  # heatmaps over one grid (the γ × η sweeps): its rows and columns said once
        head = head[:-1] + f", heatmaps of {grids[0]}."
    out = [head]
    for k, ax in enumerate(panels, 1):
        title = " ".join(t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if t.strip())
        title = title.replace("\n", " ").strip()
        what = _series(ax, grid_said=shared)
        if not what:  # a panel that only says something (no data drawn)
            words = [t.get_text().replace("\n", " ").strip() for t in ax.texts if t.get_text().strip()]
            what = f"text: {'; '.join(words)}" if words else "empty"
        bits = [what] + ([] if ax.images else [b for b in (_axis(ax, "x"), _axis(ax, "y")) if b])
        legend = ax.get_legend()
        if legend is not None:
            entries = [t.get_text() for t in legend.get_texts() if t.get_text() and t.get_text() not in what]
            if entries:  # (the series already named above are not repeated)
                bits.append(f"legend: {_names(entries)}")
        name = f"Panel {k}" if len(panels) > 1 else ""
        label = ", ".join(x for x in (name, title) if x)
        out.append(f"{label + ': ' if label else ''}{'; '.join(bits)}.")
    for legend in getattr(fig, "legends", []):  # a legend shared by the panels (fig.legend), said once
        entries = [t.get_text() for t in legend.get_texts() if t.get_text()]
        if entries:
            out.append(f"Legend: {_names(entries)}.")
    text = " ".join(out)
    return text if len(text) <= MAX_ALT else text[:MAX_ALT - 1].rstrip() + "…"


# ---------------------------------------------------------------- figures shown in a notebook
def inline_png(fig, base):
    """What a notebook shows for ``fig``: ``(png, {"alt": describe(fig)})``, the PNG from ``base`` (the formatter
    the inline backend registered: PNG or retina, with its own metadata); None for an empty figure."""
    data = base(fig)
    if data is None:
        return None
    data, md = data if isinstance(data, tuple) else (data, {})
    return data, {**(md or {}), ALT_KEY: describe(fig)}


def describe_inline_figures(shell=None) -> bool:
    """In a notebook (an IPython shell), make each figure shown inline carry its :func:`describe` text in its
    output's metadata (``image/png`` → ``alt``), which the course site turns into ``<img alt>``. Returns whether it
    did (False outside IPython, or where figures are not shown as PNG). Idempotent.

    It wraps the PNG formatter the inline backend registers for figures. That backend registers it when it loads,
    which matplotlib does lazily (at the first figure), so this loads it first; and it wraps again after each cell
    (an IPython ``post_execute`` callback, run before the backend's own, which shows the cell's figures), since
    ``%matplotlib inline`` or a change of ``InlineBackend.figure_formats`` registers a new formatter."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    import importlib

    from matplotlib.figure import Figure

    plt = importlib.import_module("matplotlib.pyplot")
    if hasattr(shell, "events") and not getattr(shell, "_steer_describes_figures", False):
        try:  # load the backend now: the inline one registers its PNG formatter as it loads
            plt._get_backend_mod()
        except AttributeError:  # (a matplotlib without it: a figure made and closed loads it too)
            plt.close(plt.figure())
        shell.events.register("post_execute", lambda: describe_inline_figures(shell))
        shell._steer_describes_figures = True
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        base = formatter.lookup_by_type(Figure)
    except KeyError:  # figures are not shown as PNG here (another backend, SVG): leave them be
        return False
    if getattr(base, "_steer_alt", False):
        return True

    def png(fig):
        return inline_png(fig, base)

    png._steer_alt = True
    formatter.for_type(Figure, png)
    return True

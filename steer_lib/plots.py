"""Figure helpers shared by the notebooks: one style, saved as PNG and PDF under ``figures/<profile>/``."""
from __future__ import annotations

from pathlib import Path

from . import paths


def use_style() -> None:
    import matplotlib as mpl

    mpl.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10})


def savefig(fig, name: str, profile: str, base_model: str = "") -> Path:
    """Save ``fig`` as ``figures/<profile>[@<model>]/<name>.png`` and ``.pdf``; return the PNG path."""
    out = paths.figures_dir(profile, base_model)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.pdf", bbox_inches="tight")
    png = out / f"{name}.png"
    fig.savefig(png, bbox_inches="tight")
    return png

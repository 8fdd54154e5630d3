"""One task's method table from recorded results, and notebook 07's view of a task.

- :func:`task_table` -- the rows (every method at its preset, STEER at the comparison setting and at the point
  :func:`~steer_lib.experiments.selection.select_point` picks), read from the recorded metrics and sweep; the
  bootstrap tests (:mod:`~steer_lib.experiments.table_tests`, minutes of embedding) only when asked;
- :func:`reference_table` -- the authors' released outputs' table with its note;
- :func:`paper_section` -- one task's tables, notes and paragraphs the way notebook 07 shows them.

The jobs around them have their own modules: :mod:`~steer_lib.experiments.selection` (the selection rule, the Pareto
front), :mod:`~steer_lib.experiments.table_render` (Markdown/LaTeX, writing), :mod:`~steer_lib.experiments.narration`
(the paragraph). Their names stay importable from here for one release (notebooks and callers written before the split).
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

# re-exported for one release: callers written before the split import these from tables
from .narration import PARAGRAPH_COLUMNS, is_negative_only, paragraph, same_set  # noqa: F401
from .selection import SELECTION_RULE, pareto_front, select_point  # noqa: F401
from .table_render import (ARROW, COLUMNS, DIVERSITY_COLUMNS, HEADERS, TEX_ARROW, TEX_TIE, TIE,  # noqa: F401
                           best_labels, latex_escape, marks, render, summarise, write_table)


def task_table(task: str, profile: str, base_model: str = "", *, test: bool = False,
               embedder=None) -> tuple[pd.DataFrame, dict]:
    """The method table of one task from recorded results, and what it was built from.

    Rows: every baseline at its preset, ``negative_only`` and ``steer`` at the method-comparison
    settings (``ExperimentConfig.gamma/eta``), and the STEER point :func:`select_point` picks from the
    sweep (when a sweep is recorded). ``info``: ``steer_label`` (the row the paragraph judges: the pick,
    else the comparison setting), ``selected`` (the rule's pick or None), ``selection_note`` (why there
    is no pick), ``sweep`` (the sweep's rows), ``metrics`` (every recorded row), ``missing`` (rows not recorded).

    ``test``: also run the paired bootstraps (:func:`~steer_lib.experiments.table_tests.attach_tests`: best vs
    runner-up per column, STEER vs its nearest baseline) on the recorded sample sets, kept in ``summary.attrs`` for
    ``render`` and ``paragraph``. Off by default: they re-embed every set (minutes at ``quick``), and a table
    without them is built from the recorded numbers in seconds. ``embedder`` embeds them (default: the cached
    all-MiniLM-L6-v2, warm after scoring).
    """
    from .experiment import ExperimentConfig
    from .results import label, load_metrics
    from .sweep import load_sweep

    cfg = ExperimentConfig.for_profile(profile)
    metrics = load_metrics(task, profile, base_model=base_model)
    sweep = load_sweep(task, profile, n=cfg.n_samples, base_model=base_model)
    wanted = [label(m, cfg.gamma if m == "steer" else None, cfg.eta if m in ("steer", "negative_only") else None)
              for m in cfg.methods]
    selected, note = None, "no sweep recorded yet"
    if not sweep.empty:
        try:
            selected, note = select_point(sweep), ""
        except ValueError as exc:  # e.g. smoke: 8 samples are too few for MAUVE, so the rule cannot choose
            note = str(exc)
    steer_label = label("steer", cfg.gamma, cfg.eta)
    if selected:
        steer_label = label("steer", selected["gamma"], selected["eta"])
        wanted.append(steer_label) if steer_label not in wanted else None
        # The pick's numbers come from the sweep's own records, filed under the STEER name and every seed the
        # sweep ran (however the sweep obtained the samples), not from whichever metrics files happen to exist.
        at = (sweep["gamma"] == selected["gamma"]) & (sweep["eta"] == selected["eta"])
        picked = sweep[at].assign(method="steer", label=steer_label)
        kept = metrics[metrics["label"] != steer_label] if not metrics.empty else metrics
        metrics = pd.concat([df for df in (kept, picked) if not df.empty], ignore_index=True)
    rows = metrics[metrics["label"].isin(wanted)] if not metrics.empty else metrics
    summary = summarise(rows) if not rows.empty else pd.DataFrame(columns=[c for c, _ in COLUMNS])
    summary = summary.reindex([w for w in wanted if w in summary.index])
    if test and len(summary) >= 2:
        from .table_tests import attach_tests

        attach_tests(summary, rows, task, profile, cfg, steer_label, embedder, base_model)
    return summary, {"steer_label": steer_label, "selected": selected, "selection_note": note, "sweep": sweep,
                     "metrics": metrics,
                     "missing": [w for w in wanted if w not in summary.index]}



def reference_table(task: str, src=None) -> tuple[pd.DataFrame, str, str]:
    """The authors' table for ``task``: ``(summary, caption, note)``, one row per part of each released file
    scored against ``task``'s real pool (:func:`~.results.load_reference`); an empty summary when there is none."""
    from ..data.tasks import get_task
    from .results import load_reference, reference_note

    ref = load_reference(task, src)
    if ref.empty:
        return pd.DataFrame(), "", ""
    caption = (f"{task}: the authors' Falcon-7B outputs scored by the kit against the {get_task(task).name} "
               f"real pool, n={int(ref['n'].min())}–{int(ref['n'].max())}")
    return summarise(ref), caption, reference_note(ref)


def steer_rows(summary: pd.DataFrame) -> list[str]:
    """The STEER rows of an authors' table (``steer``, ``steer (final formula)``): each gets its own paragraph."""
    return [lab for lab in summary.index if str(lab) == "steer" or str(lab).startswith("steer (")]


class PaperSection(NamedTuple):
    markdown: str  # the task's heading, tables, notes and what is missing, as notebook 07 displays it
    paragraphs: list[str]  # what the numbers say: the kit's STEER row, then each of the authors' STEER rows
    kit_missing: bool  # no kit results are recorded for the task at this profile


def paper_section(task: str, profile: str, ref_src=None, base_model: str = "", *, test: bool = True) -> PaperSection:
    """One task of notebook 07: the kit's table (written to ``results/<profile>/table_<task>.md``/``.tex``), the
    authors' outputs' table scored from ``ref_src`` (``table_<task>_falcon-7b.*``), the diversity tables under
    each, and the generated paragraphs. Reads recorded results only; what is not recorded is named in the text.
    ``test`` (default on: notebook 07 reports them): the bootstrap tests behind the bold marks and the paragraphs.
    """
    from ..models import short_name
    from .experiment import ExperimentConfig

    cfg = ExperimentConfig.for_profile(profile)
    model = short_name(base_model)
    summary, info = task_table(task, profile, base_model, test=test)
    md, paragraphs = f"### {task}\n\n", []
    if summary.empty:
        md += f"_No kit results recorded for {task} at `{profile}` yet (notebooks 03–05 record them)._\n"
    else:
        caption = f"{task}: kit ({model} + LoRA), {profile}, n={cfg.n_samples}, {len(cfg.seeds)} seed(s)"
        written = write_table(summary, f"table_{task}", profile, caption, base_model=base_model)
        md += render(summary, "md", caption=f"*{caption}* — `{written['md'].name}`, `.tex`")
        md += "\n" + render(summary, "md", columns=DIVERSITY_COLUMNS,
                            caption=f"*{task}: the diversity measures of current work (Shaib et al.)*")
        paragraphs.append(paragraph(task, summary, info["steer_label"], grid=info["sweep"],
                                    context=f" (kit, {model}, {profile}, n={cfg.n_samples})"))
    ref_summary, ref_caption, ref_note = reference_table(task, ref_src)  # one row per part of each file
    if not ref_summary.empty:
        write_table(ref_summary, f"table_{task}_falcon-7b", profile, ref_caption, note=ref_note,
                    base_model=base_model)
        md += "\n" + render(ref_summary, "md", caption=f"*{ref_caption}*") + "\n" + ref_note
        md += "\n" + render(ref_summary, "md", columns=DIVERSITY_COLUMNS,
                            caption=f"*{task}, the authors' outputs: the diversity measures of current work*")
        for steer_row in steer_rows(ref_summary):  # the whole steer file, and its final-formula part
            paragraphs.append(paragraph(task, ref_summary, steer_row, context=" (authors' Falcon-7B outputs)"))
    if not info["selected"]:
        md += f"\n_No STEER point selected from the sweep ({info['selection_note']}); steer is judged at {info['steer_label']}._\n"
    if info["missing"]:
        md += f"\n_not recorded yet: {', '.join(info['missing'])}_\n"
    return PaperSection(md, paragraphs, summary.empty)

"""The paper's claims (``claims.yaml``) tested on one source of samples: a verdict per claim with its evidence.

A :class:`Source` is one task's named sample sets (each with its method and settings) plus the real texts they are
judged against: the **validation** split (the kit's selection rule reads only this) and the **test** reference (the
training pool, which excludes the validation split: the pool every test number of the kit uses). Builders:

- :func:`from_authors`: the STEER authors' released Falcon-7B files, labelled as the kit corrects them (their
  ``contrastive`` file is top-k sampling, each comments file holds a toxic and a non-toxic run, the hypotheses
  ``steer`` file's final-formula part is their STEER) and, for hypotheses, their γ×η grid (24–48 samples a cell);
- :func:`from_generations`: any folder of the kit's generations JSONL files (one set per method and settings,
  seeds pooled), e.g. the ``study`` profile's folder per (task, checkpoint);
- :func:`from_profile`: ``runs/<scope>/generations/<task>/`` of a profile, with its downstream results.

:func:`evaluate_claims` reduces every family with several settings to one by the kit's selection rule
(:func:`steer_lib.experiments.tables.select_point`, on validation), then tests each claim on the test reference
with :func:`steer_lib.experiments.significance.bootstrap_test` (its calibrated per-metric schemes) and turns the
interval into a verdict (the rules in ``claims.yaml``). Samples are **not paired**: two methods' samples share no
per-sample prompt (every sample uses the task's one prompt), so the two sides are redrawn independently, as the
significance module does. :func:`conclusion` says the rows in plain sentences.

>>> verdict(0.01, 0.05, 40, 40), verdict(-0.05, -0.01, 40, 40), verdict(-0.01, 0.02, 40, 40)
('supported', 'contradicted', 'inconclusive')
>>> verdict(0.01, 0.05, 19, 40), verdict(float("nan"), float("nan"), 40, 40)
('not tested', 'not tested')
"""
from __future__ import annotations

import dataclasses
import json
import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import paths
from ..runtime import no_log

CLAIMS_FILE = Path(__file__).with_name("claims.yaml")
VERDICTS = ("supported", "contradicted", "inconclusive", "not tested", "identical sets")
GRID_FAMILY = "steer"  # STEER's γ×η grid; negative_only at η is its γ = 0 point
# settings every generations record carries; any other non-empty one (e.g. a plausibility mask) makes a family
STANDARD_PARAMS = ("gamma", "eta", "top_k", "top_p", "temperature", "k", "grow", "max_new_tokens",
                   "max_negative_tokens", "batch_size", "num_beams", "penalty_alpha", "cd_alpha", "cd_beta",
                   "amateur_temperature")
SHORT = {"gamma": "γ", "eta": "η", "temperature": "T", "top_k": "k", "top_p": "p", "k": "negatives",
         "max_new_tokens": "tokens"}
AUTHORS_GRID_NOTE = "the authors' γ×η grid: 24–48 samples a cell, hypotheses only; read it as hypotheses"


class ClaimsError(ValueError):
    """A missing or unusable input: the CLI prints its message as one ``error:`` line."""


@lru_cache(maxsize=1)
def load_claims() -> dict:
    """``claims.yaml`` as a dict (``rules`` and ``claims``), checked for the fields the evaluation reads."""
    from ..files import read_yaml

    spec = read_yaml(CLAIMS_FILE, ClaimsError)
    ids = [c.get("id") for c in spec.get("claims", [])]
    if ids != [f"C{i}" for i in range(1, 8)]:
        raise ClaimsError(f"{CLAIMS_FILE}: claims must be C1..C7 in order; got {ids}")
    for c in spec["claims"]:
        if c.get("shape") not in ("pareto", "difference", "monotone", "downstream"):
            raise ClaimsError(f"{CLAIMS_FILE}: {c['id']}: shape={c.get('shape')!r} is not a known rule shape")
    return spec


# ------------------------------------------------------------------ what is compared
@dataclasses.dataclass(frozen=True)
class Sample:
    """One named sample set: its method, the settings it was made with, its texts (seeds pooled).

    ``family``: the set of settings a method is tuned over (``steer``: the γ×η grid, with negative_only at η as its
    γ = 0 point; otherwise the method, plus any non-standard setting such as a plausibility mask).
    """
    name: str
    method: str
    family: str
    params: tuple[tuple[str, Any], ...] = ()
    texts: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self):
        if not self.name:
            raise ValueError("Sample: name must not be empty")
        if not isinstance(self.texts, tuple) or not all(isinstance(t, str) for t in self.texts):
            raise ValueError(f"Sample {self.name!r}: texts must be a tuple of strings")

    def param(self, key: str, default=None):
        return dict(self.params).get(key, default)

    @property
    def gamma(self) -> float:
        return float(self.param("gamma", 0.0) or 0.0)

    @property
    def eta(self) -> float:
        return float(self.param("eta", 0.0) or 0.0)


@dataclasses.dataclass(frozen=True)
class Source:
    """One task's sample sets and real texts. ``steer``: the set that is STEER for C1–C3 when the source fixes it
    (the authors' released steer file), else ``""`` (picked from the grid by the rule). ``downstream``: the
    recorded ``vs_real`` rows by downstream task, or ``None`` with ``downstream_note`` saying why."""
    name: str
    task: str
    sets: tuple[Sample, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    steer: str = ""
    grid_note: str = ""
    downstream: dict | None = None
    downstream_note: str = ""

    def __post_init__(self):
        names = [s.name for s in self.sets]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"Source {self.name!r}: set names {dup} appear twice")
        if self.steer and self.steer not in names:
            raise ValueError(f"Source {self.name!r}: steer={self.steer!r} is not one of its sets {names}")


@dataclasses.dataclass(frozen=True)
class Row:
    """One test of one claim: ``diff`` = direction × (metric(a) − metric(b)), its interval, sizes, the verdict."""
    claim: str
    task: str
    source: str
    a: str
    b: str
    metric: str
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    n_a: int
    n_b: int
    verdict: str
    settings_a: int = 1
    settings_b: int = 1
    note: str = ""

    def to_dict(self) -> dict:
        from ..files import jsonable

        return jsonable(dataclasses.asdict(self))


def verdict(ci_low: float | None, ci_high: float | None, n_a: int, n_b: int, *, min_samples: int | None = None) -> str:
    """The verdict of an interval of direction × (a − b): see ``rules.verdicts`` in ``claims.yaml``."""
    min_samples = load_claims()["rules"]["min_samples"] if min_samples is None else min_samples
    if n_a < min_samples or n_b < min_samples or ci_low is None or ci_high is None or \
            math.isnan(ci_low) or math.isnan(ci_high):
        return "not tested"
    if ci_low > 1e-12:
        return "supported"
    if ci_high < -1e-12:
        return "contradicted"
    return "inconclusive"


# ------------------------------------------------------------------ builders
def _freeze(params: dict) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, v) for k, v in params.items() if v is not None and k != "batch_size"))


def _family(method: str, params: dict) -> str:
    extra = sorted((k, v) for k, v in params.items() if k not in STANDARD_PARAMS and v not in (None, False, 0))
    fam = GRID_FAMILY if method == "negative_only" else method
    return fam + "".join(f" {k}={v}" for k, v in extra)


def _read_records(path: Path) -> list[dict]:
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if i == len(lines) - 1:  # a torn last line from an interrupted run: the rest is whole
                break
            raise ClaimsError(f"{path}:{i + 1}: not a JSON record") from None
    return out


def _names(sets: list[dict]) -> list[str]:
    """Row labels: the method, plus the settings that vary within its family (γ/η for the grid)."""
    out = []
    for s in sets:
        p = dict(s["params"])
        same = [x for x in sets if x["family"] == s["family"]]
        if s["family"].startswith(GRID_FAMILY):
            label = f"steer γ={float(p.get('gamma') or 0):g} η={float(p.get('eta') or 0):g}"
            label += s["family"][len(GRID_FAMILY):]
        else:
            varying = [k for k in sorted(p) if k not in ("gamma", "eta") and
                       len({str(dict(x["params"]).get(k)) for x in same}) > 1]
            label = " ".join([s["family"]] + [f"{SHORT.get(k, k)}={p[k]:g}" if isinstance(p.get(k), (int, float))
                                              else f"{SHORT.get(k, k)}={p.get(k)}" for k in varying])
        out.append(label)
    return out


def from_generations(folder: str | Path, task: str, *, name: str | None = None, downstream: dict | None = None,
                     downstream_note: str = "") -> Source:
    """Every generations JSONL in ``folder`` as named sets: one per (method, settings, model), seeds pooled (per
    seed, the longest file: a smaller run of the same seed repeats its first samples). ``negative_only`` at η is
    the grid's γ = 0 point unless a ``steer`` γ = 0 set at that η exists (then it is the same sampler: dropped)."""
    from ..data.tasks import get_task

    t = get_task(task)
    folder = Path(folder)
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    groups: dict[tuple, dict] = {}
    for f in files:
        recs = _read_records(f)
        if not recs:
            continue
        r0 = recs[0]
        if r0.get("task") not in (None, t.name):
            continue  # another task's file in the folder
        params = dict(r0.get("params") or {})
        key = (r0["method"], _freeze(params), r0.get("model"))
        g = groups.setdefault(key, {"method": r0["method"], "params": _freeze(params), "model": r0.get("model"),
                                    "family": _family(r0["method"], params), "seeds": {}})
        seed = r0.get("seed", 0)
        texts = [r["text"] for r in recs if isinstance(r.get("text"), str)]
        if len(texts) > len(g["seeds"].get(seed, [])):
            g["seeds"][seed] = texts
    if not groups:
        raise ClaimsError(f"no generations for {t.name} in {folder}")
    sets = list(groups.values())
    grid = {(float(dict(s["params"]).get("gamma") or 0), float(dict(s["params"]).get("eta") or 0), s["family"])
            for s in sets if s["method"] == "steer"}
    sets = [s for s in sets if not (s["method"] == "negative_only" and
                                    (0.0, float(dict(s["params"]).get("eta") or 0), s["family"]) in grid)]
    labels = _names(sets)
    if len(set(labels)) < len(labels):  # two models (or settings outside the label) in one folder: name them
        labels = [f"{lab} [{s['model']}]" if labels.count(lab) > 1 else lab for lab, s in zip(labels, sets)]
    out = tuple(Sample(name=lab, method=s["method"], family=s["family"], params=s["params"],
                       texts=tuple(x for seed in sorted(s["seeds"]) for x in s["seeds"][seed]),
                       note=f"seeds {sorted(s['seeds'])}" if len(s["seeds"]) > 1 else "")
                for lab, s in zip(labels, sets))
    return Source(name=name or str(folder), task=t.name, sets=out, val=tuple(t.real_texts("val")),
                  test=tuple(_test_reference(t.name)), downstream=downstream,
                  downstream_note=downstream_note or "a generations folder carries no downstream results")


def _test_reference(task: str) -> list[str]:
    from .experiment import real_reference

    return real_reference(task)


DOWNSTREAM_TASK = {"comments-toxic": "comments", "comments-nontoxic": "comments", "commonsense": "commonsense"}


def _downstream(files: list[Path], task: str, run: str) -> tuple[dict | None, str]:
    dt = DOWNSTREAM_TASK.get(task)
    if dt is None:
        return None, f"the paper has no downstream task for {task}"
    for f in files:
        if f.is_file():
            blob = json.loads(f.read_text(encoding="utf-8"))
            rows = blob.get("vs_real") or []
            if rows:
                return {"task": dt, "file": str(f), "rows": rows}, ""
            return None, f"{f} records no intervals vs real-only (written by an older kit): rerun {run}"
    return None, f"no downstream results for {dt}: run {run} first"


def from_profile(profile: str, task: str, base: str = "") -> Source:
    """The kit's own runs of ``profile`` (``runs/<scope>/generations/<task>/``) and its downstream results."""
    from ..config import check_profile
    from ..data.tasks import get_task

    check_profile(profile)
    t = get_task(task)
    folder = paths.profile_runs_dir(profile, base) / "generations" / t.name
    if not folder.is_dir() or not any(folder.glob("*.jsonl")):
        raise ClaimsError(f"no generations for {t.name} at profile {paths.scope(profile, base)} ({folder}): run "
                          f"`make reproduce PROFILE={profile}` or `python -m steer_lib generate --task {t.name} "
                          f"--profile {profile} ...` first")
    dt = DOWNSTREAM_TASK.get(t.name, "")
    ds, note = _downstream([paths.results_dir(profile, base) / f"downstream_{dt}.json"], t.name,
                           f"`python -m steer_lib downstream --task {dt} --profile {profile}`")
    return from_generations(folder, t.name, name=f"profile {paths.scope(profile, base)}", downstream=ds,
                            downstream_note=note)


def from_authors(task: str) -> Source:
    """The authors' released Falcon-7B files for a kit task (and, for hypotheses, their γ×η grid), labelled as the
    kit corrects them. Their STEER is the ``steer`` file's part for this task (hypotheses: the final-formula part,
    lines 653–end; the earlier lines mix older formulas and are left out)."""
    from ..authors import outputs as ref
    from ..data.download import DataError
    from ..data.tasks import get_task

    t = get_task(task)
    try:
        rt = ref.ref_task(t.name)
    except ValueError as exc:
        raise ClaimsError(str(exc)) from None
    sets = []
    try:
        for m in ref.reference_methods(rt):
            kit = ref.KIT_METHOD.get(m, m)
            part = "final formula" if (rt, m) == ("hypotheses", "steer") else None
            texts = ref.load_reference(t.name, m, part)
            note = f"their '{m}' file" + (f", {part} part" if part else "")
            params = (("authors_file", m),)
            sets.append(Sample(name=ref.label(m, part or ""), method=kit,
                               family=GRID_FAMILY if kit == "steer" else kit, params=params, texts=tuple(texts),
                               note=note))
        grid_note = ""
        if rt == "hypotheses":
            for (g, e), texts in ref.load_grid().items():
                sets.append(Sample(name=f"steer γ={g:g} η={e:g} (grid)", method="steer", family="steer grid",
                                   params=(("eta", e), ("gamma", g)), texts=tuple(texts), note=AUTHORS_GRID_NOTE))
            grid_note = AUTHORS_GRID_NOTE
    except (FileNotFoundError, DataError) as exc:
        raise ClaimsError(f"the authors' released outputs are not on disk ({exc}): run "
                          "`python -m steer_lib data fetch` first") from None
    steer = next((s.name for s in sets if s.method == "steer" and s.family == GRID_FAMILY), "")
    files = sorted((paths.root() / "results").glob(f"*/downstream_{DOWNSTREAM_TASK.get(t.name, '-')}_reference.json"))
    ds, note = _downstream(files, t.name, f"`python -m steer_lib downstream --task "
                                          f"{DOWNSTREAM_TASK.get(t.name, '')} --reference`")
    return Source(name="authors (Falcon-7B, released)", task=t.name, sets=tuple(sets), val=tuple(t.real_texts("val")),
                  test=tuple(_test_reference(t.name)), steer=steer, grid_note=grid_note, downstream=ds,
                  downstream_note=note)


# ------------------------------------------------------------------ scoring
class _Scorer:
    """Embeddings (through the kit's on-disk cache), validation scores and test :class:`~steer_lib.experiments.significance.SampleSet` per set."""

    def __init__(self, source: Source, *, embedder=None, tokenizer=None, n: int | None = None, seed: int = 0,
                 mauve_seeds: int = 3):
        from ..data.tasks import get_task
        from ..metrics.embeddings import as_embedder

        self.src, self.n, self.seed, self.mauve_seeds, self.tok = source, n, seed, mauve_seeds, tokenizer
        self.emb = as_embedder(embedder)
        self.task = get_task(source.task)
        self._sets: dict[str, Any] = {}
        self._val: dict[str, dict] = {}

    def unit(self, texts: Sequence[str]) -> np.ndarray:
        e = np.asarray(self.emb.encode(list(texts)), dtype=np.float64)
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)

    def sample_set(self, s: Sample, k: int | None = None):
        """The set against the test reference: ``k`` of its texts (default all, at most ``n``) and as many real
        ones, drawn with the seed as ``evaluate`` does. Two sets are compared at one size: the set measures
        (3-grams above all) move with the amount of text."""
        from ..metrics.evaluation import sample_pair
        from ..metrics.text import tokenize
        from .significance import SampleSet

        k = min(x for x in (k, self.n, len(s.texts)) if x)
        if (s.name, k) not in self._sets:
            syn, real = sample_pair(list(s.texts), list(self.src.test), k, self.seed)
            self._sets[(s.name, k)] = SampleSet(texts=syn, real=real, emb=self.unit(syn), real_emb=self.unit(real),
                                           tokens=[tokenize(x, self.tok) for x in syn],
                                           valid=np.array([self.task.parse(x).valid for x in syn], dtype=float))
        return self._sets[(s.name, k)]

    def validation(self, s: Sample) -> dict:
        """The selection rule's inputs: validation MAUVE (and AUROC, its fallback), 3-grams, validity."""
        from ..metrics import fidelity
        from ..metrics.evaluation import sample_pair
        from ..metrics.text import ngram_ratio, tokenize

        if s.name not in self._val:
            syn, real = sample_pair(list(s.texts), list(self.src.val), None, self.seed)
            e_syn, e_real = self.unit(syn), self.unit(real)
            try:
                mauve = fidelity.mauve_score(e_real, e_syn, num_buckets=fidelity.mauve_buckets(len(syn)),
                                             seeds=self.mauve_seeds, seed=self.seed).mean
            except ValueError:
                mauve = math.nan
            try:
                auroc = fidelity.adversarial_auroc(e_real, e_syn, seed=self.seed).mean
            except ValueError:
                auroc = math.nan
            self._val[s.name] = {"val_mauve": mauve, "val_adv_auroc": auroc,
                                 "ngram3": ngram_ratio(tokenize(" ".join(s.texts), self.tok), 3),
                                 "validity": float(np.mean([self.task.parse(x).valid for x in s.texts]))}
        return self._val[s.name]


def pick(candidates: Sequence[Sample], scorer: _Scorer) -> Sample:
    """One setting of a family by the kit's selection rule on validation (:func:`~.tables.select_point`).

    Grid sets are keyed by their (γ, η), so ties go to the smaller γ + η as the rule says; other families are keyed
    by their order (the rule's tie-break then keeps the first listed).
    """
    import pandas as pd

    from .tables import select_point

    if len(candidates) == 1:
        return candidates[0]
    grid = all(c.family.startswith(GRID_FAMILY) for c in candidates)
    keys = [(c.gamma, c.eta) if grid else (float(i), 0.0) for i, c in enumerate(candidates)]
    df = pd.DataFrame([{"gamma": g, "eta": e, **scorer.validation(c)} for (g, e), c in zip(keys, candidates)])
    try:
        top = select_point(df)
    except ValueError:  # every validation score NaN (too few samples): keep the first, the rule cannot choose
        return candidates[0]
    return candidates[keys.index((top["gamma"], top["eta"]))]


# ------------------------------------------------------------------ the claims
def _test(scorer: _Scorer, a: Sample, b: Sample, metric: str, direction: int, reps: int | None) -> dict:
    from ..metrics import MetricWarning
    from .significance import bootstrap_test

    k = min(len(a.texts), len(b.texts))
    sa, sb = scorer.sample_set(a, k), scorer.sample_set(b, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        r = bootstrap_test([sa], [sb], metric, direction, seed=scorer.seed, reps=reps,
                           level=load_claims()["rules"]["level"])
    return {**r, "n_a": len(sa.texts), "n_b": len(sb.texts)}


def _row(claim: str, src: Source, a: Sample, b: Sample, metric: str, direction: int, scorer: _Scorer,
         reps: int | None, settings: tuple[int, int] = (1, 1), note: str = "") -> Row:
    notes = [x for x in (note, a.note if "grid" in a.note else "") if x]
    if a.texts == b.texts:
        return Row(claim, src.task, src.name, a.name, b.name, metric, None, None, None, len(a.texts), len(b.texts),
                   "identical sets", *settings, "; ".join(notes + ["both sides hold the same texts"]))
    rules = load_claims()["rules"]
    if min(len(a.texts), len(b.texts), len(src.test)) < rules["min_samples"]:
        return Row(claim, src.task, src.name, a.name, b.name, metric, None, None, None, len(a.texts), len(b.texts),
                   "not tested", *settings, "; ".join(notes + [f"fewer than {rules['min_samples']} samples a side"]))
    r = _test(scorer, a, b, metric, direction, reps)
    if len(a.texts) != len(b.texts):
        notes.append(f"both sides cut to {r['n_a']} texts (of {len(a.texts)} and {len(b.texts)})")
    if r.get("undefined"):
        notes.append(f"{metric} is undefined on the bootstrap's redraws of {r['n_a']} and {r['n_b']} samples")
    v = verdict(r["ci"][0], r["ci"][1], r["n_a"], r["n_b"], min_samples=rules["min_samples"])
    return Row(claim, src.task, src.name, a.name, b.name, metric, r["diff"], r["ci"][0], r["ci"][1], r["n_a"],
               r["n_b"], v, *settings, "; ".join(notes))


def _families(src: Source, exclude: Sequence[str] = ()) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for s in src.sets:
        if s.family not in exclude:
            out.setdefault(s.family, []).append(s)
    return out


def _tuning_note(k_a: int, k_b: int, a: str = "STEER", b: str = "the baseline") -> str:
    if k_a > 1 and k_b == 1:
        return f"unequal tuning: {a} picked from {k_a} settings, {b} had 1"
    if k_b > 1 and k_a == 1:
        return f"unequal tuning: {b} picked from {k_b} settings, {a} had 1"
    return ""


def _steer_note(s: Sample) -> str:
    # the grid's γ = 0 point is often the negative_only set itself (notebook 05 reuses it): still the grid's pick
    if s.method not in ("steer", "negative_only") or "gamma" not in dict(s.params):
        return ""
    if s.gamma == 0 and s.eta > 0:
        return f"the picked STEER point has γ = 0: negative prompting alone (η = {s.eta:g}), not STEER with γ > 0"
    if s.gamma == 0 and s.eta == 0:
        return "the picked STEER point has γ = η = 0: plain top-k sampling, neither STEER term"
    return ""


def _baselines(src: Source, scorer: _Scorer) -> tuple[Sample | None, int, list[tuple[Sample, int]]]:
    """STEER for C1–C3 (the source's fixed set, or the grid's pick) and each baseline family's pick."""
    fams = _families(src)
    if src.steer:
        steer, k_steer = next(s for s in src.sets if s.name == src.steer), 1
    elif GRID_FAMILY in fams:
        steer, k_steer = pick(fams[GRID_FAMILY], scorer), len(fams[GRID_FAMILY])
    else:
        steer, k_steer = None, 0
    base = []
    for fam, members in fams.items():
        if fam.startswith(GRID_FAMILY) or fam == "negative_only":
            continue
        if fam == "top_k" and GRID_FAMILY in fams:  # STEER at γ = η = 0 is top-k sampling at T = 1: a top-k setting
            members = members + [s for s in fams[GRID_FAMILY] if s.gamma == 0 and s.eta == 0 and
                                 s.method == "steer" and not src.steer]
        base.append((pick(members, scorer), len(members)))
    return steer, k_steer, base


def _difference_rows(cid: str, src: Source, scorer: _Scorer, reps, steer, k_steer, base) -> list[Row]:
    spec = next(c for c in load_claims()["claims"] if c["id"] == cid)
    rows = []
    for b, k_b in base:
        note = "; ".join(x for x in (_steer_note(steer), _tuning_note(k_steer, k_b),
                                      "STEER: the authors' released setting (their choice, not the kit's rule)"
                                      if src.steer else "") if x)
        for metric, d in spec["metrics"].items():
            rows.append(_row(cid, src, steer, b, metric, int(d), scorer, reps, (k_steer, k_b), note))
    return rows


def _pareto_rows(src: Source, c2: list[Row], c3: list[Row]) -> list[Row]:
    spec = next(c for c in load_claims()["claims"] if c["id"] == "C1")
    by = {(r.b, r.metric): r for r in c2 + c3}
    rows = []
    for b in dict.fromkeys(r.b for r in c2 + c3):
        axes = [by.get((b, m)) for m in spec["metrics"]]
        if any(x is None for x in axes):
            continue
        vs = [x.verdict for x in axes]
        if "identical sets" in vs:
            v = "identical sets"
        elif "not tested" in vs:
            v = "not tested"
        elif "supported" in vs:
            v = "supported"
        elif all(x == "contradicted" for x in vs):
            v = "contradicted"
        else:
            v = "inconclusive"
        best = max(axes, key=lambda x: -math.inf if x.ci_low is None else x.ci_low)  # the axis most in STEER's favour
        detail = "; ".join(f"{x.metric} {_fmt(x.diff)} [{_fmt(x.ci_low)}, {_fmt(x.ci_high)}]" for x in axes)
        rows.append(dataclasses.replace(best, claim="C1", metric=" & ".join(spec["metrics"]), verdict=v,
                                        note="; ".join(x for x in (detail, best.note) if x)))
    return rows


def _grid(src: Source) -> list[Sample]:
    """The γ×η grid sets (the authors' grid when the source has one: their steer file is not a grid point)."""
    fams = _families(src)
    return fams.get(f"{GRID_FAMILY} grid") or [s for s in fams.get(GRID_FAMILY, []) if "gamma" in dict(s.params)]


def _knob_rows(cid: str, src: Source, scorer: _Scorer, reps) -> list[Row]:
    """C4 (γ > 0 vs γ = 0 at each η) or C5 (η > 0 vs η = 0 at each γ); the varied side picked by the rule."""
    spec = next(c for c in load_claims()["claims"] if c["id"] == cid)
    grid = _grid(src)
    fixed, varied = ("eta", "gamma") if cid == "C4" else ("gamma", "eta")
    rows = []
    for f in sorted({getattr(s, fixed) for s in grid}):
        line = [s for s in grid if getattr(s, fixed) == f]
        zero = [s for s in line if getattr(s, varied) == 0]
        more = [s for s in line if getattr(s, varied) > 0]
        if not zero or not more:
            continue
        a = pick(more, scorer)
        k = "γ" if cid == "C4" else "η"
        note = _tuning_note(len(more), 1, f"{k} > 0", f"{k} = 0")
        for metric, d in spec["metrics"].items():
            rows.append(_row(cid, src, a, zero[0], metric, int(d), scorer, reps, (len(more), 1), note))
    return rows


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = ~np.isnan(y)
    if ok.sum() < 3 or np.ptp(y[ok]) == 0:
        return math.nan
    return float(spearmanr(x[ok], y[ok]).statistic)


def _monotone_rows(src: Source, scorer: _Scorer, reps: int | None) -> list[Row]:
    """C6: mean Spearman ρ between a knob and a metric along the grid's lines, with a redraw interval."""
    from ..metrics import MetricWarning
    from .significance import EXPENSIVE, EXPENSIVE_REPS, REPS, SCHEME, stat_functions

    spec = next(c for c in load_claims()["claims"] if c["id"] == "C6")
    rules = load_claims()["rules"]
    grid, stats, rows = _grid(src), stat_functions(), []
    for knob, metrics in spec["axes"].items():
        other = "eta" if knob == "gamma" else "gamma"
        lines = {}
        for s in grid:
            lines.setdefault(getattr(s, other), []).append(s)
        lines = {k: sorted(v, key=lambda s: getattr(s, knob)) for k, v in lines.items()
                 if len(v) >= rules["min_grid_points"]}
        values = sorted({getattr(s, knob) for s in grid})
        label = f"{knob} axis ({len(lines)} lines of {other} fixed)"
        cells = [s for v in lines.values() for s in v]
        n_min = min((len(s.texts) for s in cells), default=0)
        for metric, d in metrics.items():
            base = dict(claim="C6", task=src.task, source=src.name, a=label, b="—", metric=f"Spearman ρ({knob}, {metric})",
                        n_a=n_min, n_b=len(cells), settings_a=len(values), settings_b=len(lines))
            if not lines:
                why = (f"the source has no γ×η grid for {src.task}" if not grid else
                       f"{len(values)} {knob} value(s) in the grid; the rule needs {rules['min_grid_points']} "
                       "along an axis")
                rows.append(Row(**base, diff=None, ci_low=None, ci_high=None, verdict="not tested", note=why))
                continue
            if n_min < rules["min_samples"]:
                rows.append(Row(**base, diff=None, ci_low=None, ci_high=None, verdict="not tested",
                                note=f"a cell has {n_min} samples, under {rules['min_samples']}"))
                continue
            sets = {s.name: scorer.sample_set(s, n_min) for s in cells}  # one size: the set measures move with it
            scheme = SCHEME.get(metric, "half")
            rng = np.random.default_rng([scorer.seed, 66])

            def draw(k: int) -> np.ndarray:
                return rng.integers(0, k, k) if scheme == "replace" else rng.permutation(k)[: max(2, k // 2)]

            def value(s, ix, rx, rep) -> float:
                try:
                    return float(stats[metric](s, ix, rx, rep))
                except ValueError:
                    return math.nan

            def rho(vals: dict) -> float:
                rs = [_spearman([getattr(s, knob) for s in line], [int(d) * vals[s.name] for s in line])
                      for line in lines.values()]
                rs = [r for r in rs if not math.isnan(r)]
                return float(np.mean(rs)) if rs else math.nan

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MetricWarning)
                obs = rho({k: value(x, np.arange(len(x.texts)), np.arange(len(x.real)), scorer.seed)
                           for k, x in sets.items()})
                boots = []
                for rep in range(reps or (EXPENSIVE_REPS if metric in EXPENSIVE else REPS)):
                    boots.append(rho({k: value(x, draw(len(x.texts)), draw(len(x.real)), rep)
                                      for k, x in sets.items()}))
            b = np.asarray(boots)
            b = b[~np.isnan(b)]
            alpha = (1 - rules["level"]) / 2
            if math.isnan(obs) or len(b) < max(2, len(boots) // 2):
                rows.append(Row(**base, diff=None if math.isnan(obs) else obs, ci_low=None, ci_high=None,
                                verdict="not tested", note=f"{metric} is undefined on redraws of cells this small"))
                continue
            # centred as significance.bootstrap_test does: a redraw shifts a set measure (half the texts, or
            # duplicates), so the replicates' spread is kept and their shift dropped; a correlation stays in [−1, 1]
            lo, hi = (float(np.clip(obs + q, -1, 1)) for q in np.quantile(b - b.mean(), [alpha, 1 - alpha]))
            rows.append(Row(**base, diff=obs, ci_low=lo, ci_high=hi,
                            verdict=verdict(lo, hi, n_min, n_min, min_samples=rules["min_samples"]),
                            note="; ".join(x for x in (src.grid_note, f"{knob} values {values}") if x)))
    return rows


def _downstream_rows(src: Source) -> list[Row]:
    """C7 from the recorded ``vs_real`` rows: STEER's interval vs each baseline's (see claims.yaml)."""
    if src.downstream is None:
        return [Row("C7", DOWNSTREAM_TASK.get(src.task, src.task), src.name, "steer", "each baseline", "accuracy",
                    None, None, None, 0, 0, "not tested", note=src.downstream_note)]
    ds, rows = src.downstream, []
    by = {(r["method"], r["setting"]): r for r in ds["rows"]}
    for setting in dict.fromkeys(r["setting"] for r in ds["rows"]):
        steer = by.get(("steer", setting))
        for (m, st), r in by.items():
            if st != setting or m == "steer":
                continue
            if steer is None:
                rows.append(Row("C7", ds["task"], src.name, f"steer ({setting})", f"{m} ({setting})", "accuracy",
                                None, None, None, 0, 0, "not tested", note=f"no steer row in {ds['file']}"))
                continue
            lo, hi = steer["ci_lo"] - r["ci_hi"], steer["ci_hi"] - r["ci_lo"]
            v = "supported" if lo > 0 else "contradicted" if hi < 0 else "inconclusive"
            rows.append(Row("C7", ds["task"], src.name, f"steer ({setting})", f"{m} ({setting})",
                            "accuracy − real-only", steer["diff"] - r["diff"], lo, hi, int(steer.get("seeds", 1)),
                            int(r.get("seeds", 1)), v,
                            note=f"n = seeds; interval from the two 95 % intervals vs real-only (conservative); "
                                 f"{ds['file']}"))
    return rows


def evaluate_claims(source: Source, *, claims: Sequence[str] | None = None, reps: int | None = None,
                    n: int | None = None, seed: int = 0, embedder=None, tokenizer=None, mauve_seeds: int = 3,
                    log: Callable[[str], None] = no_log) -> list[Row]:
    """Every claim of ``claims.yaml`` (or those in ``claims``) on one source; one :class:`Row` per test.

    ``reps``: bootstrap replicates (default: the significance module's calibrated counts); ``n``: at most this
    many texts a side in the tests (default: all); ``seed``: the test-reference draw and the bootstraps' seed.
    """
    spec = load_claims()
    want = list(claims or [c["id"] for c in spec["claims"]])
    unknown = [c for c in want if c not in {x["id"] for x in spec["claims"]}]
    if unknown:
        raise ClaimsError(f"unknown claim(s) {unknown}; claims: {', '.join(c['id'] for c in spec['claims'])}")
    if reps is not None and reps < 2:
        raise ClaimsError(f"reps={reps!r} must be at least 2")
    if n is not None and n < 1:
        raise ClaimsError(f"n={n!r} must be at least 1")
    scorer = _Scorer(source, embedder=embedder, tokenizer=tokenizer, n=n, seed=seed, mauve_seeds=mauve_seeds)
    rows: list[Row] = []
    c2 = c3 = None
    if {"C1", "C2", "C3"} & set(want):
        steer, k_steer, base = _baselines(source, scorer)
        log(f"{source.task}: STEER = {steer.name if steer else '(none)'}; baselines "
            f"{', '.join(b.name for b, _ in base) or '(none)'}")
        if steer is None or not base:
            missing = "STEER" if steer is None else "a baseline"
            for cid in ("C1", "C2", "C3"):
                if cid in want:
                    rows.append(Row(cid, source.task, source.name, steer.name if steer else "steer", "each baseline",
                                    "—", None, None, None, 0, 0, "not tested", note=f"the source has no {missing} set"))
        else:
            c2 = _difference_rows("C2", source, scorer, reps, steer, k_steer, base)
            c3 = _difference_rows("C3", source, scorer, reps, steer, k_steer, base)
            if "C1" in want:
                rows += _pareto_rows(source, c2, c3)
            rows += (c2 if "C2" in want else []) + (c3 if "C3" in want else [])
    for cid in ("C4", "C5"):
        if cid in want:
            got = _knob_rows(cid, source, scorer, reps)
            rows += got or [Row(cid, source.task, source.name, "steer", "steer", "—", None, None, None, 0, 0,
                                "not tested", note="the source has no grid line with both a zero and a non-zero "
                                                   f"{'γ' if cid == 'C4' else 'η'}")]
            log(f"{source.task}: {cid} done")
    if "C6" in want:
        rows += _monotone_rows(source, scorer, reps)
    if "C7" in want and (source.task != "comments-nontoxic" or source.downstream is None):
        # both comments tasks feed one downstream experiment: its rows are shown once, under comments-toxic
        rows += _downstream_rows(source)
    order = {c: i for i, c in enumerate(want)}
    return sorted(rows, key=lambda r: order[r.claim])


# ------------------------------------------------------------------ reading the rows
def _fmt(v: float | None, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.{digits}f}".replace("-", "−")


def to_markdown(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (claim, the two sets, metric, difference, 95 % interval, n per side, verdict)."""
    lines = ["| claim | task | a | b | metric | a − b (paper's direction) | 95 % interval | n (a / b) | settings (a / b) "
             "| verdict | note |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = "—" if r.ci_low is None else f"{_fmt(r.ci_low)} to {_fmt(r.ci_high)}"
        lines.append(f"| {r.claim} | {r.task} | {r.a} | {r.b} | {r.metric} | {_fmt(r.diff)} | {ci} | {r.n_a} / "
                     f"{r.n_b} | {r.settings_a} / {r.settings_b} | {r.verdict} | {r.note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def conclusion(rows: Sequence[Row]) -> list[str]:
    """Plain sentences from the rows, one per claim and task: how many tests went each way, and the findings
    against the paper stated as plainly as those for it.

    >>> r = lambda v, m="mauve": Row("C2", "hypotheses", "s", "steer", "top_k", m, 0.1, 0.0, 0.2, 40, 40, v)
    >>> conclusion([r("supported"), r("contradicted", "cosine")])[0]
    'C2 coherence on hypotheses: mixed — 1 of 2 tests support the paper (mauve vs top_k), 1 contradicts it (cosine vs top_k).'
    >>> conclusion([r("inconclusive")])[0]
    'C2 coherence on hypotheses: inconclusive — the test reaches no verdict either way.'
    >>> conclusion([r("identical sets")])[0]
    'C2 coherence on hypotheses: not tested — every comparison set STEER against the same texts (identical sets).'
    """
    titles = {c["id"]: c["title"] for c in load_claims()["claims"]}
    out = []
    for (cid, task) in dict.fromkeys((r.claim, r.task) for r in rows):
        rs = [r for r in rows if (r.claim, r.task) == (cid, task)]
        count = {v: [r for r in rs if r.verdict == v] for v in VERDICTS}
        tested = len(rs) - len(count["not tested"]) - len(count["identical sets"])
        head = f"{cid} {titles.get(cid, '')} on {task}:"
        what = lambda xs: ", ".join(r.metric + (f" vs {r.b}" if r.b != "—" else "") for r in xs[:4]) + (", …" if len(xs) > 4 else "")  # noqa: E731
        if tested == 0:
            why = ("every comparison set STEER against the same texts (identical sets)" if count["identical sets"]
                   and not count["not tested"] else
                   f"{rs[0].note or 'too few samples or a missing set'}")
            out.append(f"{head} not tested — {why}.")
            continue
        sup, con, inc = count["supported"], count["contradicted"], count["inconclusive"]
        if sup and con:
            out.append(f"{head} mixed — {len(sup)} of {tested} tests support the paper ({what(sup)}), "
                       f"{len(con)} {_verb(len(con), 'contradicts', 'contradict')} it ({what(con)}).")
        elif con:
            out.append(f"{head} against the paper — {len(con)} of {tested} {_verb(tested, 'test', 'tests')} "
                       f"{_verb(len(con), 'contradicts', 'contradict')} it ({what(con)}); none supports it.")
        elif sup:
            out.append(f"{head} for the paper — {len(sup)} of {tested} {_verb(tested, 'test', 'tests')} "
                       f"{_verb(len(sup), 'supports', 'support')} it ({what(sup)}); none contradicts it.")
        else:
            out.append(f"{head} inconclusive — "
                       f"{'the test reaches no' if tested == 1 else f'none of the {tested} tests reaches a'} verdict "
                       "either way.")
        if inc and (sup or con):
            out[-1] = out[-1][:-1] + f"; {len(inc)} inconclusive."
        gamma0 = [r for r in rs if "picked STEER point has γ = 0" in r.note]
        if gamma0:
            out[-1] += " The STEER point the rule picked has γ = 0: that is negative prompting, not STEER with γ > 0."
    return out


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def answer_table(sources: dict[str, Sequence[Row]]) -> str:
    """The lesson's last table: one line per claim, one column per source of evidence (all tasks together).

    A cell says which way the tests that reached a verdict went — *for* the paper, *against* it, *mixed* — or
    *inconclusive* (tests ran, none reached a verdict) or *not tested* (no test had its sets), with the counts.

    >>> r = lambda v, c="C2": Row(c, "hypotheses", "s", "steer", "top_k", "mauve", 0.1, 0.0, 0.2, 40, 40, v)
    >>> print(answer_table({"kit": [r("supported"), r("inconclusive"), r("contradicted", "C4")], "study": []}))
    | claim | kit | study |
    |---|---|---|
    | C1 balance | not tested | not tested |
    | C2 coherence | for (1 for, 0 against, 1 inconclusive) | not tested |
    | C3 diversity | not tested | not tested |
    | C4 γ pays | against (0 for, 1 against, 0 inconclusive) | not tested |
    | C5 η pays | not tested | not tested |
    | C6 control | not tested | not tested |
    | C7 utility | not tested | not tested |
    """
    def cell(rs: list[Row]) -> str:
        sup, con, inc = (sum(r.verdict == v for r in rs) for v in ("supported", "contradicted", "inconclusive"))
        if not sup + con + inc:
            return "not tested"
        word = "mixed" if sup and con else "for" if sup else "against" if con else "inconclusive"
        return f"{word} ({sup} for, {con} against, {inc} inconclusive)"

    lines = ["| claim | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
    for c in load_claims()["claims"]:
        lines.append(f"| {c['id']} {c['title']} | "
                     + " | ".join(cell([r for r in rs if r.claim == c["id"]]) for rs in sources.values()) + " |")
    return "\n".join(lines)


def verdict_counts(rows: Sequence[Row]) -> str:
    """A compact Markdown table: per claim and task, how many tests went each way (the README's Findings)."""
    head = ["supported", "contradicted", "inconclusive", "not tested", "identical sets"]
    lines = ["| claim | task | " + " | ".join(head) + " |", "|---|---|" + "---|" * len(head)]
    titles = {c["id"]: c["title"] for c in load_claims()["claims"]}
    for cid, task in dict.fromkeys((r.claim, r.task) for r in rows):
        rs = [r for r in rows if (r.claim, r.task) == (cid, task)]
        lines.append(f"| {cid} {titles.get(cid, '')} | {task} | " +
                     " | ".join(str(sum(r.verdict == v for r in rs)) for v in head) + " |")
    return "\n".join(lines) + "\n"


def findings_markdown(header: dict, rows: Sequence[Row]) -> str:
    """A saved record as a Markdown page: where and when it was computed, the counts, the conclusion, every row."""
    settings = header.get("settings") or {}
    return (f"# The paper's claims on {header.get('source', '')}\n\n"
            f"Computed {header.get('date', '?')} on {header.get('machine', '?')} in {header.get('seconds', '?')} s "
            f"(load average {header.get('load', '?')}), settings {json.dumps(settings, ensure_ascii=False)}; "
            "generated from the JSON record beside this file by `claims.findings_markdown`. Rules: "
            "`steer_lib/experiments/claims.yaml`.\n\n## Verdicts\n\n" + verdict_counts(rows) +
            "\n## Conclusion (printed from the rows)\n\n" + "".join(f"- {c}\n" for c in conclusion(rows)) +
            "\n## Every test\n\n" + to_markdown(rows))


def findings(rows: Sequence[Row], *, source: str = "", machine: str | None = None) -> dict:
    """One JSON-ready object: ``source``, ``date``, ``machine``, ``rules`` and the rows."""
    import platform
    import time

    return {"source": source or (rows[0].source if rows else ""), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                      time.gmtime()),
            "machine": machine or f"{platform.node()} ({platform.machine()}, {__import__('os').cpu_count()} CPUs)",
            "load": [round(x, 1) for x in __import__("os").getloadavg()],
            "rules": load_claims()["rules"], "rows": [r.to_dict() for r in rows], "conclusion": conclusion(rows)}


# ------------------------------------------------------------------ cached runs (notebook 08)
def _source_key(folder: Path, reps: int | None, n: int | None, seed: int) -> str:
    """What the rows depend on: every generations file (name, size, mtime), the claims file, the settings, and the
    code that turns sets into verdicts (this module, the bootstraps, the selection rule, the metric definitions), so
    a kit whose verdict logic changed recomputes rows instead of reading its predecessor's."""
    import hashlib

    from ..metrics.keys import METRICS_VERSION

    h = hashlib.sha256(CLAIMS_FILE.read_bytes())
    here = Path(__file__).resolve().parent
    for code in ("claims.py", "significance.py", "selection.py"):
        h.update((here / code).read_bytes())
    h.update(str(METRICS_VERSION).encode())
    for f in sorted(folder.glob("*.jsonl")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(json.dumps([reps, n, seed]).encode())
    return h.hexdigest()[:16]


def profile_rows(profile: str, task: str, base: str = "", *, reps: int | None = None, n: int | None = None,
                 seed: int = 0, log: Callable[[str], None] = no_log) -> list[Row]:
    """:func:`evaluate_claims` on :func:`from_profile`, cached in ``results/<scope>/claims_<task>.json`` until a
    generations file, the claims file or a setting changes (a rerun with nothing changed takes a second)."""
    from ..files import write_atomic

    src = from_profile(profile, task, base)
    key = _source_key(Path(paths.profile_runs_dir(profile, base) / "generations" / src.task), reps, n, seed)
    out = paths.results_dir(profile, base) / f"claims_{src.task}.json"
    if out.is_file():
        blob = json.loads(out.read_text(encoding="utf-8"))
        if blob.get("key") == key:
            return [Row(**r) for r in blob["rows"]]
    rows = evaluate_claims(src, reps=reps, n=n, seed=seed, log=log)
    write_atomic(out, json.dumps({"key": key, **findings(rows, source=src.name)}, indent=1, ensure_ascii=False))
    return rows


def read_findings(path: str | Path) -> tuple[dict, list[Row]]:
    """A saved ``claims --json`` record (e.g. ``docs/findings_authors.json``): its header and its rows."""
    blob = json.loads(Path(path).read_text(encoding="utf-8"))
    fields = {f.name for f in dataclasses.fields(Row)}
    return {k: v for k, v in blob.items() if k != "rows"}, [Row(**{k: v for k, v in r.items() if k in fields})
                                                           for r in blob["rows"]]


def study_section(base: str = "", *, reps: int | None = None, log: Callable[[str], None] = print) -> list[Row] | None:
    """The claims on the ``study``'s sets at P_θ's final checkpoint, per task (the earlier checkpoints hold the γ
    curves only: :mod:`steer_lib.experiments.study`); else the recorded runs' rows (``docs/findings_study*.json``,
    one file per task, embedded model only); ``None`` (and a line saying so) when neither exists."""
    root = paths.runs_dir() / paths.scope("study", base) / "generations"
    rows = []
    for task_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        steps = sorted((p for p in task_dir.glob("step*") if any(p.glob("*.jsonl"))), key=lambda p: int(p.name[4:]))
        if steps:
            rows += evaluate_claims(from_generations(steps[-1], task_dir.name, name=f"study {task_dir.name}/"
                                                     f"{steps[-1].name}"), reps=reps, log=log)
    if rows:
        return rows
    recorded = sorted((paths.root() / "docs").glob("findings_study*.json"))  # one record per task the study ran
    if not base and recorded:
        for path in recorded:
            header, task_rows = read_findings(path)
            log(f"The study's claims as recorded ({path.name}: {header['date']}, {header['machine']}).")
            rows += task_rows
        return rows
    log(f"The study has not been run: no generations under {root} (`make study` runs it).")
    return None

"""``bench-metrics``: the cold run embeds every distinct text, the warm run reads them all from disk."""
from __future__ import annotations

import json

import pytest

from conftest import bag_of_words
from steer_lib.bench import metrics as bench_metrics
from steer_lib.cli import bench_metrics as bench_metrics_cli

SYN = [f"Does galaxy {i} host a bar that drives gas inward?" for i in range(40)]
REAL = [f"Is quasar {i} brighter in the infrared than its host?" for i in range(40)]


def test_cold_then_warm_cache(tmp_path):
    res = bench_metrics.run_bench_metrics(SYN, REAL, n=30, embedder_model=bag_of_words, model_id="bow",
                                          mauve_seeds=1, target_s=60.0)
    assert res["n"] == 30
    assert res["cold_embedded"] == 60 and res["cold_from_disk"] == 0  # 30 + 30 distinct texts, empty cache
    assert res["warm_embedded"] == 0 and res["warm_from_disk"] == 60  # a new Embedder: all from disk
    assert res["warm_vs_target"] == pytest.approx(60.0 / res["warm_s"], rel=1e-2)
    assert 0 <= res["embed_share_cold"] <= 1
    assert 0 <= res["warm_diversity_s"] <= res["warm_s"]  # the new measures' share, reported on its own
    assert set(res["diversity_breakdown_s"]) == {"compression_ratio", "self_repetition", "self_bleu", "vendi"}
    assert json.loads(json.dumps(res)) == res


def test_bad_n_is_named():
    with pytest.raises(ValueError, match="n=0"):
        bench_metrics.run_bench_metrics(SYN, REAL, n=0)


@pytest.mark.slow
def test_cli_on_the_authors_hypotheses_with_the_real_embedder(capsys):
    assert bench_metrics_cli.cli(["--n", "25", "--mauve-seeds", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["n"] == 25 and res["warm_embedded"] == 0 and res["cold_embedded"] == res["warm_from_disk"] > 0
    assert res["warm_s"] < res["cold_s"]  # reading 50 vectors from disk beats loading a model and embedding them

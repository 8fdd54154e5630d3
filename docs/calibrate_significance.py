"""False-positive rate of experiments.significance.bootstrap_test (the numbers in docs/metrics.md).

Two disjoint random draws of N real hypotheses (one distribution, so every "separated" is a false positive),
scored against a third draw, K pairs, 100 replicates each:

    PYTHONPATH=. python docs/calibrate_significance.py N K COLUMNS pair|unpaired SCHEMES
    PYTHONPATH=. python docs/calibrate_significance.py 40 60 cosine,vendi,ngram3 unpaired half,replace
"""
import sys, time, warnings
import numpy as np
from steer_lib.experiments import significance as S
from steer_lib.authors.outputs import real_set
from steer_lib.metrics.embeddings import Embedder
from steer_lib.metrics.text import tokenize
from steer_lib.metrics import MetricWarning
warnings.simplefilter("ignore")
hyp = real_set("hypotheses")
emb = Embedder()
E = emb.encode(hyp); E = E / np.linalg.norm(E, axis=1, keepdims=True)
toks = [tokenize(t) for t in hyp]
n = int(sys.argv[1]); K = int(sys.argv[2]); cols = sys.argv[3].split(","); PAIR = sys.argv[4] == "pair"; SCHEMES = sys.argv[5].split(",")
rng = np.random.default_rng(5)
def mk(idx, ridx):
    return S.SampleSet(texts=[hyp[i] for i in idx], real=[hyp[i] for i in ridx], emb=E[idx], real_emb=E[ridx],
                       tokens=[toks[i] for i in idx], valid=np.ones(len(idx)))
for col in cols:
    for scheme in SCHEMES:
        t = time.time(); fp = 0
        for k in range(K):
            p = rng.permutation(len(hyp)); a, b, r = p[:n], p[n:2*n], p[2*n:3*n]
            A, B = mk(a, r), mk(b, r)
            obs = None
            fp += S.bootstrap_test([A], [B], col, +1, seed=k, reps=100, scheme=scheme, pair=PAIR)["separated"]
        print(col, n, scheme, "FPR", fp / K, f"{time.time()-t:.0f}s", flush=True)

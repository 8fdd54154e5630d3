"""Stage 2, generation: STEER and every baseline behind one :func:`generate`.

- :mod:`.logits_process`: the logit transforms, one class per transform (STEER's combination, top-k, ...);
- :mod:`.negatives`: the negative pool N is drawn from, and how N is tokenized;
- :mod:`.kv`: the preallocated KV cache of the batched token loop;
- :mod:`.adapters`: P_θ and P_φ from one PEFT model (:func:`~steer_lib.models.base_view`, the engine's P_φ stream);
- :mod:`.engine`: the token loop (three KV-cached streams: P_θ, P_φ, P_θ on N);
- :mod:`.baselines`: beam search and contrastive search, which do not fit that loop;
- :mod:`.config`: :class:`DecodingConfig`, a method's settings (``None`` = the method's preset);
- :mod:`.methods`: :data:`METHODS` and :func:`generate`;
- :mod:`.writer`: :func:`generate_file`, resumable append-only JSONL;
- :mod:`.reference`: the cache-free oracle :func:`~steer_lib.decoding.reference.naive_steer` (exactness) and the
  authors' whole loop, batch 1, four forwards per token (speed);
- :mod:`.hf_cfg`: STEER through transformers' ``generate()`` and two stock CFG processors (the benchmark's peer).
"""
from .logits_process import (  # noqa: F401
                             ContrastiveDecodingCombine,
                             SteerCombine,
                             SteerLogitsProcessor,
                             Temperature,
                             TopK,
                             TopP,
                             sample,
)
from .config import DecodingConfig  # noqa: F401
from .methods import METHODS, GenerateResult, eos_ids, generate, resolve_params  # noqa: F401
from .negatives import NegativePool, negative_ids  # noqa: F401
from .writer import default_tag, generate_file  # noqa: F401

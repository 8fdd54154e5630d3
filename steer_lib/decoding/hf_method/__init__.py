"""STEER as a transformers ``custom_generate`` method: the folder :data:`FOLDER` holds ``custom_generate/generate.py``.

Called as (``tests/decoding/test_hf_method.py`` runs it on a tiny model)::

    out = model.generate(input_ids=ids, attention_mask=mask, custom_generate=FOLDER, trust_remote_code=True,
                         negative_prompt_ids=n_ids, negative_prompt_attention_mask=n_mask,
                         steer_gamma=0.2, steer_eta=0.2, do_sample=True, top_k=10, max_new_tokens=64,
                         tokenizer=tok, stop_strings=["?"])

``model`` is the PEFT model of P_θ (P_φ is the same model with its adapter off). transformers
5.24 loads the folder form by copying ``generate.py`` into its modules cache and importing it,
so the kit must be importable there (installed, or on ``PYTHONPATH``). The callable form
(``custom_generate=<function>``) is called inside transformers' own loop set-up with a different
signature, and drops ``tokenizer``, so stop strings need this folder form.
"""
from __future__ import annotations

from pathlib import Path

FOLDER = str(Path(__file__).resolve().parent)

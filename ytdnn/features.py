"""Inputs of the candidate-generation user tower (paper sections 3.2-3.3, Figure 3) besides the histories.

The watch and search histories come from :func:`ytdnn.examples.next_watch_examples` (with
``searches``); this module adds the rest to an :class:`~ytdnn.examples.Examples`, in the form a
batch from :func:`ytdnn.batching.make_loader` then carries:

* ``age_bucket``, ``gender``, ``country``, ``device``: (batch,) ids, one vocabulary each
  (0 = padding, 1 = out of vocabulary, real values from 2). A logged-out user's age and gender
  are the value ``"unknown"``: the simulator does not know them, and neither would YouTube.
* ``logged_in``: (batch,) 0/1, a binary feature fed to the network as a real value (paper 3.3).
* ``example_age``: days from the label to the end of the training window (0 at serving time),
  divided by a fixed number of days so it lies in [0, 1] like the network's other inputs.

Nothing here is part of a network; the assignment's exercises are the network.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .examples import Examples, add_user_features
from .vocab import OOV, Vocab

DEMOGRAPHICS = ("age_bucket", "gender", "country", "device")  # embedded, one table each


def add_demographics(ex: Examples, users: pd.DataFrame, vocabs: dict[str, Vocab] | None = None) -> dict[str, Vocab]:
    """Attach the four categorical demographics and ``logged_in`` (0/1) to ``ex.features``.

    Pass the vocabularies returned for the training examples when adding to evaluation
    examples, so both use the same ids. Users missing from ``users`` get OOV and logged_in 0.
    """
    missing = [c for c in (*DEMOGRAPHICS, "logged_in") if c not in users.columns]
    if missing:
        raise ValueError(f"users table lacks column(s) {missing}")
    vocabs = add_user_features(ex, users, list(DEMOGRAPHICS), vocabs)
    logged_in = users.set_index("user_id")["logged_in"].astype(bool)
    ex.features["logged_in"] = logged_in.reindex(ex.user_id).fillna(False).to_numpy(dtype=np.int64)
    return vocabs


def demographic_sizes(vocabs: dict[str, Vocab]) -> dict[str, int]:
    """Rows each demographic embedding table needs: ``{"n_ages", "n_genders", "n_countries", "n_devices"}``."""
    names = {"age_bucket": "n_ages", "gender": "n_genders", "country": "n_countries", "device": "n_devices"}
    return {names[c]: len(vocabs[c]) for c in DEMOGRAPHICS}


def scale_example_age(ex: Examples, days: float) -> None:
    """Divide ``ex.example_age`` (days) by ``days`` (e.g. the training window's length), in place."""
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    ex.example_age = (ex.example_age / days).astype(np.float32)


def without_demographics(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A copy of ``batch`` where every user looks the same: demographics OOV, logged_in 0.

    For an ablation: a network trained and evaluated on such batches cannot use demographics.
    """
    out = dict(batch)
    for c in DEMOGRAPHICS:
        out[c] = torch.full_like(batch[c], OOV)
    out["logged_in"] = torch.zeros_like(batch["logged_in"])
    return out


def keep_last(ids: torch.Tensor, lengths: torch.Tensor, k: int) -> torch.Tensor:
    """The last ``k`` entries of each right-padded row: ``(batch, max(k, 1))``, padded with 0.

    ``ids`` (batch, L) oldest first, ``lengths`` (batch,) real entries per row. ``k = 0`` gives
    rows of padding only: a user we know nothing about yet.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    width = max(k, 1)
    n_keep = lengths.clamp(max=k)
    col = torch.arange(width)[None, :]
    src = (lengths - n_keep)[:, None] + col
    keep = col < n_keep[:, None]
    gathered = ids.gather(1, src.clamp(max=ids.shape[1] - 1))
    return torch.where(keep, gathered, torch.zeros_like(gathered))

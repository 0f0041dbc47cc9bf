"""The single schema every data source is converted to: :class:`Dataset`.

``interactions`` columns (one row per event, any order):

* ``user_id``   int64, the source's own user id
* ``item_id``   int64, the source's own item (movie / video) id
* ``timestamp`` int64, Unix seconds
* optional, where the source has them: ``rating`` (float32, MovieLens stars),
  ``watch_time`` (int64 seconds, simulator), ``clicked`` (int8, simulator impressions)

``items`` (if any) has one row per item with ``item_id`` first; ``users`` (if any) one row
per user with ``user_id`` first.  Everything else a source has (tags, search queries,
impressions) lives in ``extras`` under a descriptive name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")


@dataclass(eq=False)
class Dataset:
    """A loaded data source in the common schema (see module docstring)."""

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    # The simulator's ground truth (a ``ytdnn.simulator.World``); None for real data.
    world: Any = None

    def summary(self) -> dict[str, Any]:
        """Counts for humans and the CLI: users/items count the tables when present
        (MovieLens lists movies nobody rated), otherwise the ids seen in interactions."""
        inter = self.interactions
        users = len(self.users) if self.users is not None else int(inter["user_id"].nunique())
        items = len(self.items) if self.items is not None else int(inter["item_id"].nunique())
        out: dict[str, Any] = {
            "dataset": self.name,
            "users": int(users),
            "items": int(items),
            "interactions": int(len(inter)),
            "users_with_interactions": int(inter["user_id"].nunique()),
            "items_with_interactions": int(inter["item_id"].nunique()),
        }
        if len(inter):
            out["first_timestamp"] = int(inter["timestamp"].min())
            out["last_timestamp"] = int(inter["timestamp"].max())
        out["columns"] = list(map(str, inter.columns))
        out["extras"] = sorted(self.extras)
        return out

"""Leave-last-one-out split: tie handling on a toy log, and equality with the shared reference split."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ytdnn.split import leave_last_out_split

REPO = Path(__file__).resolve().parents[1]


def benchmarks_dir() -> Path:
    return Path(os.environ.get("YTDNN_BENCHMARKS") or REPO.parent / "shared" / "benchmarks")


def skip_or_fail(reason: str) -> None:
    """Missing data skips with ``reason``, unless YTDNN_REQUIRE_DATA=1 (CI with data) makes it fail."""
    if os.environ.get("YTDNN_REQUIRE_DATA") == "1":
        pytest.fail(reason + " (YTDNN_REQUIRE_DATA=1)")
    pytest.skip(reason)


def test_ties_keep_file_order_and_short_users_stay_in_train() -> None:
    log = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2, 3, 3, 3],
            "item_id": [10, 11, 12, 13, 20, 21, 30, 31, 32],
            # user 1: items 12 and 13 share the last second, 13 comes later in the file
            "timestamp": [5, 1, 9, 9, 1, 2, 3, 2, 1],
        }
    )
    s = leave_last_out_split(log)
    assert s.test["item_id"].tolist() == [13, 30]
    assert s.val["item_id"].tolist() == [12, 31]
    # user 2 has only two interactions: no training history, so everything stays in train
    assert sorted(s.train["item_id"].tolist()) == [10, 11, 20, 21, 32]
    assert s.holdout_table()["n_train"].tolist() == [2, 1]
    # order-independent across users: shuffling whole users does not change the split
    shuffled = pd.concat([log[log.user_id == 3], log[log.user_id == 1], log[log.user_id == 2]])
    assert s.holdout_table().equals(leave_last_out_split(shuffled).holdout_table())


def test_split_equals_reference_holdout() -> None:
    ref_path = benchmarks_dir() / "ml-latest-small_holdout.csv"
    if not ref_path.is_file():
        skip_or_fail(f"{ref_path} not found: put the shared benchmarks folder at ../shared/benchmarks or set YTDNN_BENCHMARKS")
    from ytdnn.data import DataError, load

    try:
        ds = load("ml-latest-small")
    except DataError as err:
        skip_or_fail(f"ml-latest-small not available ({err}); get it with: python -m ytdnn.data download ml-latest-small")
    ours = leave_last_out_split(ds.interactions).holdout_table()
    ref = pd.read_csv(ref_path)
    assert list(ours.columns) == list(ref.columns)
    assert len(ours) == len(ref)
    diff = np.flatnonzero((ours.to_numpy() != ref.to_numpy()).any(axis=1))
    assert not len(diff), f"{len(diff)} users differ, first:\n{ours.iloc[diff[:3]]}\nreference:\n{ref.iloc[diff[:3]]}"


def test_evaluation_examples_from_a_leave_last_out_split() -> None:
    from ytdnn.examples import build_item_vocab, evaluation_examples, next_watch_examples

    log = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2, 2],
            "item_id": [10, 11, 12, 13, 20, 10, 11],
            "timestamp": [1, 2, 3, 4, 100, 101, 102],
        }
    )
    s = leave_last_out_split(log)
    assert s.cut_time == 101  # one second after the latest training row (user 2's first)
    vocab = build_item_vocab(log)
    test = evaluation_examples(s, vocab, max_history=10)
    # One example per user: the label is the last watch, the history every earlier one,
    # the validation watch included, the test watch never.
    assert test.label_item_id.tolist() == [13, 11]
    hist = [vocab.decode(test.items[a:b]).tolist() for a, b in zip(test.hist_start, test.hist_end)]
    assert hist == [[10, 11, 12], [20, 10]]
    assert (test.example_age == 0).all()
    train = next_watch_examples(s.train, vocab, max_examples_per_user=None, window_end=s.cut_time)
    assert set(train.label_item_id.tolist()) == {11}  # only user 1 has two training rows
    with pytest.raises(TypeError, match="TimeSplit or a LeaveLastOutSplit"):
        evaluation_examples(log, vocab)

"""Reference answers of assignment 04 (example age and label selection, paper sections 3.3 and 3.4).

The functions below are copied verbatim into the answer cells of
``course/source/04_example_age/04_example_age.ipynb`` by ``python -m solutions.sync``; the
``### BEGIN/END SOLUTION`` comments are nbgrader's markers, so the release keeps each signature
and docstring and loses only the marked code.
"""
import numpy as np
import torch


def example_age_feature(label_time, window_end, serving, scale_days=30.0):
    """
    The example-age feature of paper section 3.3, with its square.

    label_time: (N,) int64 LongTensor of label timestamps (Unix seconds).
    window_end: int, the end of the training window (Unix seconds).
    serving: bool; True at serving time, where the age is 0 for every example.
    scale_days: the age is measured in units of ``scale_days`` days (30: months).
    Returns a float32 tensor of shape (N, 2): column 0 is the age
    a = max(window_end - label_time, 0) / 86400 / scale_days, column 1 is a ** 2.
    """
    ### BEGIN SOLUTION
    label_time = torch.as_tensor(label_time, dtype=torch.int64)
    if serving:
        age = torch.zeros(len(label_time), dtype=torch.float64)
    else:
        # Subtract in int64 first: a float32 Unix time is only exact to 128 s.
        seconds = (window_end - label_time).clamp(min=0)
        age = seconds.to(torch.float64) / 86400 / scale_days
    features = torch.stack([age, age ** 2], dim=1)
    ### END SOLUTION
    return features.to(torch.float32)


def select_examples(user_ids, timestamps, max_per_user, seed):
    """
    Choose training labels the way paper section 3.4 does: predict each watch from strictly earlier ones,
    with at most ``max_per_user`` examples per user.

    user_ids, timestamps: (N,) int64 arrays, one row per watch, in any order.
    max_per_user: int >= 1, or None to keep every candidate.
    seed: seed of numpy's default_rng.
    Rules:
      1. watch i is a candidate label when the same user has a watch with a strictly smaller timestamp;
      2. rng = np.random.default_rng(seed); keys = rng.random(n_candidates), one key per candidate,
         candidates taken in increasing row index;
      3. each user keeps the max_per_user candidates with the smallest keys (all of them when fewer).
    Returns the kept row indices, an int64 array sorted in increasing order.
    """
    ### BEGIN SOLUTION
    user_ids = np.asarray(user_ids, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.int64)
    # The earliest watch of each user, broadcast back to every row of that user.
    users, inverse = np.unique(user_ids, return_inverse=True)
    first_time = np.full(len(users), np.iinfo(np.int64).max)
    np.minimum.at(first_time, inverse, timestamps)
    candidates = np.flatnonzero(timestamps > first_time[inverse])
    if max_per_user is None:
        return candidates.astype(np.int64)
    keys = np.random.default_rng(seed).random(len(candidates))
    order = np.lexsort((keys, inverse[candidates]))  # by user, then by key
    user_sorted = inverse[candidates][order]
    starts = np.searchsorted(user_sorted, user_sorted, side="left")
    rank = np.arange(len(order)) - starts
    kept = candidates[order[rank < max_per_user]]
    ### END SOLUTION
    return np.sort(kept).astype(np.int64)

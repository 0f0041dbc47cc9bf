"""Reference answers of assignment 07 (modeling expected watch time, paper section 4.2).

Copied verbatim into the answer cells of ``course/source/07_watch_time/07_watch_time.ipynb`` by
``python -m solutions.sync``; the ``### BEGIN/END SOLUTION`` markers are nbgrader's.
"""
import numpy as np
import torch
import torch.nn.functional as F


def weighted_logistic_loss(logits, clicked, watch_time):
    """Weighted logistic regression (paper 4.2): positives weighted by their watch time, negatives by 1.

    logits: (N,) float tensor; clicked: (N,) 0/1 tensor; watch_time: (N,) float tensor (seconds, 0
    when not clicked). Returns the scalar mean over the N impressions of w_i · CE_i, where
    CE_i = -[y_i log σ(z_i) + (1 - y_i) log(1 - σ(z_i))] and w_i = watch_time_i if clicked else 1.
    """
    ### BEGIN SOLUTION
    y = clicked.to(logits.dtype)
    weight = torch.where(y > 0, watch_time.to(logits.dtype), torch.ones_like(logits))
    # binary_cross_entropy_with_logits is the numerically stable form of CE_i.
    return (weight * F.binary_cross_entropy_with_logits(logits, y, reduction="none")).mean()
    ### END SOLUTION


def expected_watch_time(logits):
    """Serving transform of a weighted-LR model: the odds e^z estimate expected watch time.

    logits: (N,) tensor -> (N,) tensor, e^{z_i}.
    """
    ### BEGIN SOLUTION
    return torch.exp(logits)
    ### END SOLUTION


def weighted_per_user_loss(user_id, score, clicked, watch_time):
    """The paper's ranking metric: the share of watch time on mis-ranked (positive, negative) pairs.

    All four arguments are (N,) numpy arrays over held-out impressions. For every user u, each pair
    (i, j) of u's impressions with i clicked (positive, watch time T_i) and j not clicked (negative)
    counts T_i when the negative scores higher (score_j > score_i) and T_i / 2 on a tie. The loss is
        Σ_u Σ_(i,j) T_i · [score_j > score_i]  /  Σ_u Σ_(i,j) T_i,
    a float in [0, 1]. Users with no positive or no negative add no pair. Raises ValueError when
    there is no pair at all.
    """
    ### BEGIN SOLUTION
    user = np.asarray(user_id)
    score = np.asarray(score, dtype=np.float64)
    pos = np.asarray(clicked).astype(bool)
    weight = np.asarray(watch_time, dtype=np.float64)
    order = np.lexsort((score, user))                    # by user, then score ascending
    user, score, pos, weight = user[order], score[order], pos[order], weight[order]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    mis, total = 0.0, 0.0
    for block in np.split(np.arange(len(user)), starts[1:]):
        p, neg = block[pos[block]], np.sort(score[block[~pos[block]]])
        if len(p) == 0 or len(neg) == 0:
            continue
        below_or_tied = np.searchsorted(neg, score[p], side="right")
        tied = below_or_tied - np.searchsorted(neg, score[p], side="left")
        above = len(neg) - below_or_tied
        mis += float((weight[p] * (above + 0.5 * tied)).sum())
        total += float(weight[p].sum() * len(neg))
    if total == 0:
        raise ValueError("weighted_per_user_loss: no (clicked, not clicked) pair of one user with watch time")
    return mis / total
    ### END SOLUTION

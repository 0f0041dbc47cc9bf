"""Reference answers: the sampled-softmax loss with logQ correction, and the retrieval metrics.

Instructors only (they become student exercises): ``sampled_softmax_loss`` (paper §3.1,
"importance weighting" of sampled negatives), ``recall_at_k`` with masking of seen items and
``ndcg_at_k``.  Ids follow :mod:`ytdnn.vocab`: column 0 is PAD, column 1 is OOV, and neither
is ever a recommendable item.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ytdnn.vocab import FIRST_ID

# ----------------------------------------------------------------------------------------
# sampled softmax


def sampling_log_q(counts: np.ndarray | Tensor, alpha: float = 0.75) -> Tensor:
    """``(V,)`` log-probabilities of drawing each item as a negative: ``count ** alpha``,
    normalised; PAD, OOV and never-seen items get ``-inf`` (never drawn).

    ``alpha < 1`` flattens the popularity curve (word2vec's 0.75) so the tail gets sampled too.
    """
    c = torch.as_tensor(counts, dtype=torch.float64).clone()
    c[:FIRST_ID] = 0.0
    w = c.pow(alpha) * (c > 0)
    return torch.log(w / w.sum()).float()


def draw_negatives(log_q: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """``(n,)`` item ids drawn with replacement from ``exp(log_q)``; one set shared by the batch."""
    return torch.multinomial(log_q.exp(), n, replacement=True, generator=generator)


def sampled_softmax_loss(
    user: Tensor,
    item_vectors: Tensor,
    item_bias: Tensor | None,
    labels: Tensor,
    samples: Tensor,
    log_q: Tensor,
    *,
    logq_correction: bool = True,
    remove_accidental_hits: bool = True,
) -> Tensor:
    """Softmax cross-entropy of the true item against ``S`` sampled negatives.

    Shapes: ``user`` (B, d) user vectors u; ``item_vectors`` (V, d) output item vectors;
    ``item_bias`` (V,) or None; ``labels`` (B,) true item ids; ``samples`` (S,) negative ids
    drawn (with replacement) from q, shared by the whole batch; ``log_q`` (V,) log q(item).
    Returns a scalar: the mean loss over the batch.

    ``logq_correction`` subtracts log(expected count) = log(S * q) from every logit (true and
    sampled), which makes the sampled softmax an unbiased-in-the-limit estimate of the full
    softmax gradient whatever q is (Bengio & Senecal 2008; Jean et al. 2015).  Without it
    popular items, sampled often, get pushed down too much.  ``remove_accidental_hits`` drops
    a sampled negative that equals the row's own label, so the model is not asked to score
    the true item below itself.
    """
    ### BEGIN SOLUTION
    true_logit = (user * item_vectors[labels]).sum(dim=1, keepdim=True)  # (B, 1)
    sample_logit = user @ item_vectors[samples].T  # (B, S)
    if item_bias is not None:
        true_logit = true_logit + item_bias[labels][:, None]
        sample_logit = sample_logit + item_bias[samples][None, :]
    if logq_correction:
        log_expected = log_q + math.log(len(samples))  # (V,) log(S q)
        true_logit = true_logit - log_expected[labels][:, None]
        sample_logit = sample_logit - log_expected[samples][None, :]
    if remove_accidental_hits:
        hit = labels[:, None] == samples[None, :]  # (B, S)
        sample_logit = sample_logit.masked_fill(hit, float("-inf"))
    logits = torch.cat([true_logit, sample_logit], dim=1)  # (B, 1 + S), true item in column 0
    return F.cross_entropy(logits, torch.zeros(len(labels), dtype=torch.long, device=logits.device))
    ### END SOLUTION


# ----------------------------------------------------------------------------------------
# metrics


def mask_scores(scores: Tensor, seen: Tensor | None = None) -> Tensor:
    """A copy of ``scores`` (B, V) with PAD, OOV and each row's ``seen`` items set to -inf.

    ``seen``: a bool mask (B, V), or item ids (B, L) right-padded with PAD (0).
    """
    ### BEGIN SOLUTION
    out = scores.float().clone()
    out[:, :FIRST_ID] = float("-inf")  # PAD/OOV are not items: an OOV "hit" would be free recall
    if seen is not None:
        if seen.dtype == torch.bool:
            out = out.masked_fill(seen, float("-inf"))
        else:
            out = out.scatter(1, seen.long(), float("-inf"))
    return out
    ### END SOLUTION


def hit_ranks(scores: Tensor, targets: Tensor, k: int, seen: Tensor | None = None) -> Tensor:
    """(B,) rank (1 = best) of each row's target among its top ``k`` items, 0 when not there.

    ``scores`` (B, V); ``targets`` (B,) item ids; ``seen`` as in :func:`mask_scores`.  A
    target that is PAD, OOV or masked as seen never counts, whatever its score.
    """
    ### BEGIN SOLUTION
    masked = mask_scores(scores, seen)
    top = torch.topk(masked, k=min(k, masked.shape[1]), dim=1).indices  # (B, k)
    valid = (targets >= FIRST_ID) & torch.isfinite(masked.gather(1, targets[:, None].clamp(min=0)))[:, 0]
    hit = (top == targets[:, None]) & valid[:, None]  # (B, k), at most one True per row
    pos = hit.float().argmax(dim=1) + 1
    return torch.where(hit.any(dim=1), pos, torch.zeros_like(pos))
    ### END SOLUTION


def recall_at_k(scores: Tensor, targets: Tensor, k: int, seen: Tensor | None = None) -> float:
    """Share of rows whose target is in the top ``k`` after masking (one target per row).

    ``scores`` (B, V) with V the item vocabulary (ids 0/1 = PAD/OOV); ``targets`` (B,);
    ``seen`` (B, V) bool or (B, L) padded ids of items each user already saw.
    """
    ### BEGIN SOLUTION
    return (hit_ranks(scores, targets, k, seen) > 0).float().mean().item()
    ### END SOLUTION


def ndcg_at_k(scores: Tensor, targets: Tensor, k: int = 10, seen: Tensor | None = None) -> float:
    """Mean over rows of ``1 / log2(rank + 1)`` when the target's rank is <= ``k``, else 0.

    Shapes as in :func:`recall_at_k`.  With a single relevant item the ideal DCG is 1.
    """
    ### BEGIN SOLUTION
    rank = hit_ranks(scores, targets, k, seen).float()
    gain = torch.where(rank > 0, 1.0 / torch.log2(rank + 1.0), torch.zeros_like(rank))
    return gain.mean().item()
    ### END SOLUTION

"""Assignment 08 (ranking depth, Table 1) has no new exercise: it reuses the student's answers of
06 (quantile features) and 07 (weighted logistic loss, weighted per-user loss). They are re-exported
here so ``python -m solutions.sync`` fills the "bring your functions" cells of the instructor notebook
with the same reference code (the release keeps only the skeletons)."""
from solutions.ranking_features import fit_quantiles, quantile_transform
from solutions.watch_time import weighted_logistic_loss, weighted_per_user_loss

__all__ = ["fit_quantiles", "quantile_transform", "weighted_logistic_loss", "weighted_per_user_loss"]

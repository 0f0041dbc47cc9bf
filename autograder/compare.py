"""Tensor comparisons that explain themselves (CS231n-style relative errors, first mismatches)."""
from __future__ import annotations

import torch

MAX_LISTED = 5


def as_tensor(frozen: dict) -> torch.Tensor:
    """A frozen ``{"shape", "values"}`` record as a float32 tensor."""
    return torch.tensor(frozen["values"], dtype=torch.float32).reshape(frozen["shape"])


def shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + (",)" if len(shape) == 1 else ")")


def mismatch_lines(got: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float = 0.0) -> list[str]:
    """Lines describing where ``got`` differs from ``expected`` (same shape), or [] when close."""
    got = got.detach().to(torch.float64).cpu()
    expected = expected.to(torch.float64)
    if torch.isnan(got).any():
        return [f"the output contains NaN at {int(torch.isnan(got).sum())} position(s)"]
    diff = (got - expected).abs()
    bad = diff > atol + rtol * expected.abs()
    if not bad.any():
        return []
    rel = (diff / (got.abs() + expected.abs()).clamp_min(1e-12)).max().item()
    lines = [f"{int(bad.sum())} of {bad.numel()} values differ; max abs error {diff.max().item():.3g} "
             f"(tolerance {atol:g}), max relative error {rel:.3g}"]
    for pos in bad.nonzero()[:MAX_LISTED].tolist():
        index = "[" + ", ".join(map(str, pos)) + "]"
        lines.append(f"at {index}: expected {expected[tuple(pos)].item():.8f}, got {got[tuple(pos)].item():.8f}")
    return lines


def max_abs_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return (got.detach().to(torch.float64).cpu() - expected.to(torch.float64)).abs().max().item()

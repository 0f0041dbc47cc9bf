"""Array comparisons that explain themselves (CS231n-style relative errors, first mismatches).

Used by the in-notebook checks (on the visible cases) and by the instructor's comparator (on the
graded cases): one implementation, numpy only, so the comparator never needs torch.
"""
from __future__ import annotations

import numpy as np

MAX_LISTED = 5


def as_array(frozen: dict) -> np.ndarray:
    """A frozen ``{"shape", "values"[, "dtype"]}`` record as an array."""
    return np.asarray(frozen["values"], dtype=frozen.get("dtype", "float32")).reshape(frozen["shape"])


def freeze(x) -> dict:
    """The inverse of :func:`as_array`, for JSON files (float arrays stored as float32)."""
    x = np.asarray(x)
    dtype = "float32" if x.dtype.kind == "f" else "bool" if x.dtype.kind == "b" else "int64"
    return {"shape": list(x.shape), "dtype": dtype, "values": x.astype(dtype).flatten().tolist()}


def shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + (",)" if len(shape) == 1 else ")")


def mismatch_lines(got, expected, atol: float, rtol: float = 0.0, show_values: bool = True) -> list[str]:
    """Lines describing where ``got`` differs from ``expected`` (same shape), or [] when close.

    ``show_values=False`` (the comparator's feedback on graded cases) says how many values differ and
    by how much, never what they should be.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if np.isnan(got).any():
        return [f"the output contains NaN at {int(np.isnan(got).sum())} position(s)"]
    diff = np.abs(got - expected)
    bad = diff > atol + rtol * np.abs(expected)
    if not bad.any():
        return []
    rel = float((diff / np.maximum(np.abs(got) + np.abs(expected), 1e-12)).max())
    lines = [f"{int(bad.sum())} of {bad.size} values differ; max abs error {diff.max():.3g} "
             f"(tolerance {atol:g}), max relative error {rel:.3g}"]
    if show_values:
        for pos in np.argwhere(bad)[:MAX_LISTED]:
            index = "[" + ", ".join(map(str, pos)) + "]"
            lines.append(f"at {index}: expected {expected[tuple(pos)]:.8f}, got {got[tuple(pos)]:.8f}")
    return lines


def max_abs_error(got, expected) -> float:
    return float(np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64)).max())

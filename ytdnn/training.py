"""A small training loop with a live loss curve, shared by every notebook that trains a model.

The loop knows nothing about the model: the notebook passes ``batch_loss(model, batch) -> loss``
and, optionally, ``evaluate(model) -> {metric: value}`` run after every epoch.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import pandas as pd
import torch


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except ImportError:
        return False


class LivePlot:
    """Loss (and metrics) redrawn in place in a notebook via livelossplot; printed elsewhere.

    ``groups`` puts several series in one panel, e.g. a metric beside its baseline."""

    def __init__(self, live: bool = True, groups: dict[str, list[str]] | None = None) -> None:
        self.plot = None
        if live and _in_notebook():
            from livelossplot import PlotLosses
            self.plot = PlotLosses(step_names="training step", groups=groups)

    def update(self, step: int, logs: dict[str, float]) -> None:
        if self.plot is not None:
            self.plot.update(logs, current_step=step)
            self.plot.send()
        else:
            print(f"step {step:>6}  " + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()), flush=True)


def fit(model: torch.nn.Module, batches: Iterable[dict], batch_loss: Callable[[torch.nn.Module, dict], torch.Tensor], *,
        epochs: int = 1, lr: float = 1e-2, evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
        evaluate_every: int | None = None, baselines: dict[str, float] | None = None,
        log_every: int = 20, live: bool = True, seed: int = 0) -> pd.DataFrame:
    """Train ``model`` with Adam; returns one row per logged point (step, epoch, loss, metrics).

    ``batches`` is re-iterated every epoch (a DataLoader is). The curve shows the mean loss over
    the last ``log_every`` steps; metrics from ``evaluate`` appear after every epoch and, with
    ``evaluate_every``, every that many steps too. ``baselines`` (e.g. ``{"recall@10 (most popular)":
    0.06}``) are drawn as flat lines in the panel of the metric their name starts with.
    """
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    baselines = baselines or {}
    groups = {}
    for name in baselines:
        metric = name.split(" (")[0]
        groups.setdefault(metric, [metric]).append(name)
    if groups:
        groups["loss"] = ["loss"]
    plot, rows, step = LivePlot(live, groups or None), [], 0

    def run_evaluation(epoch: int) -> None:
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model)
        model.train()
        if not rows or rows[-1]["step"] != step:
            rows.append({"step": step, "epoch": epoch, "loss": rows[-1]["loss"] if rows else float("nan")})
        rows[-1].update(metrics, **baselines)
        plot.update(step, {"loss": rows[-1]["loss"], **metrics, **baselines})
    for epoch in range(1, epochs + 1):
        model.train()
        window = []
        for batch in batches:
            loss = batch_loss(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at step {step}: lower lr or check the model's output")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            window.append(loss.item())
            if len(window) == log_every:
                rows.append({"step": step, "epoch": epoch, "loss": sum(window) / len(window)})
                plot.update(step, {"loss": rows[-1]["loss"]})
                window = []
            if evaluate is not None and evaluate_every and step % evaluate_every == 0:
                run_evaluation(epoch)
        if window:
            rows.append({"step": step, "epoch": epoch, "loss": sum(window) / len(window)})
        if evaluate is not None and not (evaluate_every and step % evaluate_every == 0):
            run_evaluation(epoch)
    return pd.DataFrame(rows)


def uniform_loss(n_items: int) -> float:
    """Cross-entropy of a model that knows nothing: log(n_items), the curve's starting point."""
    return math.log(n_items)

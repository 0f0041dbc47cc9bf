"""Serving support: reference answers (solutions.serving), FAISS helpers (ytdnn.ann), offline infer CLI."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from solutions import infer
from solutions.serving import (
    HyperplaneLSH, TinyRetriever, brute_force_topk, export_vectors, hyperplane_codes,
    simple_lsh_items, simple_lsh_query,
)
from ytdnn import ann

TINY = ["--videos", "300", "--users", "150", "--watches", "4000", "--steps", "5", "--seed", "3"]


@pytest.fixture(autouse=True)
def one_thread():
    ann.set_threads(1)


def _random(seed: int, b: int = 7, v: int = 60, d: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, d, generator=g, dtype=torch.float64)
    # Items with very different norms, as a trained softmax has (popular videos are longer).
    items = torch.randn(v, d, generator=g, dtype=torch.float64) * torch.rand(v, 1, generator=g, dtype=torch.float64) * 3
    return q, items


def test_export_dot_product_equals_softmax_logits():
    torch.manual_seed(0)
    model = TinyRetriever(n_items=40, dim=6, hidden=5)
    with torch.no_grad():
        model.softmax_bias.weight.normal_()  # a non-zero bias, or the test could not see it dropped
        history = torch.tensor([[2, 5, 7, 0], [9, 0, 0, 0], [3, 3, 11, 39]])
        logits = model(history)  # (3, 40) = u @ W.T + b
        queries, items = export_vectors(model.user_vector(history), model.output_weight, model.output_bias)
    assert queries.shape == (3, 6) and items.shape == (40, 6)
    assert torch.equal(queries[:, 0], torch.ones(3))
    assert torch.equal(items[:, 0], model.output_bias.detach())
    torch.testing.assert_close(queries @ items.T, logits, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="shape mismatch"):
        export_vectors(torch.zeros(2, 5), torch.zeros(4, 6), torch.zeros(4))


def test_brute_force_topk_equals_masked_torch_topk():
    q, items = _random(1)
    seen = [np.array([0, 5, 17]), np.array([], dtype=np.int64), np.arange(0, 60, 2), [59], [1, 2], [3], [4, 4]]
    scores, ids = brute_force_topk(q, items, 8, seen)
    logits = q @ items.T
    for i, s in enumerate(seen):
        logits[i, list(s)] = float("-inf")
    expected = torch.topk(logits, 8, dim=1)
    torch.testing.assert_close(scores, expected.values)
    assert torch.equal(ids, expected.indices)
    for i, s in enumerate(seen):
        assert not set(ids[i].tolist()) & set(np.asarray(s).tolist())
    # The (B, V) bool-mask form gives the same answer.
    mask = torch.isinf(logits)
    scores_m, ids_m = brute_force_topk(q, items, 8, mask)
    assert torch.equal(ids_m, ids) and torch.equal(scores_m, scores)
    # No mask: plain top-k of the logits.
    assert torch.equal(brute_force_topk(q, items, 5)[1], torch.topk(q @ items.T, 5).indices)
    with pytest.raises(ValueError, match="k must be"):
        brute_force_topk(q, items, 61)


def test_simple_lsh_ranking_equals_inner_product_ranking():
    q, items = _random(2, b=25, v=400, d=12)
    items_t, q_t = simple_lsh_items(items), simple_lsh_query(q)
    assert items_t.shape == (400, 13) and q_t.shape == (25, 13)
    torch.testing.assert_close(items_t.norm(dim=1), torch.ones(400, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(q_t.norm(dim=1), torch.ones(25, dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.equal(q_t[:, -1], torch.zeros(25, dtype=torch.float64))
    ip, cos = q @ items.T, q_t @ items_t.T
    # cos = ip / (|q| m): the same order, item by item, for every query.
    m = items.norm(dim=1).max()
    torch.testing.assert_close(cos, ip / (q.norm(dim=1, keepdim=True) * m), atol=1e-12, rtol=0)
    assert torch.equal(torch.argsort(ip, dim=1, descending=True, stable=True),
                       torch.argsort(cos, dim=1, descending=True, stable=True))


def test_hyperplane_codes_and_lsh_index():
    q, items = _random(3, b=10, v=200, d=8)
    codes = hyperplane_codes(items, 6, seed=4)
    assert codes.shape == (200, 6) and codes.dtype == torch.bool
    assert torch.equal(codes, hyperplane_codes(items, 6, seed=4))
    assert not torch.equal(codes, hyperplane_codes(items, 6, seed=5))
    # Opposite vectors fall on opposite sides of every plane.
    assert torch.equal(hyperplane_codes(-items, 6, seed=4), ~codes)
    # One bit probed at radius 1 visits both buckets: every item is a candidate, so the
    # exact re-rank must return the brute-force answer.
    index = HyperplaneLSH(items, n_bits=1, probe_radius=1, seed=0)
    scores, ids = index.search(q, 10)
    exact_scores, exact_ids = brute_force_topk(q.float(), items.float(), 10)
    assert np.array_equal(ids, exact_ids.numpy())
    np.testing.assert_allclose(scores, exact_scores.numpy(), rtol=1e-5)
    # Many bits, no probing: fewer candidates, padded with -1 where a bucket is small.
    sparse_ids = HyperplaneLSH(items, n_bits=16, seed=0).search(q, 10)[1]
    assert sparse_ids.shape == (10, 10) and (sparse_ids >= -1).all()


def test_faiss_exact_index_agrees_with_brute_force():
    q, items = _random(4, b=30, v=500, d=16)
    q32, items32 = q.float().numpy(), items.float().numpy()
    scores, ids = ann.exact_index(items32).search(q32, 10)
    exact_scores, exact_ids = brute_force_topk(torch.from_numpy(q32), torch.from_numpy(items32), 10)
    assert np.array_equal(ids, exact_ids.numpy())
    np.testing.assert_allclose(scores, exact_scores.numpy(), rtol=1e-5, atol=1e-5)


def test_recall_at_k_on_a_tiny_case():
    found = np.array([[1, 2, 3], [4, 5, -1]])
    exact = np.array([[3, 2, 9], [4, 6, 7]])
    assert ann.recall_at_k(found, exact, k=3) == pytest.approx(3 / 6)
    assert ann.recall_at_k(exact, exact, k=3) == 1.0
    assert ann.recall_at_k(np.full((2, 3), -1), exact, k=3) == 0.0


def test_ivf_and_hnsw_measure_recall_against_exact():
    q, items = _random(5, b=40, v=300, d=8)
    q32, items32 = q.float().numpy(), items.float().numpy()
    exact = brute_force_topk(torch.from_numpy(q32), torch.from_numpy(items32), 10)[1].numpy()
    ivf = ann.ivf_index(items32, nlist=10, nprobe=10, seed=0)  # every cell visited: exact
    out = ann.measure(ann.search_fn(ivf), q32, exact, k=10, mode="batch", batch=16)
    assert out["recall"] == 1.0 and out["n_queries"] == 40 and out["qps"] > 0
    ann.set_nprobe(ivf, 1)
    one_cell = ann.measure(ann.search_fn(ivf), q32, exact, k=10, mode="single")
    ids = ann.search_fn(ivf)(q32, 10)[1]
    assert one_cell["recall"] == pytest.approx(ann.recall_at_k(ids, exact, 10)) and one_cell["recall"] < 1.0
    hnsw = ann.hnsw_index(items32, M=8, ef_search=300)  # beam as large as the catalogue
    assert ann.measure(ann.search_fn(hnsw), q32, exact, k=10, mode="single", repeats=2)["recall"] >= 0.99
    assert ann.default_nlist(10_000) == 400 and ann.default_nlist(100_000) == 1265
    with pytest.raises(ValueError, match="mode"):
        ann.measure(ann.search_fn(hnsw), q32, exact, mode="stream")


def test_search_fn_knobs_are_per_function_and_leave_the_index_alone():
    q, items = _random(6, b=40, v=400, d=8)
    q32, items32 = q.float().numpy(), items.float().numpy()
    exact = ann.exact_index(items32).search(q32, 10)[1]
    ivf = ann.ivf_index(items32, nlist=20, nprobe=1, seed=0)
    every_cell, one_cell = ann.search_fn(ivf, nprobe=20), ann.search_fn(ivf)
    assert ann.recall_at_k(every_cell(q32, 10)[1], exact) == 1.0
    assert ann.recall_at_k(one_cell(q32, 10)[1], exact) < 1.0 and ivf.nprobe == 1
    hnsw = ann.hnsw_index(items32, M=8, ef_search=10)
    assert ann.recall_at_k(ann.search_fn(hnsw, ef_search=400)(q32, 10)[1], exact) >= \
        ann.recall_at_k(ann.search_fn(hnsw)(q32, 10)[1], exact)
    assert hnsw.hnsw.efSearch == 10


def test_measure_side_by_side_times_every_method_each_round():
    q, items = _random(7, b=30, v=300, d=8)
    q32, items32 = q.float().numpy(), items.float().numpy()
    exact = ann.exact_index(items32).search(q32, 10)[1]
    ivf = ann.ivf_index(items32, nlist=10, seed=0)
    calls = []

    def counted(q_: np.ndarray, k: int):
        calls.append(len(q_))
        return ann.search_fn(ivf, nprobe=1)(q_, k)

    searches = {"exact": ann.search_fn(ann.exact_index(items32)), "one cell": counted}
    for clock in ("wall", "cpu"):
        calls.clear()
        out = ann.measure_side_by_side(searches, q32, exact, k=10, rounds=3, warmup=2, clock=clock)
        assert out["exact"]["recall"] == 1.0 and 0 < out["one cell"]["recall"] < 1.0
        assert out["one cell"]["qps_rounds"].shape == (3,) and (out["one cell"]["qps_rounds"] > 0).all()
        assert out["exact"]["qps"] == pytest.approx(np.median(out["exact"]["qps_rounds"]))
        assert calls == [1, 1] + [1] * 30 * 3  # warm-up, then one query per call in every round
    batched = ann.measure_side_by_side(searches, q32, exact, mode="batch", batch=16, rounds=2)
    assert batched["exact"]["recall"] == 1.0
    with pytest.raises(ValueError, match="clock"):
        ann.measure_side_by_side(searches, q32, exact, clock="sundial")
    with pytest.raises(ValueError, match="rounds"):
        ann.measure_side_by_side(searches, q32, exact, rounds=0)


def test_top_k_diversity_tells_identical_lists_from_disjoint_ones():
    same = np.tile(np.arange(10), (50, 1))
    disjoint = np.arange(500).reshape(50, 10)
    assert ann.top_k_diversity(same) == {"distinct": 10, "top_share": 1.0, "jaccard": 1.0}
    d = ann.top_k_diversity(disjoint)
    assert d["distinct"] == 500 and d["top_share"] == pytest.approx(1 / 50) and d["jaccard"] == 0.0
    with pytest.raises(ValueError, match="n_users"):
        ann.top_k_diversity(np.arange(10))


def test_infer_export_then_search_round_trip(tmp_path, capsys):
    out = tmp_path / "vectors"
    assert infer.main(["export", "--out", str(out), *TINY]) == 0
    meta = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    users, items = np.load(out / "user_vectors.npy"), np.load(out / "item_vectors.npy")
    user_ids, item_ids = np.load(out / "user_ids.npy"), np.load(out / "item_ids.npy")
    assert users.shape == (meta["users"], 33) and items.shape == (300, 33) == (meta["items"], meta["dim"])
    assert (users[:, 0] == 1).all() and sorted(item_ids.tolist()) == list(range(300))
    assert len(user_ids) == len(set(user_ids.tolist())) == len(users)

    # Re-exporting from the saved model gives the same vectors (the world is re-simulated).
    again = tmp_path / "again"
    assert infer.main(["export", "--out", str(again), "--model", str(out / "model.pt")]) == 0
    np.testing.assert_array_equal(np.load(again / "item_vectors.npy"), items)
    np.testing.assert_array_equal(np.load(again / "user_vectors.npy"), users)

    csv_path = tmp_path / "top.csv"
    assert infer.main(["search", "--vectors", str(out), "--index", "exact", "--k", "5", "--out", str(csv_path)]) == 0
    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) == 5 * len(users)
    exact = brute_force_topk(torch.from_numpy(users), torch.from_numpy(items), 5)[1].numpy()
    got = np.array([int(r["item_id"]) for r in rows]).reshape(len(users), 5)
    np.testing.assert_array_equal(got, item_ids[exact])
    assert [int(r["rank"]) for r in rows[:5]] == [1, 2, 3, 4, 5]
    assert int(rows[0]["user_id"]) == user_ids[0]

    capsys.readouterr()
    assert infer.main(["search", "--vectors", str(out), "--index", "hnsw", "--k", "5"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0] == "user_id,rank,item_id,score" and len(printed) == 1 + 5 * len(users)


def _one_line_error(capsys, argv: list[str]) -> str:
    assert infer.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_infer_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert "no such folder" in _one_line_error(capsys, ["search", "--vectors", str(tmp_path / "nope")])
    folder = tmp_path / "v"
    folder.mkdir()
    np.save(folder / "user_vectors.npy", np.ones((3, 5), np.float32))
    assert "item_vectors.npy: missing" in _one_line_error(capsys, ["search", "--vectors", str(folder)])
    np.save(folder / "item_vectors.npy", np.ones((8, 4), np.float32))
    np.save(folder / "user_ids.npy", np.arange(3))
    np.save(folder / "item_ids.npy", np.arange(8))
    assert "shape mismatch" in _one_line_error(capsys, ["search", "--vectors", str(folder)])
    np.save(folder / "item_vectors.npy", np.ones((8, 5), np.float32))
    np.save(folder / "item_ids.npy", np.arange(7))
    assert "id maps do not match" in _one_line_error(capsys, ["search", "--vectors", str(folder)])
    np.save(folder / "item_ids.npy", np.arange(8))
    assert "--k must be" in _one_line_error(capsys, ["search", "--vectors", str(folder), "--k", "9"])
    assert "usage:" in _one_line_error(capsys, ["search", "--vectors", str(folder), "--index", "annoy"])
    assert "no such model file" in _one_line_error(capsys, ["export", "--out", str(tmp_path / "o"), "--model", str(tmp_path / "m.pt")])
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    assert "not a retriever" in _one_line_error(capsys, ["export", "--out", str(tmp_path / "o"), "--model", str(tmp_path / "bad.pt")])

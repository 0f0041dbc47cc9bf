"""The reference networks follow the seed's text literally."""
import pytest
import torch

from solutions import DeepCandidateGenerationModel, DeepRankingModel

SEED_ARGS = dict(n_items=12, embedding_dim=3, hidden_dim=6, n_hidden_layers=4, seed=6789)
HISTORIES = [torch.LongTensor(h) for h in ([7, 3, 9], [11], [0], [10, 1, 4, 8])]


def test_candidate_generation_layers_in_order_of_use():
    model = DeepCandidateGenerationModel(**SEED_ARGS)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(12, 3), (48, 3), (24, 48), (12, 24), (6, 12), (12, 6)]  # no bias anywhere


def test_candidate_generation_outputs_a_softmax_over_items():
    out = DeepCandidateGenerationModel(**SEED_ARGS)(HISTORIES)
    assert out.shape == (4, 12)
    torch.testing.assert_close(out.sum(dim=1), torch.ones(4), atol=1e-6, rtol=0)


def test_candidate_generation_averages_embeddings():
    model = DeepCandidateGenerationModel(**SEED_ARGS)
    # A history repeated twice has the same average, so the same prediction.
    a = model([torch.LongTensor([7, 3])])
    b = model([torch.LongTensor([7, 3, 7, 3])])
    torch.testing.assert_close(a, b, atol=1e-7, rtol=0)


def test_seed_fixes_the_weights():
    a = DeepCandidateGenerationModel(**SEED_ARGS)(HISTORIES)
    b = DeepCandidateGenerationModel(**SEED_ARGS)(HISTORIES)
    c = DeepCandidateGenerationModel(**{**SEED_ARGS, "seed": 1})(HISTORIES)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_ranking_layers_and_bias_only_on_output():
    model = DeepRankingModel(**SEED_ARGS)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(12, 3), (48, 6), (24, 48), (12, 24), (6, 12), (1, 6), (1,)]


def test_ranking_scores_each_item_with_a_sigmoid():
    out = DeepRankingModel(**SEED_ARGS)(torch.LongTensor([7, 3, 9]), torch.arange(12))
    assert out.shape == (12, 1)
    assert ((out > 0) & (out < 1)).all()


def test_ranking_puts_the_user_on_the_left():
    model = DeepRankingModel(**SEED_ARGS)
    user = model.embedding(torch.LongTensor([7, 3, 9])).mean(0)
    item = model.embedding(torch.LongTensor([4]))
    first = model.hidden[0]
    # Zeroing the first layer's user half must make the score independent of the history.
    with torch.no_grad():
        first.weight[:, :3] = 0
    s1 = model(torch.LongTensor([7, 3, 9]), torch.LongTensor([4]))
    s2 = model(torch.LongTensor([0]), torch.LongTensor([4]))
    torch.testing.assert_close(s1, s2)
    assert user.shape == (3,) and item.shape == (1, 3)


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_tower_widths_double_towards_the_input(layers):
    model = DeepCandidateGenerationModel(n_items=5, embedding_dim=2, hidden_dim=3, n_hidden_layers=layers, seed=0)
    widths = [p.shape[0] for p in list(model.parameters())[1:-1]]
    assert widths == [3 * 2 ** (layers - 1 - i) for i in range(layers)]

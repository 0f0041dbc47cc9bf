"""The two seed networks of assignment 01 (Covington et al. 2016, Figures 3 and 7, as in the original exercise).

The classes below are copied verbatim into the answer cells of
``course/source/01_networks/01_networks.ipynb`` by ``python -m solutions.sync``; the
``### BEGIN/END SOLUTION`` comments are nbgrader's markers, so the student release keeps the
class skeleton and loses only the marked code.
"""
import torch
import torch.nn as nn


class DeepCandidateGenerationModel(nn.Module):
    """
    Extreme multi-class classifier network.

    Input: a list of ``batch`` LongTensors of item ids, each of any length >= 1.
    Output: ``(batch, n_items)``, a softmax over all items for every user.
    """
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__()

        self.seed = torch.manual_seed(seed)
        ### BEGIN SOLUTION
        # Modules are created in the order they are applied: the random initialisation
        # then depends only on the architecture, so a given seed gives given weights.
        self.embedding = nn.Embedding(n_items, embedding_dim)
        widths = [hidden_dim * 2 ** (n_hidden_layers - 1 - i) for i in range(n_hidden_layers)]
        layers = []
        in_dim = embedding_dim
        for width in widths:
            layers += [nn.Linear(in_dim, width, bias=False), nn.ReLU()]
            in_dim = width
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(hidden_dim, n_items, bias=False)
        ### END SOLUTION

    def forward(self, user_histories):
        ### BEGIN SOLUTION
        x = torch.stack([self.embedding(history).mean(dim=0) for history in user_histories])
        x = self.hidden(x)
        x = torch.softmax(self.output(x), dim=1)
        ### END SOLUTION

        return x


class DeepRankingModel(nn.Module):
    """
    Ranking network.

    Input: one user's history (LongTensor of item ids) and ``n_scored`` item ids to score.
    Output: ``(n_scored, 1)``, a sigmoid score for every scored item.
    """
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__()

        self.seed = torch.manual_seed(seed)
        ### BEGIN SOLUTION
        # One embedding table shared by the history and the scored items (paper §4.1).
        self.embedding = nn.Embedding(n_items, embedding_dim)
        widths = [hidden_dim * 2 ** (n_hidden_layers - 1 - i) for i in range(n_hidden_layers)]
        layers = []
        in_dim = 2 * embedding_dim
        for width in widths:
            layers += [nn.Linear(in_dim, width, bias=False), nn.ReLU()]
            in_dim = width
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(hidden_dim, 1, bias=True)
        ### END SOLUTION

    def forward(self, user_history, scored_item):
        ### BEGIN SOLUTION
        user = self.embedding(user_history).mean(dim=0)
        items = self.embedding(scored_item)
        x = torch.cat([user.expand(len(items), -1), items], dim=1)
        x = self.hidden(x)
        x = torch.sigmoid(self.output(x))
        ### END SOLUTION

        return x

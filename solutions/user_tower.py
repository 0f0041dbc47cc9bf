"""The candidate-generation user tower of assignment 02 (Covington et al. 2016, section 3.2-3.3, Figure 3).

``masked_mean`` and ``UserTower`` are copied verbatim into the answer cells of
``course/source/02_user_tower/02_user_tower.ipynb`` by ``python -m solutions.sync``; the
``### BEGIN/END SOLUTION`` comments are nbgrader's markers, so the student release keeps the
signatures and docstrings and loses only the marked code.
"""
import torch
import torch.nn as nn


def masked_mean(embeddings, ids):
    """Average the embeddings of each row of ``ids``, ignoring the padding id 0.

    embeddings: (n_ids, dim) float tensor, the embedding table (row 0 may hold anything).
    ids: (batch, max_len) LongTensor, right-padded with 0.
    Returns (batch, dim): the mean of each row's non-padding embeddings; a row with no
    id at all (only padding) gives a zero vector.
    """
    ### BEGIN SOLUTION
    mask = (ids != 0).unsqueeze(-1).to(embeddings.dtype)  # (batch, max_len, 1)
    total = (embeddings[ids] * mask).sum(dim=1)  # padding rows are multiplied by 0
    count = mask.sum(dim=1).clamp(min=1.0)  # an empty row divides 0 by 1, not by 0
    return total / count
    ### END SOLUTION


class UserTower(nn.Module):
    """The user vector u of candidate generation: every feature embedded, concatenated, and a ReLU tower.

    Input: a dict of tensors for a batch of ``batch`` examples:
      "history" (batch, L) and "search" (batch, S) LongTensors padded with 0;
      "age_bucket", "gender", "country", "device" (batch,) LongTensors of ids;
      "logged_in" (batch,) 0/1 and "example_age" (batch,) float (0 at serving time).
    Output: (batch, hidden_dims[-1]), the user vector u (the last ReLU's output).
    """
    def __init__(self, n_videos, n_tokens, n_ages, n_genders, n_countries, n_devices,
                 embedding_dim, demo_dim, hidden_dims):
        super().__init__()
        ### BEGIN SOLUTION
        self.watch_embedding = nn.Embedding(n_videos, embedding_dim)
        self.search_embedding = nn.Embedding(n_tokens, embedding_dim)
        self.age_embedding = nn.Embedding(n_ages, demo_dim)
        self.gender_embedding = nn.Embedding(n_genders, demo_dim)
        self.country_embedding = nn.Embedding(n_countries, demo_dim)
        self.device_embedding = nn.Embedding(n_devices, demo_dim)
        # watch + search averages, four demographic embeddings, logged_in, age, age².
        in_dim = 2 * embedding_dim + 4 * demo_dim + 3
        layers = []
        for width in hidden_dims:
            layers += [nn.Linear(in_dim, width), nn.ReLU()]
            in_dim = width
        self.tower = nn.Sequential(*layers)
        ### END SOLUTION

    def forward(self, batch):
        ### BEGIN SOLUTION
        age = batch["example_age"].float().unsqueeze(1)
        x = torch.cat([
            masked_mean(self.watch_embedding.weight, batch["history"]),
            masked_mean(self.search_embedding.weight, batch["search"]),
            self.age_embedding(batch["age_bucket"]),
            self.gender_embedding(batch["gender"]),
            self.country_embedding(batch["country"]),
            self.device_embedding(batch["device"]),
            batch["logged_in"].float().unsqueeze(1),
            age,
            age ** 2,
        ], dim=1)
        return self.tower(x)
        ### END SOLUTION

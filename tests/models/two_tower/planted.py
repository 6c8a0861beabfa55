"""A planted-preference log shared by the two-tower tests.

``n_groups`` groups of ``per_group`` items; every user belongs to one group (their side
feature ``segment``) and interacts, in random order, with ``length`` distinct items of it.
A model that learns the structure ranks the unseen items of the user's group first.
"""

from __future__ import annotations

import numpy as np

from embedrec.data.interactions import Interactions


def planted_log(
    n_groups: int = 10, per_group: int = 12, n_users: int = 300, length: int = 8, seed: int = 0
) -> tuple[Interactions, dict[str, list], dict[str, list], dict[int, int]]:
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    group_of_user: dict[int, int] = {}
    for u in range(n_users):
        g = int(rng.integers(n_groups))
        group_of_user[u] = g
        picks = rng.choice(per_group, size=length, replace=False) + g * per_group
        for t, i in enumerate(picks):
            users.append(u)
            items.append(int(i))
            times.append(float(t))
    log = Interactions.from_arrays(users, items, times=times)
    user_table = {
        "user": list(range(n_users)),
        "segment": [f"s{group_of_user[u]}" for u in range(n_users)],
    }
    n_items = n_groups * per_group
    item_table = {
        "item": list(range(n_items)),
        "genre": [f"g{i // per_group}" for i in range(n_items)],
    }
    return log, user_table, item_table, group_of_user

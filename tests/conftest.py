"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    """A small synthetic CAM5-like world: 4 days, 2 degrees, 2 files of 2 days, seed 0.

    Returns a ``SyntheticWorld`` with ``.files`` (list of Paths, time order),
    ``.tracks`` (tracks.csv Path) and ``.directory``. Treat it as read-only.
    """
    from hurricane_ode.data.synthetic import make_synthetic_world

    directory = tmp_path_factory.mktemp("demo_world")
    return make_synthetic_world(
        directory, days=4, resolution=2.0, seed=0, days_per_file=2, progress=False
    )

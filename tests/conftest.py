"""Shared fixtures, and the Hypothesis profile.

Property tests run with a fixed seed (profile ``seeded``, the default), so a CI run is
reproducible; ``HYPOTHESIS_PROFILE=explore pytest`` draws new examples each run to hunt for
failures, and Hypothesis prints the failing example to turn into a regression test.
"""

from __future__ import annotations

import os

import pytest

try:  # the property tests skip themselves without Hypothesis
    from hypothesis import settings
except ImportError:  # pragma: no cover
    settings = None
if settings is not None:
    settings.register_profile("seeded", derandomize=True)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "seeded"))


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

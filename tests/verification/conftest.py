"""Fixtures of the verification tests (helpers live in vortex_world.py)."""

from __future__ import annotations

import pytest
from vortex_world import make_world


@pytest.fixture
def world():
    """A 1-degree box with one moving storm: (truth Dataset, tracks DataFrame)."""
    return make_world()

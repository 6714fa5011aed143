"""Storm motion maps: the flow that carries each storm from the reference frame to a target."""

from __future__ import annotations

import cftime
import numpy as np
import pandas as pd
import pytest
import torch

from hurricane_ode.data.storm_motion import storm_motion, storm_positions_by_frame
from hurricane_ode.models.motion import warp

LAT = np.arange(10.0, 30.0, 1.0)  # rows 0..19, south to north
LON = np.arange(300.0, 324.0, 1.0)  # cols 0..23
TIMES = np.array([cftime.DatetimeNoLeap(2005, 8, 1, 3 * k) for k in range(4)])
HOURS = np.arange(4) * 3.0


def _tracks(rows):
    return pd.DataFrame(rows, columns=["storm_id", "time", "lat", "lon"])


def _iso(k):
    return TIMES[k].strftime("%Y-%m-%dT%H:%M:%S")


def test_positions_are_fractional_pixels_by_storm_and_frame():
    tr = _tracks([("A", _iso(0), 15.5, 305.0), ("A", _iso(2), 16.0, 307.25), ("B", _iso(2), 40.0, 310.0)])
    pos = storm_positions_by_frame(tr, TIMES, HOURS, LAT, LON)
    assert pos[0] == {"A": (5.5, 5.0)} and pos[2] == {"A": (6.0, 7.25)}  # B lies outside the tile
    with pytest.raises(ValueError, match="no storm_id column"):
        storm_positions_by_frame(tr.drop(columns="storm_id"), TIMES, HOURS, LAT, LON)
    one = storm_positions_by_frame(tr.iloc[:2].drop(columns="storm_id"), TIMES, HOURS, LAT, LON)
    assert one[2] == {"storm": (6.0, 7.25)}  # a single storm needs no id


def test_warping_the_reference_with_the_motion_flow_moves_the_storm_onto_its_target_position():
    # storm A moves 3 columns east and 2 rows north between frames 0 and 3; B only exists at 3
    tr = _tracks([("A", _iso(0), 15.0, 305.0), ("A", _iso(3), 17.0, 308.0), ("B", _iso(3), 25.0, 318.0)])
    pos = storm_positions_by_frame(tr, TIMES, HOURS, LAT, LON)
    m = storm_motion(pos, 0, np.array([3]), LAT, LON, None, (LAT.size, LON.size), sigma_km=150.0)
    assert m.shape == (1, 3, LAT.size, LON.size)
    assert m[0, :2, 7, 8].tolist() == [-3.0, -2.0] and m[0, 2, 7, 8] == pytest.approx(1.0)
    assert m[0, 2, 15, 18] < 1e-6  # B was not in the reference frame: only A's far tail there
    yy, xx = np.meshgrid(np.arange(LAT.size), np.arange(LON.size), indexing="ij")
    ref = np.exp(-((yy - 5) ** 2 + (xx - 5) ** 2) / 4.0)[None, None]  # a blob at A's first position
    moved = warp(torch.tensor(ref, dtype=torch.float32), torch.from_numpy(m[:, :2]))[0, 0].numpy()
    assert np.unravel_index(moved.argmax(), moved.shape) == (7, 8)
    # a crop shifts the maps, not the flow
    c = storm_motion(pos, 0, np.array([3]), LAT, LON, (4, 4), (8, 8), sigma_km=150.0)
    assert np.array_equal(c, m[:, :, 4:12, 4:12])


def test_each_pixel_takes_the_nearest_storms_motion():
    tr = _tracks([("A", _iso(0), 12.0, 302.0), ("A", _iso(1), 12.0, 303.0),
                  ("B", _iso(0), 26.0, 320.0), ("B", _iso(1), 27.0, 320.0)])
    pos = storm_positions_by_frame(tr, TIMES, HOURS, LAT, LON)
    m = storm_motion(pos, 0, np.array([1, 2]), LAT, LON, None, (LAT.size, LON.size), sigma_km=300.0)
    assert m[0, :2, 2, 3].tolist() == [-1.0, 0.0] and m[0, :2, 17, 20].tolist() == [0.0, -1.0]
    assert not m[1].any()  # no fixes at frame 2: nothing to learn

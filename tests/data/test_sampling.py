import datetime as dt
from dataclasses import replace

import cftime
import numpy as np
import pytest

from hurricane_ode.config import SamplingConfig
from hurricane_ode.data.sampling import (
    MAX_RESAMPLE,
    drop_inputs,
    hours_since,
    input_window,
    sample_clip,
    valid_starts,
    window_length,
)

DT = 3.0


def regular_hours(n):
    return np.arange(n, dtype=np.float64) * DT


def draws(cfg, n_frames=400, n=200, seed=0):
    rng = np.random.default_rng(seed)
    h = regular_hours(n_frames)
    return [sample_clip(h, None, cfg, rng) for _ in range(n)]


# ---------------------------------------------------------------- time helpers
def test_hours_since_noleap_feb_boundary():
    times = [cftime.DatetimeNoLeap(2004, 2, 28, 18), cftime.DatetimeNoLeap(2004, 2, 28, 21)]
    times.append(times[-1] + dt.timedelta(hours=3))
    assert times[-1] == cftime.DatetimeNoLeap(2004, 3, 1, 0)  # no 29 Feb in noleap
    np.testing.assert_allclose(hours_since(times, times[0]), [0.0, 3.0, 6.0])
    # The same wall-clock dates in the real (Gregorian) calendar are 27 h apart.
    greg = hours_since(
        [cftime.DatetimeGregorian(2004, 3, 1, 0)], cftime.DatetimeGregorian(2004, 2, 28, 21)
    )
    assert greg[0] == 27.0


def test_hours_since_datetime64_and_calendar_mismatch():
    t = np.array(["2001-01-01T00", "2001-01-01T03", "2001-01-02T00"], dtype="datetime64[ns]")
    np.testing.assert_allclose(hours_since(t, t[0]), [0.0, 3.0, 24.0])
    with pytest.raises(ValueError, match="calendar"):
        hours_since([cftime.DatetimeNoLeap(2001, 1, 2)], cftime.Datetime360Day(2001, 1, 1))


# ---------------------------------------------------------------- configuration
def test_window_sizes_follow_sampling_rate():
    cfg = SamplingConfig(n_inputs=5, n_targets=5, sampling_rate=1.0)
    assert input_window(cfg) == 5 and window_length(cfg) == 10
    assert input_window(replace(cfg, sampling_rate=0.5)) == 10
    assert input_window(replace(cfg, sampling_rate=0.5, irregular=False)) == 9
    # the paper's interpolation: 5 inputs two frames apart, 4 frames in between
    interp = SamplingConfig(task="interpolation", n_targets=4, sampling_rate=0.5, irregular=False)
    assert window_length(interp) == 9


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"task": "nowcast"}, "task"),
        ({"sampling_rate": 0.0}, "sampling_rate"),
        ({"sampling_rate": 1.5}, "sampling_rate"),
        ({"n_inputs": 0}, "n_inputs"),
        ({"max_gap_h": 1.0}, "max_gap_h"),
        ({"irregular": False, "sampling_rate": 0.05}, "max_gap_h"),
        ({"task": "interpolation", "sampling_rate": 1.0}, "n_targets"),
    ],
)
def test_bad_config_names_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        valid_starts(regular_hours(500), SamplingConfig(**bad))


def test_too_short_series_says_how_many_frames():
    cfg = SamplingConfig(sampling_rate=1.0)  # 5 inputs + 5 targets = 10 frames
    with pytest.raises(ValueError, match=r"needs 10 consecutive frames.*only 7 frame"):
        valid_starts(regular_hours(7), cfg)
    gappy = np.concatenate([regular_hours(6), 100 * DT + regular_hours(6)])
    with pytest.raises(ValueError, match=r"longest run without missing frames has 6 frame"):
        valid_starts(gappy, cfg)


def test_off_grid_and_unsorted_frames_are_refused():
    with pytest.raises(ValueError, match="grid"):
        valid_starts(np.array([0.0, 3.0, 7.0] + list(range(9, 60, 3))), SamplingConfig())
    with pytest.raises(ValueError, match="strictly increasing"):
        valid_starts(np.array([0.0, 3.0, 3.0]), SamplingConfig())


# ---------------------------------------------------------------- properties of draws
CONFIGS = [
    SamplingConfig(task="extrapolation", irregular=True, sampling_rate=r) for r in (1.0, 0.5, 0.2)
] + [
    SamplingConfig(task="extrapolation", irregular=False, sampling_rate=0.25),
    SamplingConfig(task="interpolation", irregular=True, sampling_rate=0.4, n_targets=4),
    SamplingConfig(task="interpolation", irregular=False, sampling_rate=0.5, n_targets=4),
    SamplingConfig(task="extrapolation", irregular=True, sampling_rate=0.05),  # clamps
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.task}-{c.irregular}-{c.sampling_rate}")
def test_draw_invariants(cfg):
    for c in draws(cfg):
        gaps = np.diff(c.input_hours)
        assert c.input_idx.size == cfg.n_inputs and c.target_idx.size == cfg.n_targets
        assert np.all(gaps > 0) and gaps.max(initial=0) <= cfg.max_gap_h
        assert c.input_hours[0] == 0.0 and c.origin == c.input_idx[0]
        assert np.all(np.diff(c.target_hours) > 0)
        on_grid = c.target_hours / DT
        np.testing.assert_array_equal(on_grid, np.round(on_grid))
        assert c.start <= c.origin and c.target_idx.max() < c.start + window_length(cfg)
        if cfg.task == "extrapolation":
            expect = c.input_hours[-1] + DT * np.arange(1, cfg.n_targets + 1)
            np.testing.assert_array_equal(c.target_hours, expect)
        else:
            assert np.all(c.target_hours > 0) and np.all(c.target_hours < c.input_hours[-1])
            assert not set(c.target_idx) & set(c.input_idx)


def test_rate_one_gives_consecutive_inputs():
    for irregular in (True, False):
        cfg = SamplingConfig(sampling_rate=1.0, irregular=irregular)
        for c in draws(cfg, n=20):
            np.testing.assert_array_equal(c.input_hours, DT * np.arange(5))


def test_lower_rate_gives_larger_mean_gap():
    means = []
    for r in (1.0, 0.5, 0.25, 0.125):
        cfg = SamplingConfig(sampling_rate=r, max_gap_h=1e4)
        gap = np.mean([np.diff(c.input_hours).mean() for c in draws(cfg, n=400)])
        means.append(gap)
        assert gap == pytest.approx(DT / r, rel=0.1)  # E[mean gap] = W/n steps = dt/r
    assert np.all(np.diff(means) > 0)


def test_irregular_draws_vary_and_evenly_spaced_do_not():
    irregular = {tuple(c.input_hours) for c in draws(SamplingConfig(sampling_rate=0.3), n=50)}
    assert len(irregular) > 10
    even = SamplingConfig(sampling_rate=0.5, irregular=False)
    assert {tuple(c.input_hours) for c in draws(even, n=20)} == {(0.0, 6.0, 12.0, 18.0, 24.0)}


def test_max_gap_clamp_when_resampling_fails():
    cfg = SamplingConfig(sampling_rate=0.02, max_gap_h=6.0)  # window of 250 frames, gaps <= 2 steps
    assert MAX_RESAMPLE >= 1
    for c in draws(cfg, n_frames=600, n=20):
        assert np.diff(c.input_hours).max() <= 6.0


def test_same_seed_same_clip_and_other_seed_differs():
    cfg = SamplingConfig(sampling_rate=0.3)
    a, b, c = (draws(cfg, n=10, seed=s) for s in (7, 7, 8))
    key = [(x.start, tuple(x.input_idx), tuple(x.target_idx)) for x in a]
    assert key == [(x.start, tuple(x.input_idx), tuple(x.target_idx)) for x in b]
    assert key != [(x.start, tuple(x.input_idx), tuple(x.target_idx)) for x in c]


def test_missing_frames_are_never_crossed():
    # frames 20 and 21 missing (a 9-hour step), 5 missing after frame 50
    steps = np.concatenate([np.arange(20), np.arange(22, 51), np.arange(56, 90)])
    h = steps * DT
    cfg = SamplingConfig(sampling_rate=0.5)
    length = window_length(cfg)
    starts = valid_starts(h, cfg)
    assert np.all(steps[starts + length - 1] - steps[starts] == length - 1)
    # 15-frame windows fit in runs of 20, 29 and 34 frames (indices 0-19, 20-48, 49-82)
    expect = np.concatenate([np.arange(0, 6), np.arange(20, 35), np.arange(49, 69)])
    np.testing.assert_array_equal(starts, expect)
    rng = np.random.default_rng(0)
    for _ in range(200):
        c = sample_clip(h, None, cfg, rng)
        expect = c.input_hours[-1] + DT * np.arange(1, 6)
        np.testing.assert_array_equal(c.target_hours, expect)
    with pytest.raises(ValueError, match="missing frames"):
        sample_clip(h, 12, cfg, rng)


def test_drop_inputs_keeps_one_and_times():
    rng = np.random.default_rng(0)
    mask = np.ones(5, dtype=bool)
    assert drop_inputs(mask, 0.0, rng).all()
    for _ in range(50):
        out = drop_inputs(mask, 1.0, rng)
        assert out.sum() == 1 and mask.all()  # the input is not modified
    rates = np.mean([drop_inputs(np.ones(5, bool), 0.3, rng).mean() for _ in range(2000)])
    assert rates == pytest.approx(0.7, abs=0.03)
    partial = np.array([False, True, False, True, True])
    assert not (drop_inputs(partial, 0.9, rng) & ~partial).any()  # never un-drops
    with pytest.raises(ValueError, match="no observed"):
        drop_inputs(np.zeros(3, bool), 0.5, rng)

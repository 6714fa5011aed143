import warnings

import cftime
import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from torch.utils.data import DataLoader

from hurricane_ode.config import DataConfig, SamplingConfig
from hurricane_ode.data.clips import collate_clips
from hurricane_ode.data.sampling import window_length
from hurricane_ode.data.tile_dataset import TileClipDataset

N_T, N_Y, N_X = 60, 16, 16
STATS = {"U850": (1.0, 5.0), "V850": (-0.5, 4.0), "PSL": (101000.0, 800.0)}
LOW_FRAMES = (20, 21)  # frames whose PSL dips below 99500 Pa
TRACK_FRAME = 45  # frame with a track point inside the tile
SAMPLING = SamplingConfig(sampling_rate=0.5, n_inputs=3, n_targets=2)  # 8-frame windows


def make_basin(times, seed=0):
    rng = np.random.default_rng(seed)
    n = len(times)
    data = {
        "U850": rng.normal(1.0, 5.0, (n, N_Y, N_X)),
        "V850": rng.normal(-0.5, 4.0, (n, N_Y, N_X)),
        "PSL": rng.uniform(100000.0, 102000.0, (n, N_Y, N_X)),
    }
    for k in LOW_FRAMES:
        if k < n:
            data["PSL"][k, 5, 7] = 98000.0
    # a tile straddling the prime meridian: lon 352..359, 0..7 (0..360 convention)
    coords = {
        "time": times,
        "lat": np.linspace(10.0, 25.0, N_Y),
        "lon": np.mod(352.0 + np.arange(N_X), 360.0),
    }
    ds = xr.Dataset(
        {v: (("time", "lat", "lon"), a.astype(np.float32)) for v, a in data.items()}, coords=coords
    )
    for v, (m, s) in STATS.items():
        ds[v].attrs.update(norm_mean=m, norm_std=s)
    return ds


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiles") / "tiles.zarr"
    # noleap, 3-hourly, across 28 Feb -> 1 Mar of 2004 (a Gregorian leap year)
    times = xr.date_range("2004-02-25", periods=N_T, freq="3h", calendar="noleap", use_cftime=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr v3 consolidated-metadata notice
        make_basin(times).to_zarr(path, group="natl", mode="w", consolidated=True)
        gappy = np.delete(np.arange(N_T), [30, 31])  # two missing frames
        make_basin(times[gappy], seed=1).to_zarr(path, group="gappy", mode="a", consolidated=True)
    return path


def raw(store, group, var, index):
    with xr.open_zarr(store, group=group) as ds:
        return ds[var].values[index]


@pytest.mark.parametrize("variables", [("PSL",), ("U850", "PSL"), ("U850", "V850", "PSL")])
def test_clip_shapes_dtypes_and_normalisation(store, variables):
    ds = TileClipDataset(
        store, "natl", variables=variables, sampling=SAMPLING, clips_per_epoch=6, norm_stats="store"
    )
    clip = ds[0]
    c = len(variables)
    assert clip.inputs.shape == (3, c, N_Y, N_X) and clip.targets.shape == (2, c, N_Y, N_X)
    assert clip.inputs.dtype == torch.float32 and clip.input_times.dtype == torch.float32
    assert clip.input_mask.all() and clip.target_mask.all()
    info = ds.clip_info(0)
    for ch, v in enumerate(variables):
        m, s = STATS[v]
        expect = (raw(store, "natl", v, info["input_index"]) - m) / s
        np.testing.assert_allclose(clip.inputs[:, ch].numpy(), expect, rtol=1e-5, atol=1e-5)
        physical = ds.inverse_normalize(clip.targets)[:, ch].numpy()
        np.testing.assert_allclose(physical, raw(store, "natl", v, info["target_index"]), rtol=1e-5)
    assert ds.stats == {v: {"mean": STATS[v][0], "std": STATS[v][1]} for v in variables}
    plain = TileClipDataset(store, "natl", variables=variables, sampling=SAMPLING, normalize=False)
    np.testing.assert_allclose(
        plain[0].inputs[:, -1].numpy(), raw(store, "natl", variables[-1], info["input_index"])
    )


def test_times_are_hours_across_noleap_feb_boundary(store):
    ds = TileClipDataset(store, "natl", sampling=SAMPLING, split="all", clips_per_epoch=None)
    np.testing.assert_array_equal(ds.frame_hours, 3.0 * np.arange(N_T))
    crossing = 0
    for i in range(len(ds)):
        clip, info = ds[i], ds.clip_info(i)
        np.testing.assert_array_equal(clip.input_times.numpy(), info["input_hours"])
        np.testing.assert_array_equal(np.diff(clip.target_times.numpy()), [3.0])
        assert clip.input_times[0] == 0 and info["origin_time"] == info["input_times"][0]
        assert clip.target_times[0] - clip.input_times[-1] == 3.0
        months = {t.month for t in info["input_times"] + info["target_times"]}
        crossing += months == {2, 3}
    assert crossing > 0
    assert cftime.DatetimeNoLeap(2004, 3, 1, 0) in list(ds.times)


def test_determinism_and_set_epoch(store):
    a = TileClipDataset(store, "natl", sampling=SAMPLING, seed=3, clips_per_epoch=8)
    b = TileClipDataset(store, "natl", sampling=SAMPLING, seed=3, clips_per_epoch=8, cache=False)
    for i in range(8):
        x, y = a[i], b[i]  # cached and lazy reads agree, and a new instance agrees
        assert torch.equal(x.inputs, y.inputs) and torch.equal(x.input_times, y.input_times)
        assert torch.equal(x.targets, a[i].targets)
    before = [tuple(a.clip_info(i)["input_index"]) for i in range(8)]
    a.set_epoch(1)
    after = [tuple(a.clip_info(i)["input_index"]) for i in range(8)]
    assert before != after
    a.set_epoch(0)
    assert before == [tuple(a.clip_info(i)["input_index"]) for i in range(8)]


def test_split_has_no_leakage(store):
    train = TileClipDataset(store, "natl", sampling=SAMPLING, split="train", clips_per_epoch=None)
    test = TileClipDataset(store, "natl", sampling=SAMPLING, split="test", clips_per_epoch=None)
    assert train.split_range == (0, 48) and test.split_range == (48, 60)
    length = window_length(SAMPLING)
    assert len(train) == 48 - length + 1 and len(test) == 12 - length + 1

    def used(ds):
        idx = [
            np.r_[ds.clip_info(i)["input_index"], ds.clip_info(i)["target_index"]]
            for i in range(len(ds))
        ]
        return np.concatenate(idx)

    tr, te = used(train), used(test)
    assert tr.max() < 48 <= te.min()
    assert max(train.times[tr]) < min(test.times[te])


def test_missing_frames_in_store(store):
    ds = TileClipDataset(store, "gappy", sampling=SAMPLING, split="all", clips_per_epoch=None)
    assert ds.times.size == N_T - 2
    for i in range(len(ds)):
        clip = ds[i]
        expect = clip.input_times[-1] + 3.0 * torch.arange(1, 3)
        assert torch.equal(clip.target_times, expect)
        info = ds.clip_info(i)
        assert not (info["input_index"][0] < 30 <= info["target_index"][-1])


def test_cyclone_filter_by_threshold(store):
    cfg = SamplingConfig(**{**SAMPLING.__dict__, "cyclones_only": True})
    ds = TileClipDataset(store, "natl", sampling=cfg, split="all", clips_per_epoch=None)
    assert 0 < len(ds) < N_T
    for i in range(len(ds)):
        assert set(ds.clip_info(i)["target_index"]) & set(LOW_FRAMES)
    lazy = TileClipDataset(
        store, "natl", variables=("U850",), sampling=cfg, split="all", cache=False
    )
    assert np.array_equal(lazy.starts, ds.starts)  # PSL read although not a channel
    strict = SamplingConfig(**{**cfg.__dict__, "psl_threshold_pa": 90000.0})
    with pytest.raises(ValueError, match="no window"):
        TileClipDataset(store, "natl", sampling=strict)


def test_cyclone_filter_by_tracks(store, tmp_path):
    ts = xr.date_range("2004-02-25", periods=N_T, freq="3h", calendar="noleap", use_cftime=True)
    iso = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in ts]
    tracks = pd.DataFrame(
        {
            "storm_id": ["A", "B", "C"],
            "basin": ["natl"] * 3,
            "time": [iso[TRACK_FRAME], iso[5], iso[10]],
            "lat": [15.0, 15.0, 40.0],  # C: north of the tile
            "lon": [-2.0, 30.0, 355.0],  # A: -180..180 convention, inside 352..7; B: east of it
            "min_psl_pa": [99000.0] * 3,
            "max_wind_ms": [30.0] * 3,
        }
    )
    csv = tmp_path / "tracks.csv"
    tracks.to_csv(csv, index=False)
    cfg = SamplingConfig(**{**SAMPLING.__dict__, "cyclones_only": True, "tracks": str(csv)})
    ds = TileClipDataset(store, "natl", sampling=cfg, split="all", clips_per_epoch=None)
    assert len(ds) == 2  # two target frames per window -> two windows reach frame 45
    for i in range(len(ds)):
        assert TRACK_FRAME in ds.clip_info(i)["target_index"]
    outside = tracks.iloc[1:]
    with pytest.raises(ValueError, match="no window"):
        TileClipDataset(store, "natl", sampling=cfg, split="all", tracks=outside)
    bad = tracks.assign(time="2004-02-29T00:00:00")
    with pytest.raises(ValueError, match="noleap"):
        TileClipDataset(store, "natl", sampling=cfg, split="all", tracks=bad)


def test_dataloader_collate_and_input_masking(store):
    cfg = SamplingConfig(**{**SAMPLING.__dict__, "input_drop_prob": 0.5})
    ds = TileClipDataset(store, "natl", sampling=cfg, clips_per_epoch=12)
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_clips, num_workers=0)))
    assert batch.inputs.shape == (4, 3, 3, N_Y, N_X) and batch.targets.shape == (4, 2, 3, N_Y, N_X)
    assert batch.input_times.shape == (4, 3) and batch.target_mask.shape == (4, 2)
    masks = torch.stack([ds[i].input_mask for i in range(12)])
    assert masks.any(dim=1).all() and not masks.all()
    for i in range(12):
        clip = ds[i]
        assert torch.all(clip.inputs[~clip.input_mask] == 0)
        assert torch.all(clip.input_times[1:] > clip.input_times[:-1])  # times stay


def test_interpolation_items(store):
    cfg = SamplingConfig(task="interpolation", n_inputs=3, n_targets=2, sampling_rate=0.4)
    ds = TileClipDataset(store, "natl", variables=["V850"], sampling=cfg, clips_per_epoch=10)
    for i in range(10):
        clip = ds[i]
        assert clip.targets.shape == (2, 1, N_Y, N_X)
        assert torch.all((clip.target_times > 0) & (clip.target_times < clip.input_times[-1]))


def test_from_config_and_errors(store):
    cfg = DataConfig(
        path=str(store), basin="natl", variables=["PSL"], sampling=SAMPLING, clips_per_epoch=5
    )
    assert len(TileClipDataset.from_config(cfg)) == 5
    with pytest.raises(KeyError, match=r"epac.*gappy.*natl"):
        TileClipDataset(store, "epac", sampling=SAMPLING)
    with pytest.raises(KeyError, match="T850"):
        TileClipDataset(store, "natl", variables=["T850"], sampling=SAMPLING)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        TileClipDataset(store.parent / "nowhere.zarr", "natl")
    long = SamplingConfig(sampling_rate=0.1)  # 50 + 5 frames, the test split has 12
    with pytest.raises(ValueError, match=r"split 'test'.*needs 55 consecutive frames.*only 12"):
        TileClipDataset(store, "natl", sampling=long, split="test")
    ds = TileClipDataset(store, "natl", sampling=SAMPLING)
    with pytest.raises(ValueError, match="U850, V850, PSL"):
        ds.inverse_normalize(torch.zeros(2, 2, N_Y, N_X))
    with pytest.raises(IndexError):
        ds[len(ds)]


# ---------------------------------------------------------------------------- crops, stats, stores
def test_train_period_statistics_by_default(store):
    ds = TileClipDataset(store, "natl", sampling=SAMPLING, clips_per_epoch=2)
    n_train = int(round(0.8 * N_T))
    with xr.open_zarr(store, group="natl") as raw_ds:
        for v in ("U850", "V850", "PSL"):
            x = raw_ds[v].values[:n_train].astype(np.float64)
            assert ds.stats[v]["mean"] == pytest.approx(x.mean(), rel=1e-9)
            assert ds.stats[v]["std"] == pytest.approx(x.std(), rel=1e-9)
    test = TileClipDataset(store, "natl", sampling=SAMPLING, split="test", clips_per_epoch=2)
    assert test.stats == ds.stats, "the test split is normalised with the train period's stats"


def test_random_crops_are_windows_of_the_tile(store):
    ds = TileClipDataset(store, "natl", sampling=SAMPLING, clips_per_epoch=8, crop=(8, 5),
                         normalize=False)  # fmt: skip
    origins = set()
    for i in range(8):
        clip, info = ds[i], ds.clip_info(i)
        y, x, h, w = info["crop"]
        assert clip.inputs.shape == (3, 3, 8, 5) and (h, w) == (8, 5)
        full = raw(store, "natl", "PSL", info["input_index"])
        np.testing.assert_array_equal(clip.inputs[:, 2].numpy(), full[:, y : y + 8, x : x + 5])
        origins.add((y, x))
    assert len(origins) > 1
    np.testing.assert_array_equal(ds[3].inputs, ds[3].inputs)  # deterministic per index
    with pytest.raises(ValueError, match="larger than the 16x16 tile"):
        TileClipDataset(store, "natl", sampling=SAMPLING, crop=(32, 4))


def test_storm_centred_crops_follow_tracks_and_psl_minimum(store):
    from hurricane_ode.data.tile_reader import open_tiles

    times = open_tiles(store, "natl").time.values
    tracks = pd.DataFrame({"time": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in times],
                           "lat": 10.0 + 13 * 1.0, "lon": 352.0 + 12})  # fmt: skip  # row 13, col 12
    ds = TileClipDataset(store, "natl", sampling=SAMPLING, clips_per_epoch=10, crop=(4, 4),
                         storm_crop_prob=1.0, tracks=tracks)  # fmt: skip
    for i in range(10):
        y, x, h, w = ds.clip_info(i)["crop"]
        assert y <= 13 < y + h and x <= 12 < x + w
    # no tracks: centred on the PSL minimum of the last input frame when below the threshold
    cfg = SamplingConfig(sampling_rate=1.0, n_inputs=2, n_targets=1, psl_threshold_pa=99500.0)
    ds = TileClipDataset(store, "natl", sampling=cfg, split="all", clips_per_epoch=None,
                         crop=(4, 4), storm_crop_prob=1.0)  # fmt: skip
    hits = [ds.clip_info(i) for i in range(len(ds)) if ds.clip_info(i)["input_index"][-1] in LOW_FRAMES]
    assert hits
    for info in hits:
        y, x, _, _ = info["crop"]
        assert y <= 5 < y + 4 and x <= 7 < x + 4


def test_combined_stores_pool_train_statistics(store):
    from hurricane_ode.data.combined import CombinedClipDataset
    from hurricane_ode.data.sources import build_dataset

    a = TileClipDataset(store, "natl", sampling=SAMPLING, clips_per_epoch=3)
    b = TileClipDataset(store, "gappy", sampling=SAMPLING, clips_per_epoch=4)
    both = CombinedClipDataset([a, b])
    assert len(both) == 7 and both[6].inputs.shape == (3, 3, N_Y, N_X)
    with xr.open_zarr(store, group="natl") as na, xr.open_zarr(store, group="gappy") as ga:
        x = np.concatenate([na["PSL"].values[: a.train_range[1]].ravel(),
                            ga["PSL"].values[: b.train_range[1]].ravel()]).astype(np.float64)  # fmt: skip
    assert both.stats["PSL"]["mean"] == pytest.approx(x.mean(), rel=1e-9)
    assert a.stats == b.stats == both.stats
    cfg = DataConfig(paths=[f"{store}::natl", f"{store}::gappy"], sampling=SAMPLING, clips_per_epoch=6)
    train = build_dataset(cfg, "train")
    assert isinstance(train, CombinedClipDataset) and len(train) == 6
    test = build_dataset(cfg, "test")
    assert test.stats == train.stats and test.basin == "natl"
    with pytest.raises(ValueError, match="data.path is not set"):
        build_dataset(DataConfig(sampling=SAMPLING), "train")


def test_storm_proximity_maps_follow_the_tracks_in_each_crop(store):
    from hurricane_ode.data.clips import collate_clips
    from hurricane_ode.data.tile_reader import open_tiles

    times = open_tiles(store, "natl").time.values
    tracks = pd.DataFrame({"time": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in times],
                           "lat": 10.0 + 13 * 1.0, "lon": 352.0 + 12})  # fmt: skip  # row 13, col 12
    ds = TileClipDataset(store, "natl", sampling=SAMPLING, clips_per_epoch=6, crop=(8, 8),
                         storm_crop_prob=1.0, tracks=tracks, storm_sigma_km=150.0)  # fmt: skip
    for i in range(6):
        clip, (y, x, _, _) = ds[i], ds.clip_info(i)["crop"]
        wmap = clip.target_weights
        assert wmap is not None and wmap.shape == (clip.targets.shape[0], 8, 8)
        assert torch.allclose(wmap[:, 13 - y, 12 - x], torch.ones(()))  # 1 on the track point
        assert float(wmap.max()) <= 1.0 and float(wmap.min()) >= 0.0
        far = wmap[:, 0, 0] if (13 - y, 12 - x) != (0, 0) else wmap[:, -1, -1]
        assert (far < 1.0).all()
    assert collate_clips([ds[0], ds[1]]).target_weights.shape == (2, ds[0].targets.shape[0], 8, 8)
    # a storm that never moves: zero flow, weighted like target_weights
    assert ds[0].target_motion is not None and not ds[0].target_motion[:, :2].any()
    assert torch.allclose(ds[0].target_motion[:, 2], ds[0].target_weights)
    plain = TileClipDataset(store, "natl", sampling=SAMPLING, clips_per_epoch=2, crop=(8, 8))
    assert plain[0].target_weights is None and plain[0].target_motion is None
    with pytest.raises(ValueError, match="mixed|some clips"):
        collate_clips([ds[0], plain[0]])
    with pytest.raises(ValueError, match="needs the storms' tracks"):
        TileClipDataset(store, "natl", sampling=SAMPLING, storm_sigma_km=100.0)


def test_storm_motion_is_measured_from_the_last_observed_input(store):
    from hurricane_ode.data.tile_reader import open_tiles

    times = open_tiles(store, "natl").time.values
    # one storm moving one column east per frame along row 5
    tracks = pd.DataFrame({"storm_id": "S", "time": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in times],
                           "lat": 10.0 + 5, "lon": np.mod(352.0 + np.arange(len(times)) * 0.25, 360.0)})
    ds = TileClipDataset(store, "natl", sampling=SAMPLING, clips_per_epoch=4, tracks=tracks, storm_sigma_km=200.0)
    for i in range(4):
        info, clip = ds.clip_info(i), ds[i]
        ref = info["input_index"][info["input_mask"]][-1]
        for k, f in enumerate(info["target_index"]):
            col = float(0.25 * f)
            m = clip.target_motion[k]
            at = int(round(col))
            assert float(m[0, 5, at]) == pytest.approx(-0.25 * (f - ref), abs=1e-5)  # x: east, negated
            assert float(m[1, 5, at]) == 0.0 and float(m[2, 5, at]) > 0.9

""":func:`make_synthetic_world`: the driver that writes a world's files and true tracks."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cftime
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hurricane_ode.data.synthetic.background import Background, bilinear
from hurricane_ode.data.synthetic.climate import Climate
from hurricane_ode.data.synthetic.storms import (
    STEP_HOURS,
    add_vortex,
    draw_storms,
    max_gradient_wind,
)
from hurricane_ode.data.synthetic.tracks import (
    fill_given,
    read_given_tracks,
    storms_on_tracks,
    write_ibtracs,
    write_tracks,
)  # fmt: skip
from hurricane_ode.data.synthetic.writing import cam_dataset, write_atomic
from hurricane_ode.errors import InputError

#: Independent random streams, one per purpose; storms and noise add their own indices.
_PURPOSES = {"waves": 1, "genesis": 2, "storm": 3, "given": 4, "noise": 5}
TRACKS_FORMATS = ("project", "ibtracs", "both")


@dataclass
class SyntheticWorld:
    """What :func:`make_synthetic_world` wrote."""

    files: list[Path]
    """CAM5-style history files, in time order."""
    tracks: Path
    """``tracks.csv`` (columns :data:`TRACK_COLUMNS`)."""
    directory: Path
    """The output directory."""
    ibtracs: Path | None = None
    """``tracks_ibtracs.csv`` when asked for (``tracks_format`` "ibtracs"/"both")."""
    climate: Climate | None = None
    """The climate the world was made with."""


def _grid(resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """``lat`` -90..90 inclusive and ``lon`` 0..360 exclusive, degrees."""
    if not (isinstance(resolution, int | float) and resolution > 0):
        raise InputError(f"resolution must be a positive number of degrees, got {resolution!r}")
    nlat = round(180.0 / resolution)
    nlon = round(360.0 / resolution)
    if abs(nlat * resolution - 180.0) > 1e-6 or abs(nlon * resolution - 360.0) > 1e-6:
        raise InputError(f"resolution must divide 180 degrees exactly, got {resolution!r}")
    if nlat < 8:
        raise InputError(f"resolution {resolution!r} is too coarse (need at least 9 latitudes)")
    return np.linspace(-90.0, 90.0, nlat + 1), np.arange(nlon) * (360.0 / nlon)


def _parse_start(start: str) -> cftime.datetime:
    """``YYYY-MM-DD[ HH[:MM[:SS]]]`` (or ``T`` separator) -> noleap cftime on a 3-hourly step."""
    try:
        parts = str(start).strip().replace("T", " ").split()
        y, m, d = (int(v) for v in parts[0].split("-"))
        hms = [int(v) for v in parts[1].split(":")] if len(parts) > 1 else []
        hh, mm, ss = (hms + [0, 0, 0])[:3]
        t0 = cftime.datetime(y, m, d, hh, mm, ss, calendar="noleap")
    except (ValueError, TypeError, IndexError) as exc:
        raise InputError(
            f"start must be a date 'YYYY-MM-DD[ HH:MM:SS]' valid in the noleap calendar, got {start!r} ({exc})"
        ) from exc
    if (hh * 3600 + mm * 60 + ss) % int(STEP_HOURS * 3600):
        raise InputError(f"start must fall on a 3-hourly step (00, 03, ... 21 h), got {start!r}")
    return t0


def all_times_label(t0: cftime.datetime, n_steps: int) -> str:
    """``first .. last`` time of a run, ISO."""
    last = t0 + _dt.timedelta(hours=STEP_HOURS * (n_steps - 1))
    return f"{t0.strftime('%Y-%m-%dT%H:%M:%S')} .. {last.strftime('%Y-%m-%dT%H:%M:%S')}"


def _file_blocks(n_steps: int, steps_per_file: int) -> Iterator[tuple[int, int]]:
    for a in range(0, n_steps, steps_per_file):
        yield a, min(a + steps_per_file, n_steps)


def _streams(seed: int):
    def stream(purpose: str, *index: int) -> np.random.Generator:
        key = (_PURPOSES[purpose], *(int(i) for i in index))
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))

    return stream


def make_synthetic_world(
    output_dir: str | os.PathLike,
    start: str = "2005-08-01",
    days: float = 30,
    resolution: float = 1.0,
    seed: int = 0,
    days_per_file: float = 5,
    progress: bool = True,
    case: str = "f.e13.FAMIPC5.synthetic",
    climate: Climate | Mapping[str, Any] | None = None,
    storm_tracks: str | os.PathLike | pd.DataFrame | None = None,
    tracks_format: str = "project",
    compress: bool = False,
) -> SyntheticWorld:
    """Write a synthetic CAM5-like world: 3-hourly U850/V850/PSL files and true tracks.

    Parameters
    ----------
    output_dir: directory to create/fill; existing files of the same names are replaced.
    start: first time stamp, ``YYYY-MM-DD[ HH:MM:SS]`` in the ``noleap`` calendar.
    days: length of the run, days (``days * 8`` time steps of 3 h).
    resolution: grid spacing, degrees (must divide 180); lat -90..90 inclusive, lon 0..360 exclusive.
    seed: seeds everything (same seed and arguments -> identical files). Prefix-stable: with
        the same seed, start and climate, a longer run has identical fields and tracks on
        the steps a shorter one has (each wave set, basin genesis process, storm and noise
        step draws from its own :class:`numpy.random.SeedSequence` stream).
    days_per_file: days per history file (CAM ``h2`` files, named after their first time).
    progress: show a progress bar over time steps.
    case: CAM case name used in file names and the ``case`` global attribute.
    climate: the :class:`Climate`, or a mapping of its knobs (``size_scale`` and
        ``intensity_scale`` allowed, see :meth:`Climate.from_scalars`); None: the defaults.
    storm_tracks: put the storms on these tracks instead of drawing them: a DataFrame or CSV
        in the project's ``tracks.csv`` layout or IBTrACS's; interpolated linearly to the
        3-hourly steps; the central pressure follows ``min_psl_pa`` (no low where that is
        above the background).
    tracks_format: ``"project"`` writes ``tracks.csv``; ``"ibtracs"`` or ``"both"`` also write
        ``tracks_ibtracs.csv`` (IBTrACS CSV layout with its units row).
    compress: zlib-compress the history files (level 1 + shuffle; lossless).

    Returns
    -------
    SyntheticWorld(files, tracks, directory, ibtracs, climate). ``tracks.csv`` has one row
    per storm per 3-hourly step inside the run, columns ``storm_id,basin,time,lat,lon,
    min_psl_pa,max_wind_ms``: ``time`` ISO ``YYYY-MM-DDTHH:MM:SS`` (noleap), ``lon`` 0..360,
    ``min_psl_pa`` the analytic central pressure (background PSL at the centre minus the
    Holland deficit; the gridded minimum is higher), ``max_wind_ms`` the maximum gradient
    wind of the vortex plus the background wind speed at the centre. ``world.json`` records
    the arguments and the climate.
    """
    if not isinstance(days, int | float) or not days > 0:
        raise InputError(f"days must be positive, got {days!r}")
    if not isinstance(days_per_file, int | float) or not days_per_file > 0:
        raise InputError(f"days_per_file must be positive, got {days_per_file!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if tracks_format not in TRACKS_FORMATS:
        raise InputError(f"tracks_format must be one of {TRACKS_FORMATS}, got {tracks_format!r}")
    if climate is None:
        climate = Climate()
    elif isinstance(climate, Mapping):
        climate = Climate.from_scalars(climate)
    if not isinstance(climate, Climate):
        raise InputError(f"climate must be a Climate, got {type(climate).__name__}")
    n_steps = int(round(days * 24 / STEP_HOURS))
    steps_per_file = max(int(round(days_per_file * 24 / STEP_HOURS)), 1)
    if n_steps < 1:
        raise InputError(f"days={days!r} gives no 3-hourly time step")
    lat, lon = _grid(resolution)
    t0 = _parse_start(start)
    given = read_given_tracks(storm_tracks) if storm_tracks is not None else None
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    stream = _streams(int(seed))
    bg = Background(lat, lon, climate, stream("waves"))
    if given is None:
        storms = draw_storms(stream, n_steps, climate)
    else:
        storms = storms_on_tracks(given, t0, n_steps, stream, climate)
        if not storms:
            raise InputError(
                f"storm_tracks: no track has two 3-hourly steps within the run "
                f"({all_times_label(t0, n_steps)}); tracks span {given.time.min()} .. {given.time.max()}"
            )
    step_td = _dt.timedelta(hours=STEP_HOURS)
    all_times = [t0 + i * step_td for i in range(n_steps)]
    changed = {k: v for k, v in climate.to_dict().items() if v != Climate().to_dict()[k]}
    provenance = f"seed={seed}, climate={json.dumps(changed) if changed else 'default'}"
    if given is not None:
        provenance += ", storms on given tracks"

    rows: list[tuple] = []
    files: list[Path] = []
    shape = (len(lat), len(lon))
    bar = tqdm(total=n_steps, desc="synthetic world", unit="step", disable=not progress)
    try:
        for a, b in _file_blocks(n_steps, steps_per_file):
            psl, u, v = (np.empty((b - a, *shape)) for _ in range(3))
            for i, step in enumerate(range(a, b)):
                bg_psl = bg.psl(step * STEP_HOURS * 3600.0)
                bg_u, bg_v = bg.wind(bg_psl)
                psl[i], u[i], v[i] = bg_psl, bg_u, bg_v
                for storm in storms:
                    k = step - storm.first_step
                    if not 0 <= k < len(storm.lat):
                        continue
                    lat_c, lon_c = float(storm.lat[k]), float(storm.lon[k])
                    env = bilinear(bg_psl, lat, lon, lat_c, lon_c)
                    if storm.target_psl is not None:
                        fill_given(storm, k, env, climate)
                    add_vortex(psl[i], u[i], v[i], lat, lon, storm, k)
                    ub = bilinear(bg_u, lat, lon, lat_c, lon_c)
                    vb = bilinear(bg_v, lat, lon, lat_c, lon_c)
                    rows.append((
                        storm.storm_id, storm.basin, all_times[step].strftime("%Y-%m-%dT%H:%M:%S"),
                        round(lat_c, 4), round(lon_c, 4), round(env - float(storm.dp[k]), 1),
                        round(max_gradient_wind(storm, k) + math.hypot(ub, vb), 2),
                    ))  # fmt: skip
                if climate.noise_psl_pa > 0 or climate.noise_wind_ms > 0:
                    rng = stream("noise", step)
                    psl[i] += rng.normal(0.0, climate.noise_psl_pa, shape)
                    u[i] += rng.normal(0.0, climate.noise_wind_ms, shape)
                    v[i] += rng.normal(0.0, climate.noise_wind_ms, shape)
                bar.update(1)
            times = all_times[a:b]
            day_numbers = np.arange(a, b) * STEP_HOURS / 24.0
            ds = cam_dataset(psl, u, v, lat, lon, day_numbers, t0, times, case, provenance)
            first = times[0]
            secs = first.hour * 3600 + first.minute * 60 + first.second
            path = out / f"{case}.cam.h2.{first.strftime('%Y-%m-%d')}-{secs:05d}.nc"
            write_atomic(ds, path, compress=compress)
            files.append(path)
    finally:
        bar.close()

    tracks = write_tracks(rows, out / "tracks.csv")
    ibtracs = (
        write_ibtracs(tracks, out / "tracks_ibtracs.csv") if tracks_format != "project" else None
    )
    meta = {
        "start": str(start), "days": days, "resolution": resolution, "seed": int(seed), "case": case,
        "days_per_file": days_per_file, "climate": climate.to_dict(), "storms_on_given_tracks": given is not None,
        "n_storms": int(tracks.storm_id.nunique()), "files": [p.name for p in files],
    }  # fmt: skip
    tmp = out / f".world.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out / "world.json")
    return SyntheticWorld(
        files=files, tracks=out / "tracks.csv", directory=out, ibtracs=ibtracs, climate=climate
    )

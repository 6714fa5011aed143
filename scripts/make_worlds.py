#!/usr/bin/env python
"""Generate sets of synthetic CAM5-like worlds (training / held-out) from a YAML config.

Usage::

    python scripts/make_worlds.py configs/worlds/train.yaml configs/worlds/heldout.yaml --output /work/worlds

Each config lists worlds (name, seed, days, resolution, climate). ``climate`` is
``default``, ``sample`` (drawn by :meth:`Climate.sample` within the training range, from a
generator seeded by the world's seed, so it is reproducible), or a mapping of knobs
(``sample: true`` in it draws first and then applies the other knobs). A config with
``require_outside_training: true`` (the held-out set) refuses a world whose seed lies in
``training_seeds`` or whose climate lies wholly inside the training range.

Writes ``<output>/<config output>/<world name>/`` (history files, ``tracks.csv``,
``tracks_ibtracs.csv`` when asked, ``world.json``) and ``<output>/<config output>/manifest.json``
(per world: seed, days, resolution, climate, knobs outside the training range and by how much,
storms, seconds, bytes). A world whose ``world.json`` already records the same spec is skipped
(use ``--overwrite`` to redo it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml

from hurricane_ode.data.synthetic import Climate, make_synthetic_world
from hurricane_ode.errors import ConfigError

#: spawn key of the stream a world's sampled climate is drawn from (the world seed is the entropy)
CLIMATE_STREAM = 99
_WORLD_KEYS = {"name", "seed", "days", "resolution", "climate", "start", "days_per_file"}


def world_climate(spec: dict, spread: float) -> Climate:
    """The climate of one world spec (``default``, ``sample`` or a mapping of knobs)."""
    raw = spec.get("climate", "default")
    if raw in (None, "default"):
        return Climate()
    knobs = {"sample": True} if raw == "sample" else dict(raw) if isinstance(raw, dict) else None
    if knobs is None:
        raise ConfigError(
            f"world {spec['name']}: climate must be 'default', 'sample' or a mapping, got {raw!r}"
        )
    if knobs.pop("sample", False):
        rng = np.random.default_rng(
            np.random.SeedSequence(int(spec["seed"]), spawn_key=(CLIMATE_STREAM,))
        )
        base = Climate.sample(rng, spread).scalars() | {"background": "zonal"}
        return Climate.from_scalars(base | knobs)
    return Climate.from_scalars(knobs)


def load_config(path: Path) -> dict:
    """Read and check one worlds config."""
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"worlds config {path}: {exc}") from None
    worlds = cfg.get("worlds")
    if not isinstance(worlds, list) or not worlds:
        raise ConfigError(f"worlds config {path}: 'worlds' must be a non-empty list")
    names = [w.get("name") for w in worlds]
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"worlds config {path}: every world needs a unique 'name', got {names}")
    for w in worlds:
        unknown = sorted(set(w) - _WORLD_KEYS)
        if unknown or "seed" not in w:
            raise ConfigError(
                f"worlds config {path}: world {w.get('name')}: unknown keys {unknown} or no seed"
            )
    return cfg


def check_heldout(cfg: dict, name: str, seed: int, climate: Climate) -> dict:
    """Knobs outside the training range; refuse held-out worlds that are not outside it."""
    outside = climate.outside_training_range()
    if cfg.get("require_outside_training"):
        lo, hi = cfg.get("training_seeds", [0, -1])
        if lo <= seed <= hi:
            raise ConfigError(
                f"held-out world {name}: seed {seed} lies in the training seeds {lo}..{hi}"
            )
        if not outside:
            raise ConfigError(f"held-out world {name}: its climate lies inside the training range")
    return outside


def _bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def make_world(
    cfg: dict, out: Path, spec: dict, overwrite: bool, progress: bool, label: str
) -> dict:
    """Generate one world of a config (or skip it when up to date); return its manifest entry."""
    name, seed = spec["name"], int(spec["seed"])
    climate = world_climate(spec, float(cfg.get("spread", 1.0)))
    outside = check_heldout(cfg, name, seed, climate)
    kw = {
        "start": str(spec.get("start", cfg.get("start", "2005-08-01"))), "days": spec.get("days", 20),
        "resolution": spec.get("resolution", 1.0), "seed": seed,
        "days_per_file": spec.get("days_per_file", cfg.get("days_per_file", 5)),
    }  # fmt: skip
    settings = {**kw, "climate": climate.to_dict(), "compress": bool(cfg.get("compress", True)),
                "tracks_format": cfg.get("tracks_format", "both")}  # fmt: skip
    directory = out / name
    label = f"{label} {cfg.get('output')}/{name}: seed {seed}, {kw['resolution']:g} deg, {kw['days']:g} d"
    meta_path = directory / "world.json"
    if not overwrite and meta_path.exists():
        old = json.loads(meta_path.read_text()).get("make_worlds", {})
        if old.get("settings") == settings:
            print(f"{label}: up to date, skipped", flush=True)
            return dict(old["entry"])
    t0 = time.perf_counter()
    world = make_synthetic_world(
        directory, **kw, climate=climate, progress=progress, compress=settings["compress"],
        tracks_format=settings["tracks_format"],
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    meta = json.loads(meta_path.read_text())
    entry = {
        "name": name, "directory": str(directory), "seed": seed, **kw, "background": climate.background,
        "climate": climate.scalars(), "outside_training_range": outside, "n_storms": meta["n_storms"],
        "files": len(world.files), "seconds": round(seconds, 1), "bytes": _bytes(directory),
    }  # fmt: skip
    meta["make_worlds"] = {"settings": settings, "entry": entry}
    tmp = meta_path.with_name(f".world.json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, meta_path)
    extra = f"; outside training range: {sorted(outside)}" if outside else ""
    print(
        f"{label}: {seconds:.1f} s, {entry['bytes'] / 1e6:.0f} MB, {meta['n_storms']} storms{extra}",
        flush=True,
    )
    return entry


def make_set(
    cfg: dict, root: Path, overwrite: bool, progress: bool, counter: list[int], jobs: int = 1
) -> list[dict]:
    """Generate every world of one config (``jobs`` at a time); return the manifest entries."""
    out = root / cfg.get("output", "worlds")
    out.mkdir(parents=True, exist_ok=True)
    for spec in cfg["worlds"]:  # refuse a bad held-out world before generating any
        check_heldout(cfg, spec["name"], int(spec["seed"]), world_climate(spec, float(cfg.get("spread", 1.0))))
    labels = [f"[{counter[0] + i + 1}/{counter[1]}]" for i in range(len(cfg["worlds"]))]
    counter[0] += len(cfg["worlds"])
    args = [(cfg, out, spec, overwrite, progress, label) for spec, label in zip(cfg["worlds"], labels)]
    if jobs > 1 and len(args) > 1:
        # worlds are seeded by their own specs, so the pool's order changes nothing in them
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            entries = list(pool.map(make_world, *zip(*args)))
    else:
        entries = [make_world(*a) for a in args]
    manifest = {"config": cfg, "worlds": entries}
    tmp = out / f".manifest.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / "manifest.json")
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", type=Path, help="worlds config YAML file(s)")
    parser.add_argument("--output", required=True, type=Path, help="root folder of the world sets")
    parser.add_argument(
        "--overwrite", action="store_true", help="regenerate worlds that are up to date"
    )
    parser.add_argument("--progress", action="store_true", help="a progress bar per world")
    parser.add_argument("--dry-run", action="store_true", help="print the worlds and climates only")
    parser.add_argument(
        "--jobs", type=int, default=1, help="worlds generated at once, one process each (default 1)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    try:
        cfgs = [load_config(p) for p in args.configs]
        if args.dry_run:
            for cfg in cfgs:
                for spec in cfg["worlds"]:
                    c = world_climate(spec, float(cfg.get("spread", 1.0)))
                    outside = check_heldout(cfg, spec["name"], int(spec["seed"]), c)
                    print(spec["name"], spec["seed"], c.background, json.dumps(outside or "inside"))
            return 0
        counter = [0, sum(len(c["worlds"]) for c in cfgs)]
        t0 = time.perf_counter()
        for cfg in cfgs:
            make_set(cfg, args.output, args.overwrite, args.progress, counter, args.jobs)
        print(
            f"done: {counter[1]} world(s) in {time.perf_counter() - t0:.0f} s under {args.output}"
        )
    except ConfigError as exc:
        print(f"make_worlds: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

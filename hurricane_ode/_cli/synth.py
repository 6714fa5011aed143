"""``hurricane-ode synth``: write a synthetic CAM5-like world and its true tracks."""

from __future__ import annotations

import argparse

from hurricane_ode._cli._types import positive_float
from hurricane_ode.outputs import check_output_dir

HELP = "write a synthetic CAM5-like world (U850/V850/PSL history files) and its true tracks"
DESCRIPTION = (
    "Write 3-hourly CAM5-style history files (U850, V850 in m/s; PSL in Pa; noleap calendar) "
    "with moving tropical cyclones in six basins, plus tracks.csv with the true storm tracks. "
    "Same seed, same world; a longer run with the same seed only adds days (prefix-stable)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--start", default="2005-08-01", help="first time stamp, YYYY-MM-DD (noleap calendar)"
    )
    parser.add_argument("--days", type=positive_float, default=30.0, help="length of the run, days")
    parser.add_argument(
        "--resolution", type=positive_float, default=1.0, metavar="DEG",
        help="grid spacing in degrees (must divide 180)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same world)")
    parser.add_argument(
        "--days-per-file",
        type=positive_float,
        default=5.0,
        metavar="N",
        help="days per history file",
    )
    parser.add_argument(
        "--climate", metavar="FILE",
        help="YAML/JSON mapping of Climate knobs (e.g. subtropical_high_hpa: 1024); "
        "default: the standard climate",
    )  # fmt: skip
    parser.add_argument(
        "--background", choices=("zonal", "spectral", "eddies"),  # data.synthetic.BACKGROUNDS
        help="background generator (overrides the climate file's)",
    )  # fmt: skip
    parser.add_argument(
        "--storm-tracks", metavar="CSV",
        help="put the storms on these tracks (tracks.csv or IBTrACS-style CSV) instead of drawing them",
    )  # fmt: skip
    parser.add_argument(
        "--tracks-format", choices=("project", "ibtracs", "both"), default="project",
        help="'ibtracs'/'both' also write tracks_ibtracs.csv (IBTrACS CSV layout)",
    )  # fmt: skip
    parser.add_argument("--compress", action="store_true", help="zlib-compress the history files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def load_climate(path: str | None, background: str | None = None):
    """The Climate from a YAML/JSON file of knobs (None: defaults), ``background`` overriding.

    Parameters
    ----------
    path: file with a mapping of :class:`Climate` field names, or None.
    background: ``zonal`` / ``spectral`` / ``eddies`` or None.

    Returns
    -------
    Climate
    """
    from pathlib import Path

    from hurricane_ode._yaml import read_yaml
    from hurricane_ode.data.synthetic import Climate
    from hurricane_ode.errors import ConfigError, InputError

    values: dict = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"--climate file {p} does not exist")
        values = read_yaml(p, "--climate file")
        if not isinstance(values, dict):
            raise ConfigError(f"--climate file {p} must hold a mapping of Climate knobs")
        values = values.get("climate", values)
    if background:
        values = {**values, "background": background}
    return Climate.from_scalars(values) if values else Climate()


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.data.synthetic import make_synthetic_world

    check_output_dir(args.output)  # a regular file or unwritable directory: one clear line
    world = make_synthetic_world(
        args.output,
        start=args.start,
        days=args.days,
        resolution=args.resolution,
        seed=args.seed,
        days_per_file=args.days_per_file,
        progress=not args.quiet,
        climate=load_climate(args.climate, args.background),
        storm_tracks=args.storm_tracks,
        tracks_format=args.tracks_format,
        compress=args.compress,
    )
    print(f"wrote {len(world.files)} history file(s) to {world.directory}")
    print(f"  first: {world.files[0].name}")
    print(f"  last:  {world.files[-1].name}")
    print(f"true tracks: {world.tracks}")
    if world.ibtracs is not None:
        print(f"IBTrACS-style tracks: {world.ibtracs}")
    return 0

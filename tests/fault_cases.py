"""Bad-input and fault cases for the ``hurricane-ode`` command line, shared by
``tests/test_faults.py`` (which asserts them) and ``scripts/bad_inputs_table.py`` (which runs
the real CLI on each and prints the table in docs/bad_inputs.md).

A case builds its own pre-existing state in a fresh directory and returns the arguments;
the runner checks the exit status, that stderr is one line matching ``expect``, and (for
failures) that nothing in the case's directory was created, deleted or changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import hurricane_ode


@dataclass(frozen=True)
class Env:
    """Shared inputs: CAM5 history files, a natl tile store on the shipped model's grid and its checkpoint."""

    files: list[Path]
    store: Path
    checkpoint: Path


@dataclass(frozen=True)
class Case:
    """One bad input: ``build(env, d)`` makes the state in directory ``d``, returns argv."""

    name: str
    build: Callable[[Env, Path], list[str]]
    expect: str  # regex for the one-line message
    code: int = 2
    hold_lock: str | None = None  # output (relative to d) locked by another process meanwhile
    untouched: bool = True  # the case directory must be byte-identical afterwards
    pending: str | None = None  # module that still raises a builtin instead of HurricaneODEError


def make_env(root: Path, files: list[Path] | None = None) -> Env:
    """Build the shared inputs under ``root`` (a small synthetic world unless ``files`` given)."""
    from hurricane_ode.data.store import prepare_tiles

    if files is None:
        from hurricane_ode.data.synthetic import make_synthetic_world

        world = make_synthetic_world(
            root / "world", days=4, resolution=2.0, seed=0, days_per_file=2, progress=False
        )
        files = list(world.files)
    checkpoint = Path(hurricane_ode.__file__).parent / "resources" / "demo_model.pt"
    from hurricane_ode.forecasting import load_forecaster
    from hurricane_ode.forecasting.inputs import model_grid

    shape = model_grid(load_forecaster(checkpoint), "natl")  # the shipped model's grid
    store = prepare_tiles(
        files, ["natl"], shape, root / "tiles.zarr", progress=False, scheduler="sync"
    )
    return Env(files=list(files), store=Path(store), checkpoint=checkpoint)


def forecast_args(
    env: Env,
    output: Path | str,
    *extra: str,
    times: str = "2005-08-03T03",
    basin: str = "natl",
    inputs: Path | None = None,
    checkpoint: Path | None = None,
) -> list[str]:
    return ["forecast", "--basin", basin, "--times", times, "--input", str(inputs or env.store),
            "--checkpoint", str(checkpoint or env.checkpoint), "--output", str(output), "--quiet",
            *extra]  # fmt: skip


def prepare_args(
    env: Env, output: Path | str, *extra: str, inputs: list | None = None
) -> list[str]:
    inputs = [str(p) for p in (inputs if inputs is not None else env.files[:1])]
    return ["prepare", "--input", *inputs, "--output", str(output), "--quiet", *extra]


def _user_folder(d: Path, name: str) -> Path:
    (d / name / "sub").mkdir(parents=True)
    (d / name / "sub" / "data.txt").write_text("precious\n")
    return d / name


def _foreign_netcdf(path: Path) -> Path:
    import netCDF4

    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("x", 3)
        nc.createVariable("T", "f4", ("x",))[:] = [1, 2, 3]
        nc.title = "somebody else's data"
    return path


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _own_output(path: Path) -> Path:
    """A small NetCDF file written by hurricane_ode (so ``--overwrite`` may replace it)."""
    import numpy as np
    import xarray as xr

    from hurricane_ode.io import write_dataset

    return write_dataset(xr.Dataset({"PSL": ("x", np.arange(3.0))}), path)


def _afile(d: Path) -> Path:
    return _write(d / "afile", "a regular file\n")


def _proc(name: str) -> Path:
    return Path("/proc") / name


CASES: list[Case] = [
    # ----------------------------------------------------------- outputs (issue 12, items 1, 3, 4)
    Case("forecast --overwrite onto a user's folder",
         lambda e, d: forecast_args(e, _user_folder(d, "out.nc"), "--overwrite"),
         r"output \S*out\.nc exists and was not written by hurricane_ode \(a directory that is not a Zarr store\); refusing to replace it"),
    Case("prepare --overwrite onto a user's folder",
         lambda e, d: prepare_args(e, _user_folder(d, "victim.zarr"), "--overwrite"),
         r"output \S*victim\.zarr exists and was not written by hurricane_ode \(a directory that is not a Zarr store\)"),
    Case("prepare (no --overwrite) onto a user's folder",
         lambda e, d: prepare_args(e, _user_folder(d, "victim.zarr")),
         r"victim\.zarr exists and was not written by hurricane_ode"),
    Case("prepare when <output>.tmp is a user's folder",
         lambda e, d: (_user_folder(d, "t.zarr.tmp"), prepare_args(e, d / "t.zarr", "--overwrite"))[1],
         r"t\.zarr\.tmp holds files hurricane_ode did not write \(sub\); refusing to use or delete it"),
    Case("forecast --overwrite onto a foreign NetCDF file",
         lambda e, d: forecast_args(e, _foreign_netcdf(d / "out.nc"), "--overwrite"),
         r"out\.nc exists and was not written by hurricane_ode \(a NetCDF file without the 'hurricane_ode_version' attribute\)"),
    Case("forecast --overwrite onto a text file",
         lambda e, d: forecast_args(e, _write(d / "out.nc", "precious\n"), "--overwrite"),
         r"out\.nc exists and was not written by hurricane_ode \(not a NetCDF file\)"),
    Case("forecast onto an existing output, no --overwrite",
         lambda e, d: forecast_args(e, _write(d / "out.nc", "precious\n")),
         r"output \S*out\.nc already exists and was not written by hurricane_ode; move it away"),
    Case("forecast onto its own earlier output, no --overwrite",
         lambda e, d: forecast_args(e, _own_output(d / "out.nc")),
         r"output \S*out\.nc already exists; pass overwrite=True \(CLI: --overwrite\)"),
    Case("forecast into /proc",
         lambda e, d: forecast_args(e, _proc("f.nc")),
         r"/proc/f\.nc: directory /proc (does not accept new files|is not writable)"),
    Case("prepare into /proc",
         lambda e, d: prepare_args(e, _proc("t.zarr")),
         r"/proc/t\.zarr: directory /proc (does not accept new files|is not writable)"),
    Case("forecast output under a regular file",
         lambda e, d: forecast_args(e, _afile(d) / "out.nc"),
         r"not a directory: \S*afile/out\.nc is under a regular file \(\S*afile\)"),
    Case("prepare output under a regular file",
         lambda e, d: prepare_args(e, _afile(d) / "sub" / "t.zarr"),
         r"not a directory: \S*afile/sub/t\.zarr is under a regular file \(\S*afile\)"),
    Case("forecast output in a missing directory",
         lambda e, d: forecast_args(e, d / "missing" / "out.nc"),
         r"output \S*missing/out\.nc: directory \S*missing does not exist"),
    Case("forecast output with an unknown extension",
         lambda e, d: forecast_args(e, d / "out.csv"),
         r"unknown format '\.csv'; expected one of \.nc, \.nc4, \.netcdf, \.zarr"),
    Case("forecast while another process writes the same output",
         lambda e, d: forecast_args(e, d / "out.nc"),
         r"output \S*out\.nc is being written by process \d+", hold_lock="out.nc"),
    Case("prepare while another process writes the same store",
         lambda e, d: prepare_args(e, d / "t.zarr"),
         r"output \S*t\.zarr is being written by process \d+", hold_lock="t.zarr"),
    Case("demo --output is a regular file",
         lambda e, d: ["demo", "--output", str(_afile(d)), "--checkpoint", str(e.checkpoint), "--quiet"],
         r"output directory \S*afile is a regular file; expected a directory"),
    Case("synth --output is a regular file",
         lambda e, d: ["synth", "--output", str(_afile(d)), "--days", "1", "--quiet"],
         r"output directory \S*afile is a regular file; expected a directory"),
    # ----------------------------------------------------------- arguments
    Case("synth --days -1",
         lambda e, d: ["synth", "--output", str(d / "w"), "--days", "-1"],
         r"argument --days: expected a positive number, got '-1' \(see hurricane-ode synth --help\)"),
    Case("evaluate --steps 0",
         lambda e, d: ["evaluate", "--steps", "0", "--output-dir", str(d / "o")],
         r"argument --steps: expected a positive integer, got '0'"),
    Case("evaluate --models nope",
         lambda e, d: ["evaluate", "--models", "nope", "--output-dir", str(d / "o"), "--quiet"],
         r"--models: unknown model\(s\) \['nope'\]; available: "),
    Case("forecast --input: a missing tile store",
         lambda e, d: forecast_args(e, d / "out.nc", inputs=d / "nope.zarr"),
         r"tile store not found: \S*nope\.zarr"),
    Case("prepare --input: a missing file",
         lambda e, d: prepare_args(e, d / "t.zarr", inputs=[d / "nope.nc"]),
         r"nope\.nc"),
    # ----------------------------------------------------------- reader and argument errors
    #     raised by other modules (they pass once those raise hurricane_ode.errors classes)
    Case("prepare --input: a NetCDF file without U850/V850/PSL",
         lambda e, d: prepare_args(e, d / "t.zarr", inputs=[_foreign_netcdf(d / "ccm.nc")]),
         r"ccm\.nc: (no 'lat' coordinate|.*U850)"),
    Case("prepare --input: an empty file",
         lambda e, d: prepare_args(e, d / "t.zarr", inputs=[_write(d / "empty.nc", b"")]),
         r"empty\.nc"),
    Case("prepare --input: a truncated history file",
         lambda e, d: prepare_args(e, d / "t.zarr", inputs=[_write(d / "cut.nc", e.files[0].read_bytes()[:4096])]),
         r"cut\.nc"),
    Case("forecast --basin atlantis",
         lambda e, d: forecast_args(e, d / "out.nc", basin="atlantis"),
         r"unknown basin 'atlantis'"),
    Case("forecast --times 2005-02-29T00 (noleap)",
         lambda e, d: forecast_args(e, d / "out.nc", times="2005-02-29T00"),
         r"time '2005-02-29T00' does not exist in the 'noleap' calendar"),
    Case("forecast --times tomorrow",
         lambda e, d: forecast_args(e, d / "out.nc", times="tomorrow"),
         r"time 'tomorrow' is not an ISO time"),
    Case("forecast --checkpoint: a text file",
         lambda e, d: forecast_args(e, d / "out.nc", checkpoint=_write(d / "text.pt", "hello\n")),
         r"text\.pt is not a readable hurricane_ode checkpoint"),
    Case("train --set train.nope=1",
         lambda e, d: ["train", "--set", "train.nope=1", "--output-dir", str(d / "run")],
         r"--set train\.nope: unknown key 'nope'"),
    Case("train --set train.lr=-1",
         lambda e, d: ["train", "--path", str(e.store), "--set", "train.lr=-1", "--max-steps", "1",
                       "--output-dir", str(d / "run"), "--quiet"],
         r"train\.lr"),
    Case("train --resume with --resume-from",
         lambda e, d: ["train", "--resume", "--resume-from", str(e.checkpoint), "--output-dir", str(d / "run")],
         r"--resume and --resume-from exclude each other"),
    Case("train --resume-from: no such checkpoint",
         lambda e, d: ["train", "--resume-from", str(d / "missing.pt"), "--output-dir", str(d / "run")],
         r"--resume-from: no checkpoint at .*missing\.pt"),
]  # fmt: skip


def snapshot(d: Path) -> dict[str, str]:
    """Relative path -> sha256 (or 'dir') of everything under ``d``."""
    out = {}
    for p in sorted(d.rglob("*")):
        rel = str(p.relative_to(d))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


HOLDER = (
    "import sys\n"
    "from hurricane_ode.locking import output_lock\n"
    "with output_lock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    sys.stdin.read()\n"
)


def hold_lock(output: Path) -> subprocess.Popen:
    """Start a process that holds the output lock of ``output`` until its stdin is closed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(hurricane_ode.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(output)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def release(proc: subprocess.Popen) -> None:
    """Let a :func:`hold_lock` process finish."""
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)

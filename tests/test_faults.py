"""Fault injection (issue 12): every bad input or fault is refused with one line naming the
path, argument or key and what was expected, with exit status 2, and leaves what was there
untouched. The cases live in ``tests/fault_cases.py`` (also the source of docs/bad_inputs.md).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fault_cases import CASES, forecast_args, hold_lock, make_env, prepare_args, release, snapshot

import hurricane_ode
from hurricane_ode.cli import main
from hurricane_ode.io import OWNER_ATTR, open_dataset


@pytest.fixture(scope="module")
def env(demo_world, tmp_path_factory):
    return make_env(tmp_path_factory.mktemp("faults"), files=demo_world.files)


def _main(argv: list[str]) -> int:
    """The CLI's exit status, whether returned or raised by argparse (SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clear_line_and_touches_nothing(case, env, tmp_path, capsys, request):
    if case.pending:  # passes once that module raises a hurricane_ode.errors class
        request.applymarker(pytest.mark.xfail(raises=(ValueError, KeyError, TypeError),
                                              reason=f"{case.pending} raises a builtin"))  # fmt: skip
    argv = [str(a) for a in case.build(env, tmp_path)]
    if any(a.startswith("/proc/") for a in argv) and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    holder = hold_lock(tmp_path / case.hold_lock) if case.hold_lock else None
    try:
        before = snapshot(tmp_path)
        code = _main(argv)
        err = capsys.readouterr().err
        after = snapshot(tmp_path)
    finally:
        if holder is not None:
            release(holder)
    assert code == case.code, err
    assert err.startswith(f"hurricane-ode {argv[0]}: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(case.expect, err), err
    if case.untouched:
        assert after == before


def test_lock_holder_pid_is_named(env, tmp_path, capsys):
    holder = hold_lock(tmp_path / "out.nc")
    try:
        assert main(forecast_args(env, tmp_path / "out.nc")) == 2
        assert f"is being written by process {holder.pid} " in capsys.readouterr().err
    finally:
        release(holder)
    assert main(forecast_args(env, tmp_path / "out.nc")) == 0  # free again once released
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]  # no lock file left


def test_overwrite_replaces_our_own_outputs(env, tmp_path, capsys):
    nc, store = tmp_path / "out.nc", tmp_path / "t.zarr"
    assert main(forecast_args(env, nc)) == 0
    assert main(forecast_args(env, nc, "--overwrite", times="2005-08-03T03/2005-08-03T09/3h")) == 0
    back = open_dataset(nc)
    assert back.sizes["time"] == 3 and back.attrs[OWNER_ATTR] == hurricane_ode.__version__
    assert main(prepare_args(env, store)) == 0
    assert main(prepare_args(env, store, "--overwrite", "--shape", "8", "16")) == 0
    assert "natl: 16 times x 8 x 16" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "t.zarr"]


_KILLED_WRITE = """
import os, signal, sys
import hurricane_ode.io as hio
from hurricane_ode.cli import main

def dies_mid_write(ds, tmp):
    tmp.write_bytes(b"half a NetCDF file" * 100_000)  # 1.8 MB under the temporary name ...
    os.kill(os.getpid(), signal.SIGKILL)  # ... and the process is killed

hio.WRITERS[".nc"] = dies_mid_write
main(sys.argv[1:])
"""


def test_killed_write_leaves_a_temporary_that_the_next_run_cleans(env, tmp_path, capsys, caplog):
    out = tmp_path / "out.nc"
    pythonpath = os.pathsep.join(
        [str(Path(hurricane_ode.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    )
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITE, *forecast_args(env, out)],
                          env={**os.environ, "PYTHONPATH": pythonpath}, capture_output=True, timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    stale = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.nc.tmp-")]
    assert len(stale) == 1 and not out.exists()
    with caplog.at_level("WARNING", logger="hurricane_ode.outputs"):
        assert main(forecast_args(env, out)) == 0
    assert f"removed {stale[0]}, left by an interrupted write of {out}" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]  # temporary and lock gone
    assert open_dataset(out).sizes["time"] == 1


def test_user_folder_survives_overwrite_of_forecast_and_prepare(env, tmp_path, capsys):
    """Issue 12 item 1, verbatim: `mkdir -p out.nc/sub && echo precious > out.nc/sub/data.txt`."""
    for name, argv in (("out.nc", forecast_args), ("victim.zarr", prepare_args)):
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "sub" / "data.txt").write_text("precious\n")
        assert main(argv(env, tmp_path / name, "--overwrite")) == 2
        assert "was not written by hurricane_ode" in capsys.readouterr().err
        assert (tmp_path / name / "sub" / "data.txt").read_text() == "precious\n"

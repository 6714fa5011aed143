"""How the command line reports errors: exactly HurricaneODEError and OSError are one line
(exit 2); anything else is a bug and keeps its traceback."""

from __future__ import annotations

import errno
import subprocess
import sys

import pytest

from hurricane_ode._cli import synth
from hurricane_ode.cli import describe_error, main
from hurricane_ode.errors import ConfigError, OutputLockedError


def test_os_errors_read_strerror_colon_path(tmp_path):
    assert describe_error(PermissionError(errno.EACCES, "Permission denied", "/proc/f.nc")) == (
        "Permission denied: /proc/f.nc"
    )
    assert describe_error(OSError(errno.EXDEV, "Invalid cross-device link", "a", None, "b")) == (
        "Invalid cross-device link: a -> b"
    )
    assert describe_error(OSError(errno.EIO, "Input/output error")) == "Input/output error"
    (tmp_path / "file.nc").write_text("x")
    under = tmp_path / "file.nc" / "out.nc"
    assert describe_error(NotADirectoryError(errno.ENOTDIR, "Not a directory", str(under))) == (
        f"not a directory: {under} is under a regular file ({tmp_path / 'file.nc'})"
    )
    # an OSError raised with a message (no errno) is printed as its message
    assert (
        describe_error(FileNotFoundError("tile store not found: x.zarr"))
        == "tile store not found: x.zarr"
    )


def test_messages_are_one_line():
    assert describe_error(ConfigError("train.lr: expected a number > 0,\n  got -1")) == (
        "train.lr: expected a number > 0,; got -1"
    )
    assert describe_error(OutputLockedError("")) == "OutputLockedError"


def _boom(exc):
    def run(args):
        raise exc

    return run


def test_cli_reports_hurricane_ode_and_os_errors_as_one_line(monkeypatch, tmp_path, capsys):
    args = ["synth", "--output", str(tmp_path / "w")]
    monkeypatch.setattr(synth, "run", _boom(ConfigError("data.basin: unknown basin 'x'")))
    assert main(args) == 2
    assert capsys.readouterr().err == "hurricane-ode synth: error: data.basin: unknown basin 'x'\n"
    monkeypatch.setattr(
        synth, "run", _boom(PermissionError(errno.EACCES, "Permission denied", "/root/x.nc"))
    )
    assert main(args) == 2
    assert capsys.readouterr().err == "hurricane-ode synth: error: Permission denied: /root/x.nc\n"
    monkeypatch.setattr(synth, "run", _boom(KeyboardInterrupt()))
    assert main(args) == 130
    assert capsys.readouterr().err == "hurricane-ode synth: interrupted\n"


@pytest.mark.parametrize(
    "exc", [ValueError("a bug"), KeyError("k"), TypeError("t"), ZeroDivisionError()]
)
def test_anything_else_is_a_bug_and_keeps_its_traceback(monkeypatch, tmp_path, exc):
    monkeypatch.setattr(synth, "run", _boom(exc))
    with pytest.raises(type(exc)):
        main(["synth", "--output", str(tmp_path / "w")])


def test_verbose_shows_the_traceback_of_user_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(synth, "run", _boom(ConfigError("train.lr: expected a number > 0")))
    with pytest.raises(ConfigError):
        main(["-vv", "synth", "--output", str(tmp_path / "w")])


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["forecast", "--basin", "natl"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the following arguments are required: --output" in err
    assert err.endswith("(see hurricane-ode forecast --help)\n")


def test_a_bug_exits_1_with_a_traceback_in_a_real_process(tmp_path):
    code = (
        "import sys\nfrom hurricane_ode._cli import synth\nfrom hurricane_ode.cli import main\n"
        "def run(args):\n    return 1 / 0\nsynth.run = run\nsys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "synth", "--output", str(tmp_path / "w")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr

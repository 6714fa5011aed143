"""Metric curves (sampling rate, lead time) and the ``plot curves`` CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib", reason="matplotlib not installed (the 'plot' extra)")
Image = pytest.importorskip("PIL.Image", reason="Pillow (a matplotlib dependency) not installed")

from matplotlib.figure import Figure  # noqa: E402

from hurricane_ode.plotting.curves import plot_error_vs_lead, plot_sampling_rate_curves  # noqa: E402


def _table() -> pd.DataFrame:
    rows = []
    for k, model in enumerate(["vid_ode", "convgru_dt", "persistence"]):
        for rate in (0.2, 0.4, 0.6, 0.8):
            for seed in (0, 1):
                rows.append({"model": model, "sampling_rate": rate, "seed": seed,
                             "mse": 1.0 + k - rate + 0.01 * seed, "lpips": 0.1 * (k + 1) - 0.05 * rate})
    return pd.DataFrame(rows)


def _size(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_sampling_rate_curves_from_dataframe_and_csv(tmp_path):
    out = tmp_path / "fig6.png"
    assert isinstance(plot_sampling_rate_curves(_table(), out), Figure)
    w, h = _size(out)
    assert 900 < w < 2000 and 350 < h < 900  # two panels side by side
    csv = tmp_path / "results.csv"
    _table().to_csv(csv, index=False)
    out1 = tmp_path / "fig6_mse.png"
    plot_sampling_rate_curves(csv, out1, metrics=["mse"])
    assert _size(out1)[0] < w  # one panel is narrower than two


def test_curves_without_path_only_return_the_figure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = plot_sampling_rate_curves(_table(), metrics=["mse"])
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert list(tmp_path.iterdir()) == []


def test_sampling_rate_curves_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"lacks columns \['lpips'\]"):
        plot_sampling_rate_curves(_table().drop(columns="lpips"), tmp_path / "x.png")
    with pytest.raises(ValueError, match="sampling_rate must be"):
        plot_sampling_rate_curves(_table().assign(sampling_rate=-1.0), tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="results table not found"):
        plot_sampling_rate_curves(tmp_path / "missing.csv", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_error_vs_lead(tmp_path):
    leads = np.arange(3, 25, 3.0)
    df = pd.DataFrame([{"model": m, "lead_time_h": h, "track_error_km": 20 * h * (i + 1)}
                       for i, m in enumerate(["vid_ode", "advection"]) for h in leads])
    out = tmp_path / "lead.png"
    assert isinstance(plot_error_vs_lead(df, out, metric="track_error_km"), Figure)
    w, h = _size(out)
    assert 500 < w < 1200 and 350 < h < 900
    with pytest.raises(ValueError, match="mse"):
        plot_error_vs_lead(df, tmp_path / "x.png", metric="mse")


def test_cli_plot_curves(tmp_path, capsys):
    from hurricane_ode.cli import main

    csv = tmp_path / "results.csv"
    _table().to_csv(csv, index=False)
    out = tmp_path / "cli.png"
    assert main(["plot", "curves", "--table", str(csv), "--output", str(out)]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    rc = main(["plot", "curves", "--table", str(csv), "--metrics", "ssim", "--output", str(out)])
    assert rc == 2 and "ssim" in capsys.readouterr().err

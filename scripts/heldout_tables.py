"""Markdown tables of a held-out evaluation made by scripts/evaluate_heldout.sh.

    python scripts/heldout_tables.py build/eval/<world> [--world build/worlds/heldout/<world>]

Reads ``scores_<model>/scores.csv`` (whole basin; ``truth`` is the tracker run on the true
fields themselves, the reference for POD), ``scores_<model>/track_follow.csv`` (every storm
followed from its initial fix) and ``scores600_<model>/scores.csv``
(cells within 600 km of a best-track fix) for every model present, the truth's storms each
forecast misses at +24 h by cause (``track_matches.csv``; hurricane_ode.verification.misses), how
many of each model's avoidable misses ``advection_lk`` shares, the fraction of the truth's hits a
forecast without genesis or deepening from below detection could keep, and, with the world's files, the depth (ring mean minus centre, 300-600 km ring) of the strongest storm at +24 h
in the forecasts against the truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.errors import InputError
from hurricane_ode.verification.misses import (
    FIXABLE_CAUSES,
    MISS_CAUSES,
    count_misses,
    reachable_fraction,
    read_track_scores,
    shared_misses,
)
from hurricane_ode.verification.significance import compare_scores, verdict

BASELINES = ("persistence", "advection", "advection_lk", "truth")


def models_in(eval_dir: Path) -> list[str]:
    """Models scored in ``eval_dir`` (``scores_<model>/``): checkpoints first, then the baselines."""
    found = sorted(p.name[len("scores_"):] for p in eval_dir.glob("scores_*") if p.is_dir())
    return [m for m in found if m not in BASELINES] + [m for m in BASELINES if m in found]
LEADS = (3, 6, 12, 24, 36, 48)
VARS = ("U850", "V850", "PSL")


def _table(title: str, rows: dict[str, list[str]], leads: tuple[int, ...]) -> str:
    out = [f"\n**{title}**\n", "| model | " + " | ".join(f"{L} h" for L in leads) + " |",
           "|---|" + "---|" * len(leads)]
    out += [f"| {m} | " + " | ".join(cells) + " |" for m, cells in rows.items()]
    return "\n".join(out)


def _at(df: pd.DataFrame, col: str, lead: int) -> float:
    hit = df[np.isclose(df["lead_time_h"], lead)]
    return float(hit[col].iloc[0]) if len(hit) and col in hit else float("nan")


def _fmt(x: float, f: str) -> str:
    return "-" if not np.isfinite(x) else format(x, f)


def _key(t: object) -> str:
    """``YYYY-MM-DD HH`` of a cftime, datetime64 or ISO string (calendar-free matching key)."""
    return str(t).replace("T", " ")[:13]


def _depth(psl: np.ndarray, core: np.ndarray, ring: np.ndarray) -> float:
    """Ring-mean PSL minus the core minimum (Pa)."""
    return float(psl[ring].mean() - psl[core].min())


def depth_retention(eval_dir: Path, world: Path, lead_h: float = 24.0, models: list[str] | None = None) -> dict[str, float]:
    """Median over inits of forecast depth / true depth of the strongest storm at ``lead_h``."""
    from hurricane_ode.forecasting.inputs import open_basin_fields
    from hurricane_ode.verification.geometry import great_circle_km

    tracks = pd.read_csv(world / "tracks.csv")
    out: dict[str, float] = {}
    truth = None
    for m in models if models is not None else models_in(eval_dir):
        path = eval_dir / f"{m}.nc"
        if not path.exists():
            continue
        hc = xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
        if truth is None:
            truth = open_basin_fields(str(world), hc.attrs["basin"], list(VARS),
                                      (hc.sizes["lat"], hc.sizes["lon"])).load()
        lat, lon = hc["lat"].values, hc["lon"].values
        glat, glon = np.meshgrid(lat, lon, indexing="ij")
        li = int(np.argmin(np.abs(hc["lead_time"].values.astype("timedelta64[h]").astype(float) - lead_h)))
        ratios = []
        tkeys = {_key(t): k for k, t in enumerate(truth["time"].values)}
        track_keys = tracks["time"].map(_key)
        for i in range(hc.sizes["init_time"]):
            vt = hc["valid_time"].values[i, li]
            key = _key(vt)
            if key not in tkeys:
                continue
            tr = tracks[track_keys == key]
            tlon = np.mod(tr["lon"].values - lon[0], 360) + lon[0]
            inside = (tr["lat"].values > lat[0] + 6) & (tr["lat"].values < lat[-1] - 6) & (tlon > lon[0] + 6) & (tlon < lon[-1] - 6)
            tr, tlon = tr[inside], tlon[inside]
            if tr.empty:
                continue
            s = int(np.argmin(tr["min_psl_pa"].values))
            d = great_circle_km(float(tr["lat"].values[s]), float(tlon[s]), glat, glon)
            core, ring = d <= 300, (d >= 300) & (d <= 600)
            true_d = _depth(truth["PSL"].values[tkeys[key]], core, ring)
            if true_d > 100:
                ratios.append(_depth(hc["PSL"].values[i, li], core, ring) / true_d)
        out[m] = float(np.median(ratios)) if ratios else float("nan")
    return out


def followed_errors(follow: dict[str, pd.DataFrame], leads: tuple[int, ...]) -> tuple[dict[str, list[str]], list[int]]:
    """Mean track error (km) of the storms every forecast (``truth`` aside) kept, per lead, with
    best-track persistence and XTRP on the same cases (a homogeneous sample); and the case counts."""
    key = ["storm", "init_time", "lead_time_h"]
    kept = {m: f[f["followed"].astype(bool) & np.isfinite(f["true_lat"])].set_index(key) for m, f in follow.items()}
    rows: dict[str, list[str]] = {m: [] for m in kept}
    rows["best-track persistence"], rows["best-track XTRP (past 12 h motion)"] = [], []
    counts = []
    models = [m for m in kept if m != "truth"]
    for L in leads:
        common = None
        for m in models:
            idx = kept[m].index[np.isclose(kept[m].index.get_level_values("lead_time_h"), L)]
            common = idx if common is None else common.intersection(idx)
        common = common if common is not None else pd.Index([])
        if "truth" in kept:
            common = common.intersection(kept["truth"].index)
        counts.append(len(common))
        for m in kept:
            rows[m].append(_fmt(kept[m].loc[common, "track_error_km"].mean() if len(common) else np.nan, ".0f"))
        ref = kept[models[0]].loc[common] if models and len(common) else None
        for name, col in (("best-track persistence", "persistence_km"), ("best-track XTRP (past 12 h motion)", "xtrp_km")):
            rows[name].append(_fmt(ref[col].mean() if ref is not None else np.nan, ".0f"))
    return rows, counts


def pod_ratios(whole: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Each model's POD over the truth's, by lead, and the ceiling of a forecast that predicts no genesis.

    The ceiling keeps every storm present at the initial time as often as the tracker finds it in the
    true fields, and none born later: ``pod_init * n_true_init / n_true`` of the truth, over its POD.
    """
    truth = whole["truth"]
    rows = {m: [_fmt(_at(t, "pod", L) / _at(truth, "pod", L), ".2f") for L in LEADS] for m, t in whole.items()
            if m != "truth"}
    rows["ceiling without genesis"] = [
        _fmt(_at(truth, "pod_init", L) * _at(truth, "n_true_init", L) / _at(truth, "n_true", L)
             / _at(truth, "pod", L), ".2f") for L in LEADS]
    return rows


def miss_rows(eval_dir: Path, models: list[str], lead_h: float = 24.0) -> dict[str, list[str]]:
    """``{model: [truth hits, misses by cause..., hits the truth missed]}`` at ``lead_h``, for every
    model with ``track_matches.csv`` and ``track_follow.csv`` (the truth's own matches are the reference)."""
    ref = eval_dir / "scores_truth" / "track_matches.csv"
    if not ref.exists():
        return {}
    truth = pd.read_csv(ref)
    rows = {}
    for m in models:
        d = eval_dir / f"scores_{m}"
        if m == "truth" or not (d / "track_matches.csv").exists() or not (d / "track_follow.csv").exists():
            continue
        c = count_misses(truth, pd.read_csv(d / "track_matches.csv"), pd.read_csv(d / "track_follow.csv"), lead_h)
        rows[m] = [str(v) for v in c.values()]
    return rows


def shared_rows(eval_dir: Path, models: list[str], reference: str = "advection_lk",
                lead_h: float = 24.0) -> dict[str, tuple[int, int]]:
    """``{model: (avoidable misses, of them missed by the reference too)}`` at ``lead_h``.

    Avoidable: the causes in ``FIXABLE_CAUSES`` (the storm was detectable at the start). Empty
    without the truth's or the reference's score files.
    """
    def files(m: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        try:
            matches, follow = read_track_scores(eval_dir / f"scores_{m}")
        except InputError:
            return None
        return (matches, follow) if follow is not None else None

    ref = eval_dir / "scores_truth" / "track_matches.csv"
    if not ref.exists() or files(reference) is None:
        return {}
    forecasts = {m: f for m in models if m not in ("truth", reference) and (f := files(m)) is not None}
    table = shared_misses(pd.read_csv(ref), {**forecasts, reference: files(reference)}, lead_h)
    out = {}
    for m in forecasts:
        mine = table[m].isin(FIXABLE_CAUSES)
        out[m] = (int(mine.sum()), int((mine & table[reference].notna()).sum()))
    return out


MISS_HEADER = ("truth hits",) + MISS_CAUSES + ("hits the truth missed",)


VERDICT = {"a": "better", "b": "worse", "tie": "tie", "n/a": "-"}


def significance_rows(eval_dir: Path, models: list[str], baselines: tuple[str, ...] = ("persistence", "advection",
                      "advection_lk"), confidence: float = 0.9) -> dict[str, list[str]]:
    """Each checkpoint against each baseline, on NMSE (whole basin) and PSL MSE within 600 km: the
    Diebold-Mariano verdict at every lead of LEADS ("better", "worse", or "tie" where the interval on
    the mean difference holds zero; hurricane_ode.verification.significance)."""
    rows: dict[str, list[str]] = {}
    for m in (m for m in models if m not in BASELINES):
        for b in (b for b in baselines if b in models):
            for label, prefix, loss in (("NMSE", "scores", "nmse"), ("PSL 600 km", "scores600", "mse")):
                a_dir, b_dir = eval_dir / f"{prefix}_{m}", eval_dir / f"{prefix}_{b}"
                if not (a_dir / "scores.nc").exists() or not (b_dir / "scores.nc").exists():
                    continue
                t = compare_scores(a_dir, b_dir, loss, "PSL", confidence=confidence)
                rows[f"{m} vs {b}, {label}"] = [VERDICT[verdict(t.loc[L])] if L in t.index else "-" for L in LEADS]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("eval_dir", type=Path)
    p.add_argument("--world", type=Path, default=None, help="world folder (default: build/worlds/heldout/<name>)")
    p.add_argument("--models", nargs="+", default=None,
                   help="tabulate only these (default: every scores_<model>/ present); the followed-track "
                        "table's homogeneous sample is taken over these")
    args = p.parse_args()
    d = args.eval_dir
    world = args.world or Path("build/worlds/heldout") / d.name
    models = [m for m in models_in(d) if args.models is None or m in args.models]
    whole = {m: pd.read_csv(d / f"scores_{m}" / "scores.csv") for m in models}
    near = {m: pd.read_csv(d / f"scores600_{m}" / "scores.csv") for m in models if (d / f"scores600_{m}").exists()}
    print(f"### {d.name}")
    nm = {m: [_fmt(np.mean([_at(t, f"nmse_{v}", L) for v in VARS]), ".4f") for L in LEADS] for m, t in whole.items()}
    print(_table("normalised MSE (mean of U850, V850, PSL)", nm, LEADS))
    ps = {m: [_fmt(_at(t, "rmse_PSL", L) / 100, ".2f") for L in LEADS] for m, t in whole.items()}
    print(_table("PSL RMSE, hPa, whole basin", ps, LEADS))
    ps6 = {m: [_fmt(_at(t, "rmse_PSL", L) / 100, ".2f") for L in LEADS] for m, t in near.items()}
    print(_table("PSL RMSE, hPa, within 600 km of a storm", ps6, LEADS))
    for col, title, f in (("pod", "POD (tracker on the forecasts)", ".2f"),
                          ("pod_init", "POD, storms that existed at the initial time", ".2f"), ("far", "FAR", ".2f"),
                          ("track_error_km", "track error, km, of the hits within 300 km (each model's own)", ".0f"),
                          ("follow_kept", "storms followed from their initial fix: fraction kept", ".2f")):
        rows = {m: [_fmt(_at(t, col, L), f) for L in LEADS] for m, t in whole.items()}
        print(_table(title, rows, LEADS))
    if "truth" in whole:
        print(_table("POD / the truth's POD (issue 13's target: >= 0.80 at +24 h)", pod_ratios(whole), LEADS))
    follow = {m: pd.read_csv(d / f"scores_{m}" / "track_follow.csv") for m in models
              if (d / f"scores_{m}" / "track_follow.csv").exists()}
    if follow:
        rows, counts = followed_errors(follow, LEADS)
        rows["cases"] = [str(n) for n in counts]
        print(_table("track error, km, of the storms followed from their initial fix, on the cases "
                     "every forecast kept (homogeneous)", rows, LEADS))
    misses = miss_rows(d, models)
    if misses:
        print("\n**+24 h: the storms the truth's tracker finds that each forecast misses, by cause "
              "(hurricane_ode.verification.misses)**\n")
        print("| model | " + " | ".join(MISS_HEADER) + " |\n|---|" + "---|" * len(MISS_HEADER))
        print("\n".join(f"| {m} | " + " | ".join(cells) + " |" for m, cells in misses.items()))
        reach = reachable_fraction(pd.read_csv(d / "scores_truth" / "track_matches.csv"), 24.0)
        print(f"\nOf the truth's hits at +24 h, {reach:.1%} are of storms detectable at the start (a fix at the "
              "initial time, found by the truth's tracker at the first lead and in the initial fields): "
              "the most a forecast without genesis or deepening from below detection can keep, besides "
              "its hits the truth missed.")
        shared = shared_rows(d, models)
        if shared:
            print("\n| model | avoidable misses at +24 h (" + ", ".join(FIXABLE_CAUSES)
                  + ") | of them missed by advection_lk too |\n|---|---|---|")
            print("\n".join(f"| {m} | {n} | {k} |" for m, (n, k) in shared.items()))
    sig = significance_rows(d, models)
    if sig:
        print(_table("is each checkpoint's difference from each baseline real? 90 % modified Diebold-Mariano "
                     "test over initial times (hurricane-ode compare)", sig, LEADS))
    if world.exists():
        ret = depth_retention(d, world, models=models)
        print("\n**depth of the strongest storm at +24 h, forecast / truth (median over inits)**\n")
        print("| " + " | ".join(ret) + " |\n|" + "---|" * len(ret) + "\n| " + " | ".join(_fmt(v, ".2f") for v in ret.values()) + " |")


if __name__ == "__main__":
    main()

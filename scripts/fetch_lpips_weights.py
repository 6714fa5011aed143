#!/usr/bin/env python
"""Download the ImageNet AlexNet backbone that LPIPS needs (run once, on a machine with internet).

Fetches torchvision's published file ``alexnet-owt-7be5be79.pth`` by URL with
urllib, checks that its sha256 starts with the prefix in its name (7be5be79),
and saves it where hurricane_ode looks for it:
``$HURRICANE_ODE_LPIPS_BACKBONE`` if set, else
``$HURRICANE_ODE_CACHE/lpips/alexnet-owt-7be5be79.pth`` (cache default
``~/.cache/hurricane_ode``). Copy the file to offline machines at the same path.

The package never calls this script; it only reads the file.

    python scripts/fetch_lpips_weights.py [--dest PATH] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import urllib.request
from pathlib import Path

FILENAME = "alexnet-owt-7be5be79.pth"
URL = f"https://download.pytorch.org/models/{FILENAME}"
SHA256_PREFIX = "7be5be79"


def default_dest() -> Path:
    """Same rule as ``hurricane_ode.metrics.lpips.default_backbone_path``."""
    explicit = os.environ.get("HURRICANE_ODE_LPIPS_BACKBONE")
    if explicit:
        return Path(explicit).expanduser()
    cache = Path(os.environ.get("HURRICANE_ODE_CACHE", "~/.cache/hurricane_ode")).expanduser()
    return cache / "lpips" / FILENAME


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(dest: Path, url: str = URL, force: bool = False) -> Path:
    """Download ``url`` to ``dest`` (temp name, verified, then renamed)."""
    if dest.is_file() and not force:
        if sha256_of(dest).startswith(SHA256_PREFIX):
            print(f"already present and verified: {dest}")
            return dest
        print(f"{dest} exists but its sha256 does not start with {SHA256_PREFIX}; re-downloading")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    print(f"downloading {url} -> {dest}")
    with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0)
        done = 0
        while chunk := resp.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if total:
                print(f"\r  {done / 2**20:.0f} / {total / 2**20:.0f} MiB", end="", file=sys.stderr)
    print(file=sys.stderr)
    digest = sha256_of(tmp)
    if not digest.startswith(SHA256_PREFIX):
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"sha256 {digest} of {url} does not start with {SHA256_PREFIX}")
    os.replace(tmp, dest)
    print(f"saved {dest} (sha256 {digest[:16]}...)")
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dest", type=Path, default=None, help=f"output file (default {default_dest()})")
    p.add_argument("--url", default=URL, help="download URL")
    p.add_argument("--force", action="store_true", help="download even if a verified copy exists")
    args = p.parse_args(argv)
    fetch(args.dest or default_dest(), args.url, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

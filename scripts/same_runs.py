"""Whether two folders of finished runs agree bit for bit where they trained the same config.

    python scripts/same_runs.py runs/reproduce/chomsky runs/reproduce/chomsky_grid

Pairs the runs by their config id (``results.json``: ``config_id``) and compares every
result except how it ran and what its command called it (``steps_per_second``, ``layout``,
``label``: a sweep labels its grid point). Prints JSON: runs on each
side, pairs, pairs equal, and the first differing pairs with the fields that differ.
Exits 1 when a pair differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnjax.train.runs import find_runs, read_results

NOT_RESULTS = ("steps_per_second", "layout", "label")


def results_by_config(root: Path) -> dict[str, tuple[Path, dict]]:
    out = {}
    for run_dir in find_runs(root):
        results = read_results(run_dir)
        out[results["config_id"]] = (run_dir, {k: v for k, v in results.items() if k not in NOT_RESULTS})
    return out


def compare(a: Path, b: Path, show: int = 5) -> dict:
    left, right = results_by_config(a), results_by_config(b)
    pairs = sorted(left.keys() & right.keys())
    differing = [{"runs": [str(left[c][0]), str(right[c][0])],
                  "fields": sorted(k for k in left[c][1].keys() | right[c][1].keys()
                                   if left[c][1].get(k) != right[c][1].get(k))}
                 for c in pairs if left[c][1] != right[c][1]]
    return {"runs": [len(left), len(right)], "pairs": len(pairs), "equal": len(pairs) - len(differing),
            "differing": differing[:show]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    report = compare(args.a, args.b)
    print(json.dumps(report, indent=2))
    sys.exit(1 if report["differing"] else 0)


if __name__ == "__main__":
    main()

"""Print medkg's sensitivity on the ONC high-priority DDI list and its false alerts on negative controls.

    python scripts/gold_standard.py            # table
    python scripts/gold_standard.py --json     # one JSON object

Reference files: tests/gold-standard/ (see its README for provenance).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medkg.gold_standard import evaluate, read_pairs

FOLDER = Path(__file__).resolve().parent.parent / "tests" / "gold-standard"


def main() -> None:
    """Evaluate both lists and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    positives = evaluate(read_pairs(FOLDER / "phansalkar-2012.tsv", "example_object", "example_precipitant"))
    negatives = evaluate(read_pairs(FOLDER / "negative-controls.tsv", "drug_a", "drug_b"))
    figures = {"high_priority_ddi": positives.as_dict(), "negative_controls": negatives.as_dict()}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    p, n = figures["high_priority_ddi"], figures["negative_controls"]
    print(
        f"ONC high-priority DDIs: {p['flagged']}/{p['listed']} flagged (sensitivity {p['rate_over_listed']}); "
        f"{p['flagged']}/{p['drugs_known']} where both drugs are in the knowledge base ({p['rate_over_known']})"
    )
    print(f"  missed: {', '.join(p['missed_pairs']) or 'none'}")
    print(f"negative controls: {n['flagged']}/{n['listed']} flagged (false-alert rate {n['rate_over_listed']})")
    print(f"  flagged: {', '.join(n['flagged_pairs']) or 'none'}")


if __name__ == "__main__":
    main()

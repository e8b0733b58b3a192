"""Write generated patients as NDJSON (one patient JSON per line) for batch runs.

python scripts/generate_patients.py --count 10000 > patients.ndjson
medkg check --batch patients.ndjson --format ndjson > reports.ndjson
"""

from __future__ import annotations

import argparse
import json
import sys

from medkg.synthetic import generate_patient_dicts


def main() -> None:
    """Parse the arguments and print the patients."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="number of patients (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args()
    for data in generate_patient_dicts(args.count, seed=args.seed):
        sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()

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
    parser.add_argument("--min-drugs", type=int, default=2, help="fewest drugs per patient (default 2)")
    parser.add_argument("--max-drugs", type=int, default=10, help="most drugs per patient (default 10, as bench.py)")
    args = parser.parse_args()
    try:  # generate_patient_dicts refuses impossible sizes (before loading the knowledge base)
        patients = generate_patient_dicts(
            args.count, seed=args.seed, min_drugs=args.min_drugs, max_drugs=args.max_drugs
        )
    except ValueError as error:
        parser.error(str(error))
    for data in patients:
        sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()

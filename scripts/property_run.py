"""Run the property-based tests at scale and print how many cases ran and how long they took.

    python scripts/property_run.py                 # 10,000 cases per property
    python scripts/property_run.py --examples 500

Each property in tests/test_properties.py draws its own patients (hypothesis, derandomised so a
run is reproducible); the figure printed is examples x properties.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Run pytest on the properties marker with MEDKG_PROPERTY_EXAMPLES set; exit with its code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="cases per property (default 10000)")
    args = parser.parse_args()
    env = dict(os.environ, MEDKG_PROPERTY_EXAMPLES=str(args.examples))
    report = Path(tempfile.mkdtemp(prefix="medkg-properties-")) / "junit.xml"
    started = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "properties",
        "tests/test_properties.py",
    ]
    result = subprocess.run([*command, "--junitxml", str(report)], cwd=ROOT, env=env, check=False)
    elapsed = time.perf_counter() - started
    cases = ElementTree.parse(report).getroot().iter("testcase")
    properties = sum(1 for _ in cases)
    print(
        f"property tests: {args.examples} cases per property, {properties} properties, "
        f"{elapsed:.0f} s, exit {result.returncode}"
    )
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()

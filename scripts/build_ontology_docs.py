"""Generate the ontology reference (docs/ontology/index.html) from ontology/*.ttl with pyLODE.

Usage: pip install '.[docs]' && python scripts/build_ontology_docs.py

The T-box modules (core, rules, provenance; not the SHACL shapes) are merged into one graph and
documented with pyLODE's OWL profile. tests/test_knowledge_base.py checks that every term of the
ontology appears in the generated page, so a new term without regenerated docs fails the tests.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pylode import OntPub
from rdflib import Graph

from medkg.sources import SHAPES_FILE

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "ontology" / "index.html"


def main() -> None:
    """Merge the ontology modules and write the HTML reference to ``TARGET``."""
    graph = Graph()
    for path in sorted((ROOT / "ontology").glob("*.ttl")):
        if path.name != SHAPES_FILE:
            graph.parse(path, format="turtle")
    with tempfile.TemporaryDirectory() as folder:
        merged = Path(folder) / "medkg.ttl"
        graph.serialize(merged, format="turtle")
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        OntPub(str(merged)).make_html(destination=str(TARGET))
    print(TARGET)


if __name__ == "__main__":
    main()

"""Read the hand-edited sources (``ontology/*.ttl``, ``kg/**/*.ttl``, ``kg/*.tsv``) into one graph."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph

from .tables import compile_tables

__all__ = ["SHAPES_FILE", "SourceSet", "find_sources", "load_sources"]

#: SHACL shapes live beside the T-box but are not part of it (validation only).
SHAPES_FILE = "shapes.ttl"


@dataclass(frozen=True)
class SourceSet:
    """The edited files that make up one knowledge base, and their combined SHA-256."""

    root: Path
    ontology: tuple[Path, ...]
    kg_turtle: tuple[Path, ...]
    kg_tables: tuple[Path, ...]
    sha256: str

    @property
    def files(self) -> tuple[Path, ...]:
        """All input files, in a fixed order."""
        return self.ontology + self.kg_turtle + self.kg_tables


def find_sources(root: Path) -> SourceSet:
    """List the source files under ``root`` and hash their names and contents (SHA-256, hex)."""
    ontology = tuple(sorted(p for p in (root / "ontology").glob("*.ttl") if p.name != SHAPES_FILE))
    kg_turtle = tuple(sorted((root / "kg").rglob("*.ttl")))
    kg_tables = tuple(sorted((root / "kg").rglob("*.tsv")))
    digest = hashlib.sha256()
    for path in ontology + kg_turtle + kg_tables:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return SourceSet(root, ontology, kg_turtle, kg_tables, digest.hexdigest())


def load_sources(sources: SourceSet) -> Graph:
    """Parse every Turtle file and compile every table of ``sources`` into one rdflib graph.

    Raises:
        rdflib.plugins.parsers.notation3.BadSyntax: for a Turtle syntax error (message names the file).
        medkg.tables.TableError: for a malformed table.
    """
    graph = Graph()
    for path in sources.ontology + sources.kg_turtle:
        graph.parse(path, format="turtle")
    compile_tables(sources.root / "kg", graph)
    return graph

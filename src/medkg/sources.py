"""Read the hand-edited sources (``ontology/*.ttl``, ``kg/**/*.ttl``, ``kg/*.tsv``) into one graph."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph
from rdflib.plugins.parsers.notation3 import BadSyntax

from .loaders import InputError
from .tables import compile_tables

__all__ = ["SHAPES_FILE", "SourceError", "SourceSet", "find_sources", "load_sources"]

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


class SourceError(InputError):
    """An edited source file that cannot be read; the message names the file and, for Turtle, the line."""


def load_sources(sources: SourceSet) -> Graph:
    """Parse every Turtle file and compile every table of ``sources`` into one rdflib graph.

    Raises:
        SourceError: for a Turtle syntax error (``kg/rules/x.ttl: Turtle syntax error at line 9: ...``).
        medkg.tables.TableError: for a malformed table (names the file and the row).
    """
    graph = Graph()
    for path in sources.ontology + sources.kg_turtle:
        try:
            graph.parse(path, format="turtle")
        except BadSyntax as error:
            raise SourceError(f"{path.relative_to(sources.root).as_posix()}: {_syntax_error(error)}") from None
    compile_tables(sources.root / "kg", graph)
    return graph


def _syntax_error(error: BadSyntax) -> str:
    """Return rdflib's Turtle error in one line: ``Turtle syntax error at line 9: Bad syntax (...)``."""
    lines = str(error).splitlines()
    where = lines[0].removesuffix(":").replace(" of <>", "") if lines else ""
    why = lines[1].removesuffix(" in:").removesuffix(" at ^") if len(lines) > 1 else ""
    return f"Turtle syntax error {where}: {why}".strip()

"""A large build's per-IRI catalogue on disk: rule texts, citations and labels in one SQLite file.

A knowledge base of a million rules cannot hold its rule texts in memory, and reading them from
the on-disk pyoxigraph store costs a SPARQL query per IRI (about 0.5 ms each, some twenty per
patient). So when a large build is first used, the rows of the catalogue queries are read whole,
once, and written to ``catalogue.sqlite`` next to the build; afterwards each rule, label or list
of citations is one indexed SQLite lookup (microseconds).

The file holds the query rows, not Python objects: :mod:`medkg.knowledge_base` turns them into
``RuleInfo`` and ``Citation`` exactly as it does rows from the store. It records the key it was
written for (build, medkg version, query texts) and is rebuilt when that key changes; it is
written to a temporary file and renamed into place, so a reader never sees a half-written file.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["CITATION_COLUMNS", "RULE_COLUMNS", "CatalogueFile", "write_catalogue_file"]

#: Columns of ``queries/catalogue/rules.rq`` (and ``catalogue-file/rules.rq``), in table order.
RULE_COLUMNS = ("rule", "ruleClass", "label", "kind", "severity", "rank", "summary", "recommendation")
#: Columns of ``queries/catalogue/citations.rq`` (and ``catalogue-file/citations.rq``), in table order.
CITATION_COLUMNS = ("subject", "source", "title", "url", "doi", "version", "locator", "evidence", "uncertain", "note")
#: Columns of ``queries/catalogue/alternatives.rq``, in table order.
ALTERNATIVE_COLUMNS = ("rule", "therapy", "label", "order", "note")

Row = Mapping[str, object]

_SCHEMA = f"""
CREATE TABLE meta (key TEXT NOT NULL);
CREATE TABLE labels (iri TEXT PRIMARY KEY, label TEXT) WITHOUT ROWID;
CREATE TABLE rules ({", ".join(f'"{c}"' for c in RULE_COLUMNS)});
CREATE TABLE citations ({", ".join(f'"{c}"' for c in CITATION_COLUMNS)});
CREATE TABLE alternatives ({", ".join(f'"{c}"' for c in ALTERNATIVE_COLUMNS)});
"""
_INDEXES = """
CREATE INDEX rules_by_iri ON rules (rule);
CREATE INDEX citations_by_subject ON citations (subject);
CREATE INDEX alternatives_by_rule ON alternatives (rule);
"""
#: Rows inserted per ``executemany`` (rows stream from the store; memory stays flat).
_BATCH = 50_000


def _stored(value: object) -> object:
    """Return a query row value as SQLite keeps it (str, int, float, None; booleans as 0/1)."""
    return value if value is None or isinstance(value, (str, int, float)) else str(value)


def _insert(db: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: Iterable[Row]) -> int:
    statement = f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})"
    count, batch = 0, []
    for row in rows:
        batch.append(tuple(_stored(row.get(column)) for column in columns))
        if len(batch) >= _BATCH:
            db.executemany(statement, batch)
            count, batch = count + len(batch), []
    db.executemany(statement, batch)
    return count + len(batch)


def write_catalogue_file(
    path: Path,
    key: str,
    *,
    labels: Iterable[Row],
    rules: Iterable[Row],
    citations: Iterable[Row],
    alternatives: Iterable[Row],
) -> dict[str, int]:
    """Write the catalogue rows to ``path`` (through a temporary file and a rename); return row counts.

    Each argument yields rows as dicts of Python values with the columns of the matching query in
    ``queries/catalogue/`` (``labels``: ``iri``, ``label``). ``key`` identifies what the rows were
    read from; :meth:`CatalogueFile.open` refuses a file written for another key.

    Raises:
        OSError: if the folder cannot be written.
        sqlite3.Error: if SQLite fails.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".sqlite", dir=path.parent)
    os.close(handle)
    try:
        db = sqlite3.connect(temporary)
        try:
            db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + _SCHEMA)
            counts = {
                "labels": _insert(db, "labels", ("iri", "label"), _unique_labels(labels)),
                "rules": _insert(db, "rules", RULE_COLUMNS, rules),
                "citations": _insert(db, "citations", CITATION_COLUMNS, citations),
                "alternatives": _insert(db, "alternatives", ALTERNATIVE_COLUMNS, alternatives),
            }
            db.executescript(_INDEXES)
            db.execute("INSERT INTO meta VALUES (?)", (key,))
            db.commit()
        finally:
            db.close()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return counts


def _unique_labels(rows: Iterable[Row]) -> Iterable[Row]:
    """Yield the label rows, each IRI once (``labels.rq`` groups by IRI already; a repeat keeps the first)."""
    seen: set[object] = set()
    for row in rows:
        if row["iri"] not in seen:
            seen.add(row["iri"])
            yield row


class CatalogueFile:
    """A ``catalogue.sqlite`` opened read-only; rows per IRI as dicts keyed by query column.

    Safe to share between threads (one connection behind a lock) and across ``fork`` (a child
    process opens its own connection on first use).
    """

    def __init__(self, path: Path) -> None:
        """Open ``path`` read-only (use :meth:`open` to check its key)."""
        self.path = path
        self._lock = threading.Lock()
        self._pid = -1
        self._db: sqlite3.Connection | None = None

    @classmethod
    def open(cls, path: Path, key: str) -> CatalogueFile | None:
        """Return the file at ``path`` if it exists and was written for ``key``, else None."""
        if not path.is_file():
            return None
        file = cls(path)
        try:
            found = file._select("SELECT key FROM meta", ())
        except sqlite3.Error:
            return None
        return file if found and found[0]["key"] == key else None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._pid = os.getpid()
        return self._db

    def _select(self, statement: str, parameters: tuple[str, ...]) -> list[dict[str, object]]:
        with self._lock:
            return [dict(row) for row in self._connection().execute(statement, parameters)]

    def label(self, iri: str) -> str | None:
        """Display label of ``iri`` (the ``labels.rq`` row), or None when it has none."""
        rows = self._select("SELECT label FROM labels WHERE iri = ?", (iri,))
        return None if not rows else rows[0]["label"]  # type: ignore[return-value]

    def rules(self, iri: str) -> list[dict[str, object]]:
        """Return the ``rules.rq`` rows of rule ``iri`` (none for an IRI that is not a rule)."""
        return self._select("SELECT * FROM rules WHERE rule = ?", (iri,))

    def citations(self, iri: str) -> list[dict[str, object]]:
        """Return the ``citations.rq`` rows whose subject is ``iri``."""
        return self._select("SELECT * FROM citations WHERE subject = ?", (iri,))

    def alternatives(self, iri: str) -> list[dict[str, object]]:
        """Return the ``alternatives.rq`` rows of rule ``iri``."""
        return self._select("SELECT * FROM alternatives WHERE rule = ?", (iri,))

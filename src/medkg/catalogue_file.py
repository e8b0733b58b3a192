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

import multiprocessing
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path

from .cache import as_if_created

__all__ = ["GROUPS", "TABLES", "CatalogueFile", "write_catalogue_file"]

Row = Mapping[str, object]

#: Table -> (query it holds the rows of, its columns, the column it is looked up by). The rule
#: and citation tables hold the required part of ``catalogue/rules.rq`` and ``citations.rq``;
#: their optional columns have tables of their own, left-joined when read (:data:`_RULE_ROWS`,
#: :data:`_CITATION_ROWS`) - the same rows as the catalogue queries' OPTIONALs give. The labels
#: of ``catalogue/labels.rq`` are two scans, preferred labels looked up first (:data:`_LABEL`).
TABLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "rules": ("catalogue-file/rules", ("rule", "ruleClass", "label", "kind", "severity", "rank"), "rule"),
    "citations": (
        "catalogue-file/citations",
        ("subject", "citation", "source", "title", "url", "doi", "version"),
        "subject",
    ),
    "alternatives": ("catalogue/alternatives", ("rule", "therapy", "label", "order", "note"), "rule"),
    "preferred_labels": ("catalogue-file/preferred-labels", ("iri", "label"), "iri"),
    "plain_labels": ("catalogue-file/plain-labels", ("iri", "label"), "iri"),
    "summaries": ("catalogue-file/rule-summaries", ("rule", "summary"), "rule"),
    "recommendations": ("catalogue-file/rule-recommendations", ("rule", "recommendation"), "rule"),
    "locators": ("catalogue-file/citation-locators", ("citation", "locator"), "citation"),
    "evidence": ("catalogue-file/citation-evidence", ("citation", "evidence"), "citation"),
    "uncertainty": ("catalogue-file/citation-uncertainty", ("citation", "uncertain"), "citation"),
    "notes": ("catalogue-file/citation-notes", ("citation", "note"), "citation"),
}

#: The tables read by hash joins, which take the store's memory (about 0.9 GB for a million rules).
_JOINED = ("rules", "citations", "alternatives")
#: The tables in two groups of about equal cost, written at the same time by two processes when
#: ``jobs`` > 1: the hash joins, and every other table (single-pattern scans, about 0.2 GB). On
#: the million-pair build, idle: rules 41 + citations 26 CPU s against labels 23 + summaries 20 +
#: recommendations 12 + locators and evidence levels about 20 (query and conversion).
GROUPS: tuple[tuple[str, ...], ...] = (_JOINED, tuple(table for table in TABLES if table not in _JOINED))

#: The label of one IRI (``?``, twice): its preferred label, else its plain one.
_LABEL = """
SELECT label FROM preferred_labels WHERE iri = ?1
UNION ALL
SELECT label FROM plain_labels WHERE iri = ?1
LIMIT 1
"""
#: The rows of ``catalogue/rules.rq`` for one rule (``?``).
_RULE_ROWS = """
SELECT r.rule, r.ruleClass, r.label, r.kind, r.severity, r.rank, s.summary, m.recommendation
FROM rules r
LEFT JOIN summaries s ON s.rule = r.rule
LEFT JOIN recommendations m ON m.rule = r.rule
WHERE r.rule = ?
"""
#: The rows of ``catalogue/citations.rq`` for one subject (``?``).
_CITATION_ROWS = """
SELECT c.subject, c.source, c.title, c.url, c.doi, c.version, l.locator, e.evidence, u.uncertain, n.note
FROM citations c
LEFT JOIN locators l ON l.citation = c.citation
LEFT JOIN evidence e ON e.citation = c.citation
LEFT JOIN uncertainty u ON u.citation = c.citation
LEFT JOIN notes n ON n.citation = c.citation
WHERE c.subject = ?
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


def _create(db: sqlite3.Connection, table: str) -> None:
    quoted = ", ".join(f'"{column}"' for column in TABLES[table][1])
    db.execute(f"CREATE TABLE {table} ({quoted})")


def _write_tables(path: str, tables: tuple[str, ...], read: Callable[[str], Iterable[Row]]) -> dict[str, float]:
    """Create ``tables`` in the SQLite file ``path`` and fill each from its query; return figures."""
    figures: dict[str, float] = {}
    db = sqlite3.connect(path)
    try:
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        for table in tables:
            clock = time.process_time()
            _create(db, table)
            figures[table] = _insert(db, table, TABLES[table][1], read(TABLES[table][0]))
            figures[f"{table}_s"] = round(time.process_time() - clock, 2)
        db.commit()
    finally:
        db.close()
    return figures


def _write_in_child(send: Connection, path: str, tables: tuple[str, ...], read: Callable[[str], Iterable[Row]]) -> None:
    """Body of a forked writer: :func:`_write_tables`, its figures (or its error, as text) sent back."""
    try:
        send.send(_write_tables(path, tables, read))
    except BaseException as error:  # reported to the parent, which raises it
        send.send(f"{type(error).__name__}: {error}")
    finally:
        send.close()


def _write_groups(path: str, read: Callable[[str], Iterable[Row]], jobs: int) -> dict[str, float]:
    """Write the tables into ``path``; return the figures.

    With ``jobs`` > 1 the first of :data:`GROUPS` is written in this process while forked
    children write the others into files of their own, then copied into ``path``.
    """
    if jobs <= 1:
        return _write_tables(path, tuple(TABLES), read)
    context = multiprocessing.get_context("fork")  # the child inherits ``read``; nothing is pickled
    children = []
    for number, tables in enumerate(GROUPS[1:], start=1):
        part = f"{path}.part{number}"
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_write_in_child, args=(send, part, tables, read), daemon=True)
        child.start()
        send.close()
        children.append((child, receive, part, tables))
    figures = _write_tables(path, GROUPS[0], read)
    try:
        db = sqlite3.connect(path)
        try:
            for child, receive, part, tables in children:
                try:
                    answer = receive.recv()
                except EOFError:
                    answer = f"the writer process ended with exit code {child.exitcode}"
                child.join()
                if isinstance(answer, str):
                    raise sqlite3.OperationalError(f"catalogue file: writing {', '.join(tables)} failed: {answer}")
                figures.update(answer)
                db.execute("ATTACH DATABASE ? AS part", (part,))
                for table in tables:
                    _create(db, table)
                    db.execute(f"INSERT INTO main.{table} SELECT * FROM part.{table}")
                db.commit()
                db.execute("DETACH DATABASE part")
        finally:
            db.close()
    finally:
        for child, _, part, _ in children:
            if child.is_alive():
                child.kill()
            Path(part).unlink(missing_ok=True)
    return figures


def write_catalogue_file(
    path: Path, key: str, read: Callable[[str], Iterable[Row]], *, jobs: int = 1
) -> dict[str, float]:
    """Write every table of :data:`TABLES` to ``path`` (a temporary file, then a rename); return figures.

    ``read(query name)`` yields the rows of that query as dicts of Python values, streamed.
    With ``jobs`` > 1 the two :data:`GROUPS` of tables are read at the same time, the second in
    a forked child process, so ``read`` must be safe to call after ``fork`` (open its own store);
    use it only where no other threads run. ``key`` identifies what the rows were read from;
    :meth:`CatalogueFile.open` refuses a file written for another key. Returns, per table, its
    row count and the CPU seconds (``<table>_s``) its query and insertion took in whichever
    process read it.

    Raises:
        OSError: if the folder cannot be written.
        sqlite3.Error: if SQLite fails (e.g. a full disk), or a child writer failed.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".sqlite", dir=path.parent)
    os.close(handle)
    as_if_created(Path(temporary))
    try:
        figures = _write_groups(temporary, read, jobs)
        db = sqlite3.connect(temporary)
        try:
            for table, (_, _, by) in TABLES.items():
                db.execute(f'CREATE INDEX {table}_by_{by} ON {table} ("{by}")')
            db.execute("CREATE TABLE meta (key TEXT)")
            db.execute("INSERT INTO meta VALUES (?)", (key,))
            db.commit()
        finally:
            db.close()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return figures


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
        """Display label of ``iri`` (its ``labels.rq`` row), or None when it has none."""
        rows = self._select(_LABEL, (iri,))
        return None if not rows else rows[0]["label"]  # type: ignore[return-value]

    def rules(self, iri: str) -> list[dict[str, object]]:
        """Return the ``catalogue/rules.rq`` rows of rule ``iri`` (none for an IRI that is not a rule)."""
        return self._select(_RULE_ROWS, (iri,))

    def citations(self, iri: str) -> list[dict[str, object]]:
        """Return the ``catalogue/citations.rq`` rows whose subject is ``iri``."""
        return self._select(_CITATION_ROWS, (iri,))

    def alternatives(self, iri: str) -> list[dict[str, object]]:
        """Return the ``alternatives.rq`` rows of rule ``iri``."""
        return self._select("SELECT * FROM alternatives WHERE rule = ?", (iri,))

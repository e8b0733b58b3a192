"""The ``medkg`` command line: argument parsing only; the work is done by the library.

Exit codes (also in ``medkg --help``):
  0  no finding of severity major or contraindicated, and every medication identified
  1  such a finding, or a medication that could not be identified
  2  input could not be read or is invalid (one line on stderr)
  3  internal error (no report is printed), or the output could not be written (disk full,
     standard output closed): one line on stderr either way
  130  interrupted (Ctrl-C)
  141  the reader closed standard output (e.g. ``| head``): what it did not read was not written
"""

from __future__ import annotations

import errno
import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click

from . import __version__
from .native import build_description, stale_compiled_modules

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
#: stopped by Ctrl-C (SIGINT, as a shell reports 128 + 2)
EXIT_INTERRUPTED = 130
#: the reader closed standard output (as a process killed by SIGPIPE): the output is incomplete
EXIT_PIPE_CLOSED = 141
EXAMPLES = Path(__file__).parent / "examples"
#: The exit codes every command shares (after its own 0 and, for some, 1), and the disclaimer.
_EXIT_TAIL = (
    "2 invalid input; 3 internal error or output not writable; 130 interrupted (Ctrl-C); "
    "141 output closed by its reader (e.g. | head). medkg supports, and does not replace, clinical judgement."
)
_EPILOG = (
    "Exit codes: 0 no major/contraindicated finding and all medications identified; 1 such a finding "
    "or an unidentified medication; " + _EXIT_TAIL
)
_DONE_EPILOG = "Exit codes: 0 done; " + _EXIT_TAIL
_VALIDATE_EPILOG = "Exit codes: 0 the knowledge base passes every check; 1 problems found; " + _EXIT_TAIL
_PRUNE_EPILOG = "Exit codes: 0 done; 1 a build could not be deleted; " + _EXIT_TAIL


def _fail_input(message: str) -> None:
    click.echo(f"medkg: {message}", err=True)
    sys.exit(EXIT_INPUT)


def _fail_internal(error: BaseException) -> None:
    """Report an internal fault: one line with a run id on stderr, the traceback in a file; exit 3.

    Nothing is written to standard output (a report is printed only when complete).
    """
    import tempfile
    import uuid

    run_id = uuid.uuid4().hex[:12]
    detail = " ".join(f"{error.__class__.__name__}: {error}".split())[:300]
    where = Path(tempfile.gettempdir()) / f"medkg-error-{run_id}.txt"
    try:
        where.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
        saved = f"traceback in {where}"
    except OSError:
        saved = "set MEDKG_DEBUG=1 for a traceback"
    if os.environ.get("MEDKG_DEBUG"):
        traceback.print_exception(error)
    click.echo(f"medkg: internal error (run {run_id}): {detail}; no report was produced ({saved})", err=True)
    sys.exit(EXIT_INTERNAL)


#: write errors that mean the output cannot be delivered (not a fault of medkg's): closed, full, too large
_OUTPUT_ERRORS = frozenset({errno.EBADF, errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class _ClosedOutput:
    """Stands in for a standard output the shell closed (``>&-``; Python then has ``sys.stdout = None``).

    Without it click writes nothing and medkg would exit 0 or 1 as if the report had been
    delivered; with it, the first write fails like a write to a closed descriptor.
    """

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        """Nothing is buffered."""

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def _write_out(text: str) -> None:
    """Write ``text`` (UTF-8) to standard output whole, or raise OSError.

    A report or a batch record goes out this way, not through ``sys.stdout``: when a write is cut
    short (a file-size limit, a disk filling up), Python's buffered writer can drop the rest
    without an error, and medkg would exit 0 or 1 on a truncated report. ``os.write`` in a loop
    meets the refusal of the next write instead. (A stream without a descriptor, such as click's
    test runner, is written to directly.)
    """
    sys.stdout.flush()
    try:
        descriptor = sys.stdout.fileno()
    except io.UnsupportedOperation:
        sys.stdout.write(text)
        return
    rest = memoryview(text.encode("utf-8"))
    while rest:
        rest = rest[os.write(descriptor, rest) :]


def _output_failed(error: OSError) -> None:
    """Report that the output could not be written: one line on stderr, exit 3 (what was written may be incomplete)."""
    _stdout_to_null()
    click.echo(f"medkg: cannot write the output: {error.strerror or error}; it is missing or incomplete", err=True)
    sys.exit(EXIT_INTERNAL)


def _reader_gone() -> None:
    """Stop quietly when the reader of standard output closed it (``medkg check --batch ... | head``).

    Like a Unix tool killed by SIGPIPE: no message, exit status 141 (128 + SIGPIPE). Standard
    output is pointed at the null device first, so the interpreter's last flush cannot fail again.
    """
    _stdout_to_null()
    sys.exit(EXIT_PIPE_CLOSED)


def _stdout_to_null() -> None:
    """Point standard output's descriptor at the null device, so the interpreter's last flush cannot fail again."""
    if sys.stdout is not None and not isinstance(sys.stdout, _ClosedOutput):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _guarded(function: F) -> F:
    """Map input errors to exit 2 and unexpected faults to exit 3, each as one line on stderr."""
    import functools

    from .loaders import InputError

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
            sys.stdout.flush()  # a full disk shows here, not in the interpreter's last flush
            return result
        except InputError as error:
            _fail_input(str(error))
        except BrokenPipeError:
            _reader_gone()
        except OSError as error:
            if error.errno not in _OUTPUT_ERRORS:
                _fail_internal(error)
            _output_failed(error)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as error:
            _fail_internal(error)

    return wrapper  # type: ignore[return-value]


class _Commands(click.Group):
    """medkg's command group: an unknown command that names another tool's word points to medkg's own."""

    SYNONYMS: ClassVar[dict[str, str]] = {
        "sparql": "query",
        "select": "query",
        "ask": "query",
        "compile": "build",
        "lint": "validate",
        "server": "serve",
        "screen": "check",
    }

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve as click does; for a known synonym, name the medkg command in the error."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            meant = self.SYNONYMS.get(args[0]) if args else None
            if meant is None:
                raise
            raise click.UsageError(f"No such command '{args[0]}'; did you mean 'medkg {meant}'?", ctx) from None


@click.group(cls=_Commands, epilog=_EPILOG)
@click.version_option(__version__, prog_name="medkg", message=f"%(prog)s %(version)s ({build_description()})")
def main() -> None:
    """medkg: medication-safety checks from an OWL knowledge graph, a reasoner and SPARQL."""


#: ``--as-of`` of ``check`` and ``query``: the date a FHIR Bundle or CDS Hooks file is read at.
_AS_OF = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="FHIR Bundle / CDS Hooks file: the date to check at (default: latest clinical date / today).",
)
_STORE_HELP = (
    "Where the knowledge base is queried: 'embedded' (default: in this process) or the URL of a SPARQL 1.1 "
    "query endpoint holding the compiled knowledge base, where the sparql engine's queries then run "
    "(docs/stores.md; update URL and credentials from MEDKG_STORE_* variables)."
)


def _knowledge_base(store: str) -> Any:
    """Return the built-in knowledge base, queried on the embedded store or on the endpoint at ``store``."""
    from .knowledge_base import KnowledgeBase, default_knowledge_base

    kb = default_knowledge_base()
    if store == "embedded":
        return kb
    from .remote_store import StoreError, open_store

    try:
        remote = open_store(store, kb.sha256)
        if not remote.has_knowledge_base():
            _fail_input(
                f"--store {store}: graph <{remote.kb_graph.value}> is empty; load the compiled knowledge base "
                "first (docs/stores.md)"
            )
    except (StoreError, ValueError) as error:
        _fail_input(str(error))
    # RemoteStore has QueryStore's methods (duck-typed; KnowledgeBase annotates the embedded class)
    return KnowledgeBase(kb.built, kb.root, store=remote)  # type: ignore[arg-type]


def _examples() -> list[str]:
    return sorted(path.stem for path in EXAMPLES.glob("*.json"))


@main.command(epilog=_EPILOG)
@click.argument("inputs", nargs=-1)
@click.option("--example", type=click.Choice(_examples()), help="Check a bundled example patient.")
@click.option("--age", type=float, help="Age in years.")
@click.option("--sex", type=click.Choice(["female", "male"]))
@click.option("--weight", type=float, help="Body weight in kg.")
@click.option("--scr", type=float, help="Serum creatinine in mg/dL (CrCl by Cockcroft-Gault with age, weight, sex).")
@click.option("--crcl", type=float, help="Creatinine clearance in mL/min.")
@click.option("--egfr", type=float, help="eGFR in mL/min/1.73 m2.")
@click.option("--child-pugh", type=click.Choice(["A", "B", "C"]), help="Child-Pugh class.")
@click.option("--pregnant/--not-pregnant", default=None, help="Pregnancy status (unknown if not given).")
@click.option("--breastfeeding/--not-breastfeeding", default=None, help="Lactation status (unknown if not given).")
@click.option("--dialysis/--no-dialysis", default=None, help="On dialysis.")
@click.option("--condition", "conditions", multiple=True, help="A condition (repeatable), e.g. --condition copd.")
@click.option(
    "--allergy", "allergies", multiple=True, help="A documented drug allergy (repeatable), e.g. --allergy penicillin."
)
@click.option("--potassium", type=float, help="Serum potassium in mmol/L.")
@click.option("--qtc", type=float, help="Corrected QT interval (QTc) in ms.")
@click.option("--inr", type=float, help="International normalised ratio (INR).")
@_AS_OF
@click.option(
    "--engine",
    type=click.Choice(["default", "sparql", "owl"]),
    default="default",
    show_default=True,
    help="default: the compiled rule book in Python (no query per patient); sparql: the rule queries "
    "on pyoxigraph, patients classified by SPARQL; owl: HermiT classifies KB and patient on each call.",
)
@click.option("--store", default="embedded", show_default=True, help=_STORE_HELP)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "turtle", "html", "ndjson"]),
    default=None,
    help="Report format: text (default), json, turtle, html (one self-contained page with the interaction "
    "graph); with --batch: ndjson (default: one record per line) or json (the same records as one "
    "JSON array, in input order).",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to this file.")
@click.option(
    "--batch",
    "batch_source",
    type=click.Path(path_type=Path, allow_dash=True),
    help="Check many patients: an NDJSON file (one patient per line, - for standard input) or a folder of "
    "patient files. Prints one record per input in input order (blank lines are not inputs) and a summary "
    "on standard error; exits with the worst of the records' exit codes.",
)
@click.option(
    "--dask",
    "dask_scheduler",
    metavar="SCHEDULER",
    help="With --batch: check partitions on Dask distributed workers, local:N (N worker processes on this "
    "machine) or a running scheduler's address, e.g. tcp://host:8786 (see docs/distributed.md).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --batch: check in N worker processes on this machine (records still in input order); "
    "e.g. --jobs $(nproc).",
)
@_guarded
def check(
    inputs: tuple[str, ...],
    example: str | None,
    age: float | None,
    sex: str | None,
    weight: float | None,
    scr: float | None,
    crcl: float | None,
    egfr: float | None,
    child_pugh: str | None,
    pregnant: bool | None,
    breastfeeding: bool | None,
    dialysis: bool | None,
    conditions: tuple[str, ...],
    allergies: tuple[str, ...],
    potassium: float | None,
    qtc: float | None,
    inr: float | None,
    as_of: datetime | None,
    engine: str,
    store: str,
    output_format: str | None,
    output: Path | None,
    batch_source: Path | None,
    dask_scheduler: str | None,
    jobs: int,
) -> None:
    """Check a patient: a patient file (.json or .ttl), --example NAME, or medication names.

    A .json file may also be a FHIR R4 Bundle or a CDS Hooks request (see docs/fhir.md).
    Medication names take an optional dose: NAME[:DOSE_MG[xTIMES_PER_DAY]], e.g.

      medkg check --age 78 --crcl 25 baclofen:10x3 trazodone:50x1

    Flags and medication names given with a patient file are added to it (a flag's value
    replaces the file's; the report's notes say what was added or replaced), e.g.

      medkg check bundle.json --child-pugh C --breastfeeding ibuprofen:400x3
    """
    if output is not None and not os.access(output.parent if output.parent != Path() else Path.cwd(), os.W_OK):
        _fail_input(f"cannot write {output}: its folder does not exist or is not writable")  # before any work
    if store != "embedded":  # the queries run on the endpoint: the sparql engine
        if engine == "owl":
            _fail_input("--store applies to the sparql engine; --engine owl queries its own embedded store")
        engine = "sparql"
    # the patient values given as flags (model field -> value), and the labs
    given: dict[str, Any] = {
        key: value
        for key, value in {
            "age_years": age,
            "sex": sex,
            "weight_kg": weight,
            "serum_creatinine_mg_dl": scr,
            "crcl_ml_min": crcl,
            "egfr_ml_min_1_73m2": egfr,
            "child_pugh": child_pugh,
            "pregnant": pregnant,
            "breastfeeding": breastfeeding,
            "dialysis": dialysis,
        }.items()
        if value is not None
    }
    labs = {
        key: value
        for key, value in {"potassium_mmol_l": potassium, "qtc_ms": qtc, "inr": inr}.items()
        if value is not None
    }
    if batch_source is not None:
        if inputs or example or given or labs or conditions or allergies or as_of:
            _fail_input("--batch takes its patients from the batch input alone (no other patients or flags)")
        if output_format not in (None, "ndjson", "json"):
            _fail_input("--batch writes ndjson (default: one JSON record per line) or json (one JSON array)")
        if dask_scheduler is not None and store != "embedded":
            _fail_input("--dask workers query their own embedded store; --store applies without --dask")
        if jobs > 1 and (dask_scheduler is not None or store != "embedded"):
            _fail_input("--jobs runs local workers on the embedded store; not with --dask or --store")
        _run_batch(batch_source, engine, output, dask_scheduler, store, jobs, as_array=output_format == "json")
        return
    if dask_scheduler is not None or jobs > 1:
        _fail_input(f"{'--dask' if dask_scheduler is not None else '--jobs'} runs a batch; give --batch INPUT")
    output_format = output_format or "text"
    if output_format == "ndjson":
        _fail_input("--format ndjson is for --batch; use json for one patient")
    from .check import check as run_check
    from .knowledge_base import default_knowledge_base
    from .loaders import (
        NO_MEDICATION_NOTE,
        PATIENT_SUFFIXES,
        decode_input_bytes,
        input_from_json,
        load_input,
        max_input_bytes,
        parse_medication_arg,
        patient_from_dict,
    )
    from .patient_additions import Additions, add_to_patient
    from .render.text import render_text
    from .render.turtle import render_turtle

    # an existing path, a .json/.ttl name or "-" (standard input) is a patient; anything else a medication
    # (an empty argument too: Path("") is the current folder, but '' is an empty medication name)
    kb = None if store == "embedded" else _knowledge_base(store)
    files = [
        item
        for item in inputs
        if item.strip() and (item == "-" or _is_path(item) or item.lower().endswith(PATIENT_SUFFIXES))
    ]
    names = [item for item in inputs if item not in files]
    if example:
        files.append(str(EXAMPLES / f"{example}.json"))
    if files:
        if len(files) > 1:
            _fail_input("give one patient file (or --example); flags and medication names are added to it")
        day = as_of.date() if as_of else None

        def known(name: str) -> bool:  # the knowledge base is loaded only if a FHIR reader asks
            return (kb or default_knowledge_base()).knows_drug(name)

        if files[0] == "-":
            limit = max_input_bytes()
            loaded = input_from_json(
                decode_input_bytes(sys.stdin.buffer.read(limit + 1), origin="stdin"),
                origin="stdin",
                as_of=day,
                known=known,
            )
        else:
            loaded = load_input(files[0], as_of=day, known=known)
        patient, notes = loaded.patient, loaded.notes
        additions = Additions(
            values=given,
            labs=labs,
            conditions=conditions,
            allergies=allergies,
            medications=[parse_medication_arg(item) for item in names],
        )
        if additions:
            patient, added = add_to_patient(patient, additions, source=files[0])
            if additions.medications:  # the file's "no medication" note no longer holds
                notes = [note for note in notes if note != NO_MEDICATION_NOTE]
            notes = [*notes, *added]
    else:
        if as_of:
            _fail_input("--as-of applies to a FHIR Bundle or CDS Hooks file")
        if not names:
            _fail_input("nothing to check: give a patient file, --example NAME or medication names (see --help)")
        data: dict[str, Any] = dict(given, id="cli", conditions=list(conditions), allergies=list(allergies))
        if labs:
            data["labs"] = labs
        data["medications"] = [parse_medication_arg(item) for item in names]
        patient, notes = patient_from_dict(data, origin="command line"), []

    report = run_check(patient, engine=engine, notes=notes, kb=kb)
    if output_format == "json":
        text = report.to_json()
    elif output_format == "turtle":
        text = render_turtle(report)
    elif output_format == "html":
        from .render.html import render_html

        text = render_html(report)
    else:
        text = render_text(report)
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            if error.errno in _OUTPUT_ERRORS:  # a full disk, as for standard output: exit 3
                raise
            _fail_input(f"cannot write {output}: {error.strerror or error}")
    else:
        _write_out(text)
    sys.exit(report.exit_code)


def _is_path(item: str) -> bool:
    """Whether a command-line argument names an existing file or folder (a name too long for one is not)."""
    try:
        return Path(item).exists()
    except OSError:  # e.g. a 300-character medication name: ENAMETOOLONG
        return False


def _run_batch(
    source: Path,
    engine: str,
    output: Path | None,
    dask_scheduler: str | None = None,
    store: str = "embedded",
    jobs: int = 1,
    *,
    as_array: bool = False,
) -> None:
    """Check a batch; one JSON record per line; progress bar and summary on a terminal's stderr.

    ``as_array`` (``--format json``): the same records as one JSON array instead (``[``, the records
    in input order separated by commas, one per line, ``]``), written as they come, not held in memory.
    ``dask_scheduler``: check on a Dask cluster (``local:N`` or a scheduler address) instead of in this process.
    ``store``: ``embedded`` or the URL of a SPARQL endpoint holding the knowledge base.
    ``jobs``: worker processes on this machine (:mod:`medkg.batch_pool`).
    """
    import time
    from collections import Counter
    from contextlib import ExitStack

    from .batch import count_batch_items, raw_inputs, read_input
    from .batch_pool import CheckedChunk, checked_chunks, chunks_of_dicts
    from .report import SEVERITY_RANK

    from_stdin = str(source) == "-"
    if not from_stdin and not source.exists():
        _fail_input(f"{source}: no such file or folder")
    if dask_scheduler is not None:
        from .distributed import Scheduler

        Scheduler.parse(dask_scheduler)  # a malformed SCHEDULER fails before any work
    kb = _knowledge_base(store)
    from .engines import require_engine_fits

    require_engine_fits(kb, engine)  # before the run, not as an error on every record
    raws = raw_inputs("stdin", sys.stdin.buffer) if from_stdin else raw_inputs(source)
    total = None if from_stdin else count_batch_items(source)
    started = time.perf_counter()
    exits: Counter[int] = Counter()
    severities: Counter[str] = Counter()
    with ExitStack() as stack:
        try:
            write = stack.enter_context(output.open("w", encoding="utf-8")).write if output else _write_out
        except OSError as error:
            _fail_input(f"cannot write {output}: {error.strerror or error}")
            return
        chunks: Iterable[CheckedChunk]
        if dask_scheduler is not None:
            from .distributed import check_batch_distributed, dask_client

            client = stack.enter_context(dask_client(dask_scheduler))
            items = (item for raw in raws if (item := read_input(raw, kb.knows_drug)) is not None)
            chunks = chunks_of_dicts(check_batch_distributed(items, client, engine=engine, kb=kb))
        else:
            chunks = checked_chunks(raws, jobs=jobs, engine=engine, kb=kb)
        show = sys.stderr.isatty()
        bar = stack.enter_context(
            click.progressbar(length=total or 0, label="checking", file=sys.stderr, hidden=not show or total is None)
        )
        opened = False
        for checked in chunks:
            text = checked.text
            if as_array and text:
                # each record line is compact JSON (no newline inside): join them with commas
                text = ("," if opened else "[") + "\n" + text.removesuffix("\n").replace("\n", ",\n")
                opened = True
            write(text)
            exits.update(checked.exit_codes)
            severities.update(checked.severities)
            bar.update(len(checked.exit_codes))
        if as_array:
            write("\n]\n" if opened else "[]\n")
    elapsed = time.perf_counter() - started
    count = sum(exits.values())
    click.echo(
        f"medkg batch: {count} input(s) in {elapsed:.1f} s ({count / elapsed if elapsed else 0:.0f}/s); "
        f"exit codes {dict(sorted(exits.items()))}; findings by severity "
        f"{dict(sorted(severities.items(), key=lambda item: -SEVERITY_RANK.get(item[0], -1)))}",
        err=True,
    )
    sys.exit(max(exits, default=0))


@main.command(epilog=_DONE_EPILOG)
@click.option("--force", is_flag=True, help="Rebuild even if a build for the current sources exists.")
@_guarded
def build(force: bool) -> None:
    """Compile ontology/ and kg/ into the cached, HermiT-classified knowledge base."""
    from .build import build as run_build
    from .build_cache import crowded_cache_hint
    from .paths import resource_root

    built = run_build(force=force, hint_crowded=False)
    click.echo(f"medkg build: sources read from {resource_root()} (MEDKG_ROOT to use another copy)", err=True)
    click.echo(f"{built.folder} sha256 {built.sha256}")
    hint = crowded_cache_hint(built.folder.parent)
    if hint:
        click.echo(f"medkg build: {hint}", err=True)


#: The epilog of commands that check no patient (their exit codes are their own).
_ADMIN_EPILOG = "medkg supports, and does not replace, clinical judgement."


@main.group(epilog=_ADMIN_EPILOG)
def cache() -> None:
    """List or prune the compiled builds in the cache (MEDKG_CACHE_DIR or the user cache)."""


def _cache_rows(builds: list[Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("build", "medkg", "MB", "last used (UTC)", "")]
    for b in builds:
        used = datetime.fromtimestamp(b.last_used, tz=UTC).strftime("%Y-%m-%d %H:%M")
        rows.append((b.folder.name, b.version, f"{b.size_bytes / 1e6:,.1f}", used, "current" if b.current else ""))
    return rows


@cache.command("list", epilog=_DONE_EPILOG)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guarded
def cache_list(output_format: str) -> None:
    """Show each build: folder, medkg version, size, last use; the build of the current sources is 'current'."""
    from .build import current_build_folder
    from .build_cache import cached_builds
    from .paths import cache_root

    folder = cache_root()
    builds = cached_builds(folder, current_build_folder(cache=folder))
    if output_format == "json":
        click.echo(json.dumps({"cache": str(folder), "builds": [b.as_json() for b in builds]}, indent=2))
        return
    click.echo(f"medkg cache {folder}: {len(builds)} build(s), {sum(b.size_bytes for b in builds) / 1e6:,.1f} MB")
    if builds:
        _echo_table(_cache_rows(builds))


@cache.command("prune", epilog=_PRUNE_EPILOG)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Other builds to keep, most recently used first.",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@_guarded
def cache_prune(keep: int, dry_run: bool) -> None:
    """Delete old builds: all but the current sources' build and the --keep most recently used others.

    A build still read by a running process (a server started before the sources changed) is not
    detected; stop such processes first or keep enough builds. A build that could not be deleted
    is named on stderr.
    """
    from .build import current_build_folder
    from .build_cache import prune
    from .paths import cache_root

    folder = cache_root()
    done = prune(folder, current_build_folder(cache=folder), keep=keep, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    megabytes = sum(b.size_bytes for b in done.deleted) / 1e6
    click.echo(f"medkg cache: {verb} {len(done.deleted)} build(s), {megabytes:,.1f} MB")
    for b in done.deleted:
        click.echo(f"  {b.folder.name}")
    for b, why in done.failed:
        click.echo(f"medkg cache: could not delete {b.folder.name}: {why}", err=True)
    if done.failed:
        sys.exit(EXIT_FINDINGS)


@main.command(epilog=_VALIDATE_EPILOG)
@_guarded
def validate() -> None:
    """Check the knowledge base: HermiT consistency, SHACL shapes, every *-violation.rq empty."""
    from .validate import validate as run_validate

    problems = run_validate(echo=click.echo)
    if problems:
        click.echo(f"medkg validate: {problems} problem(s)", err=True)
        sys.exit(EXIT_FINDINGS)
    click.echo("medkg validate: OK")


@main.command(epilog=_DONE_EPILOG)
@click.argument("query_file", type=click.Path(exists=True, dir_okay=False, path_type=Path, allow_dash=True))
@click.option(
    "--patient",
    "patient_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Add this patient (classified by the default engine) to the graph queried: any patient file medkg "
    "check reads (medkg JSON or Turtle, a FHIR R4 Bundle or a CDS Hooks request); its reader's notes go to "
    "standard error.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="json: a SELECT as an array of {variable: value} objects (plain JSON values; not the W3C results "
    'format), an ASK in the W3C SPARQL 1.1 results JSON format, {"head": {}, "boolean": true}.',
)
@click.option("--store", default="embedded", show_default=True, help=_STORE_HELP)
@_AS_OF
@_guarded
def query(query_file: Path, patient_file: Path | None, output_format: str, store: str, as_of: datetime | None) -> None:
    """Run a SPARQL SELECT/ASK file (UTF-8; - for standard input) over the knowledge base (+ a classified patient)."""
    from .loaders import load_input
    from .sparql_cli import read_query, run_query

    if as_of is not None and patient_file is None:
        _fail_input("--as-of applies to the --patient file (a FHIR Bundle or CDS Hooks request)")
    text = read_query(query_file)  # a bad query file fails before the knowledge base is loaded
    kb = _knowledge_base(store)
    # the reader medkg check uses: a FHIR Bundle or CDS Hooks request too, with its notes
    day = as_of.date() if as_of else None
    loaded = load_input(patient_file, as_of=day, known=kb.knows_drug) if patient_file is not None else None
    _write_out(run_query(text, loaded.patient if loaded else None, output_format, kb=kb))
    if loaded is not None:  # patient-specific results: on stderr, so that CSV and JSON stay parseable
        from .report import DISCLAIMER
        from .vocabulary import PATIENT

        for note in loaded.notes:
            click.echo(f"medkg query: note: {note}", err=True)
        click.echo(
            f"medkg query: the patient is the individual <{PATIENT['p0']}> (its own id is its dcterms:identifier); "
            "renal values are as used (an entered CrCl stands in for a missing eGFR)",
            err=True,
        )
        click.echo(DISCLAIMER, err=True)


def _serve_command() -> click.Command:
    from .server.command import EXAMPLE, serve

    serve.epilog = EXAMPLE + "\n" + _DONE_EPILOG
    return serve


main.add_command(_serve_command(), name="serve")


@main.command(epilog=_DONE_EPILOG)
@click.argument("which", type=click.Choice(["patient", "report"]))
@_guarded
def schema(which: str) -> None:
    """Print the JSON Schema of patient input or of the report."""
    from .patient import Patient
    from .report import Report

    model = Patient if which == "patient" else Report
    click.echo(json.dumps(model.model_json_schema(), indent=2, sort_keys=True))


def _echo_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


@main.command(epilog=_DONE_EPILOG)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guarded
def stats(output_format: str) -> None:
    """Count the knowledge base: drugs and their codes, facts and rules per kind, source coverage."""
    import json

    from .knowledge_base import default_knowledge_base
    from .stats import snapshot
    from .stats import stats as compute

    kb = default_knowledge_base()
    figures = compute(snapshot(kb.store, kb.root))
    if output_format == "json":
        click.echo(json.dumps(figures, indent=2, sort_keys=True))
        return
    drugs = figures["drugs"] or 1
    click.echo(f"medkg knowledge base {kb.sha256[:16]}")
    click.echo(f"  drugs: {figures['drugs']} ({figures['drugs_label_depth']} at label depth)")
    click.echo(
        f"  with RxNorm RXCUI: {figures['drugs_with_rxcui']} ({100 * figures['drugs_with_rxcui'] / drugs:.1f} %)"
    )
    click.echo(f"  with ATC code: {figures['drugs_with_atc']} ({100 * figures['drugs_with_atc'] / drugs:.1f} %)")
    click.echo(
        f"  facts: {figures['facts']} ({figures['facts'] - figures['rules']} drug facts and {figures['rules']} rules),"
        f" without source: {figures['facts_without_source']}"
    )
    click.echo("")
    rows: list[tuple[str, ...]] = [("fact kind", "facts", "with source", "uncertain")]
    rows += [(k, str(v["facts"]), str(v["with_source"]), str(v["uncertain"])) for k, v in figures["fact_kinds"].items()]
    rows += [("", "", "", ""), ("rule kind", "rules", "with source", "uncertain")]
    rows += [(k, str(v["rules"]), str(v["with_source"]), str(v["uncertain"])) for k, v in figures["rule_kinds"].items()]
    _echo_table(rows)


@main.command(epilog=_DONE_EPILOG)
@click.argument("old")
@click.argument("new", default=".")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guarded
def diff(old: str, new: str, output_format: str) -> None:
    """Show what changed between two knowledge-base releases.

    OLD and NEW are source trees (folders holding ontology/ and kg/) or git revisions of the
    repository in the current folder; NEW defaults to the working tree (.). Example:

      medkg diff HEAD~10 .
    """
    import json

    from .stats import diff as compare
    from .stats import snapshot_of

    try:
        changes = compare(snapshot_of(old), snapshot_of(new))
    except ValueError as error:
        _fail_input(str(error))
        return
    if output_format == "json":
        click.echo(json.dumps(changes, indent=2, sort_keys=True))
        return
    before, after = changes["stats"]["old"], changes["stats"]["new"]
    click.echo(f"medkg diff {old} -> {new}")
    for key in ("drugs", "drugs_with_rxcui", "drugs_with_atc", "facts", "facts_without_source", "rules"):
        click.echo(f"  {key}: {before[key]} -> {after[key]}")
    for key in ("drugs_added", "drugs_removed", "drug_codes_changed", "rules_added", "rules_removed", "rules_changed"):
        items = changes[key]
        click.echo(f"{key.replace('_', ' ')} ({len(items)})")
        for item in items:
            click.echo(f"  {item}")
    for kind, sides in changes["facts"].items():
        click.echo(f"{kind}: +{len(sides['added'])} -{len(sides['removed'])}")
        for item in sides["added"]:
            click.echo(f"  + {item}")
        for item in sides["removed"]:
            click.echo(f"  - {item}")


def run() -> None:
    """Console entry point: like ``main`` but every usage error is one line on stderr (exit 2)."""
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    stale = stale_compiled_modules()
    if stale:  # a native build in a source tree, its sources edited since: the edits do not run
        click.echo(
            f"medkg: warning: modules {', '.join(stale)} run from compiled extensions older than their source; "
            "rebuild or delete them (rm src/medkg/*.so src/*__mypyc*.so)",
            err=True,
        )
    try:
        main.main(standalone_mode=False, prog_name="medkg")
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except SystemExit as done:
        # click ends --help or --version into a closed pipe with exit 1, after wrapping standard
        # output in its (_)PacifyFlushWrapper (named, not imported: click 8.2 made it private)
        if done.code == 1 and type(sys.stdout).__name__.lstrip("_") == "PacifyFlushWrapper":
            _reader_gone()
        raise
    except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        click.echo("medkg: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.NoArgsIsHelpError as error:  # `medkg` or `medkg cache` alone: the help, as written
        click.echo(error.ctx.get_help() if error.ctx is not None else error.format_message(), err=True)
        sys.exit(EXIT_INPUT)
    except click.ClickException as error:
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        click.echo(f"medkg: {' '.join(error.format_message().split())}{hint}", err=True)
        sys.exit(EXIT_INPUT)
    except BrokenPipeError:  # --help or --version into a closed pipe
        _reader_gone()
    except OSError as error:
        if error.errno not in _OUTPUT_ERRORS:
            _fail_internal(error)
        _output_failed(error)
    except Exception as error:  # a fault outside a guarded command: still one line and exit 3
        _fail_internal(error)


if __name__ == "__main__":  # pragma: no cover
    run()

"""`python -m gleif_data COMMAND`: parse arguments, call the library, report in one line."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from gleif_data.config import ConfigError, describe_url
from gleif_data.db import make_engine
from gleif_data.errors import GleifDataError
from gleif_data.export import count_export_rows, export_file_name, write_export
from gleif_data.export_ranges import MAX_WORKERS
from gleif_data.import_batch import TARGET_COLUMNS, import_batch
from gleif_data.queries import list_batch_sizes, list_batches, require_batch
from gleif_data.transactions import database_errors, read_snapshot, write_transaction
from gleif_data.view import add_export_arguments, export_options_from_args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = build_parser().parse_args(argv)
    # A connection lost mid-COPY makes the pool log a traceback on reset; the one-line
    # message below says all the analyst needs.
    logging.getLogger("sqlalchemy.pool").addHandler(logging.NullHandler())
    logging.getLogger("sqlalchemy.pool").propagate = False
    engine: Engine | None = None
    try:
        engine = make_engine()
        # The library translates database errors where it opens a transaction; this catches
        # those of the paths that own their connections (the export's COPY, the migrations).
        with database_errors(engine.url):
            return args.run(engine, args)
    except (GleifDataError, ConfigError) as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(f"database error: {type(exc).__name__}")
    except KeyboardInterrupt:
        return _fail("interrupted; nothing was written", code=130)
    except BrokenPipeError:
        # The reader of standard output went away (`| head`): not an error of ours.
        _abandon_stdout()
        return 0
    finally:
        if engine is not None:
            engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m gleif_data",
        description="GLEIF matches of web domains: import, inspect and export batches. "
        "The database is DATABASE_URL, else [connections.gleif] url in "
        ".streamlit/secrets.toml, else the SQLite file gleif.db.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="create or upgrade the schema")
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo", help="load the demo batches and GLEIF reference data")
    demo.add_argument(
        "--if-empty", action="store_true", help="only when the database has no batch yet"
    )
    demo.set_defaults(run=_demo)

    batch = commands.add_parser("import-batch", help="import a CSV of (domain, candidate) rows")
    batch.add_argument("file", type=Path, help=".csv or .csv.gz, UTF-8")
    batch.add_argument("--batch", required=True, help="name of the batch to create")
    batch.add_argument("--replace", action="store_true", help="replace the batch if it exists")
    batch.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="TARGET=SOURCE",
        type=_column_mapping,
        help=f"read TARGET ({', '.join(TARGET_COLUMNS)}) from the file's SOURCE column",
    )
    batch.set_defaults(run=_import_batch)

    gleif = commands.add_parser("import-gleif", help="import a GLEIF golden-copy LEI-CDF CSV")
    gleif.add_argument("file", type=Path, help=".csv, .csv.gz or .zip")
    gleif.set_defaults(run=_import_gleif)

    batches = commands.add_parser("batches", help="list batches with their counts")
    batches.set_defaults(run=_batches)

    recount = commands.add_parser(
        "count-batches",
        help="count and store the Overview numbers that other programs' writes made stale",
    )
    recount.add_argument(
        "--batch", action="append", default=[], help="only this batch (repeat for more)"
    )
    recount.set_defaults(run=_count_batches)

    export = commands.add_parser("export", help="export a batch, one row per domain")
    export.add_argument("--batch", required=True)
    export.add_argument(
        "--out", help="file to write, or - for standard output (default: a dated name here)"
    )
    add_export_arguments(export)
    export.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="PostgreSQL CSV of the domain layout: connections that copy at once "
        "(default: GLEIF_EXPORT_WORKERS, else up to 4 by cores and free connections)",
    )
    export.set_defaults(run=_export)

    decisions = commands.add_parser("decisions", help="move QA decisions between databases")
    moves = decisions.add_subparsers(required=True, metavar="ACTION")
    out = moves.add_parser("export", help="write the decision log as CSV")
    out.add_argument("--batch", help="only this batch's decisions")
    out.add_argument("--out", default="-", help="file to write, or - for standard output")
    out.set_defaults(run=_decisions_export)
    into = moves.add_parser("import", help="append decisions from such a CSV (repeats skipped)")
    into.add_argument("file", type=Path)
    into.set_defaults(run=_decisions_import)

    grants = commands.add_parser(
        "grants", help="print (or --apply) the GRANT statements of a least-privilege role"
    )
    grants.add_argument("--role", required=True, help="the PostgreSQL role, created beforehand")
    grants.add_argument(
        "--reviewer", action="store_true", help="also let it record decisions (else: read only)"
    )
    grants.add_argument(
        "--database", help="the database to grant CONNECT on (default: the configured one)"
    )
    grants.add_argument(
        "--apply",
        action="store_true",
        help="run the statements on the configured database (as its owner), then print them",
    )
    grants.set_defaults(run=_grants)
    return parser


def _migrate(engine: Engine, _args: argparse.Namespace) -> int:
    # Alembic, the demo loader and the GLEIF importer load only for the commands that use
    # them: every command pays the start-up time of what is imported here.
    from gleif_data.migrate import upgrade

    upgrade(engine)
    _say(f"schema up to date: {describe_url(engine.url)}")
    return 0


def _demo(engine: Engine, args: argparse.Namespace) -> int:
    from gleif_data.demo import load_demo
    from gleif_data.migrate import upgrade

    upgrade(engine)
    report = load_demo(engine, only_if_empty=args.if_empty)
    if args.if_empty and not report.created and not report.reference_records:
        _say("the database has batches already; demo not loaded")
        return 0
    _say(
        f"demo: {report.reference_records:,} GLEIF reference records; "
        f"batches created: {', '.join(report.created) or 'none'}; "
        f"already there: {', '.join(report.skipped) or 'none'}"
    )
    return 0


def _import_batch(engine: Engine, args: argparse.Namespace) -> int:
    with _progress("import", "rows") as progress:
        report = import_batch(
            engine,
            args.file,
            args.batch,
            replace=args.replace,
            column_map=dict(args.column),
            progress=progress,
        )
    _say(report.summary())
    return 0


def _import_gleif(engine: Engine, args: argparse.Namespace) -> int:
    from gleif_data.import_gleif import import_gleif

    with _progress("import", "records") as progress:
        count = import_gleif(engine, args.file, progress=progress)
    _say(f"{count:,} GLEIF records imported or updated")
    return 0


def _batches(engine: Engine, _args: argparse.Namespace) -> int:
    with read_snapshot(engine) as connection:
        summaries = list_batches(connection)
    if not summaries:
        _say("no batches yet: run `python -m gleif_data demo` or `import-batch FILE --batch NAME`")
        return 0
    width = max(len("batch"), *(len(s.batch) for s in summaries))
    print(f"{'batch':<{width}}  {'domains':>10}  {'candidates':>10}")
    for s in summaries:
        print(f"{s.batch:<{width}}  {s.domains:>10,}  {s.candidates:>10,}")
    return 0


def _count_batches(engine: Engine, args: argparse.Namespace) -> int:
    from gleif_data.overview import refresh_counts
    from gleif_data.replica import is_read_only

    # Asked outside a read snapshot, which is read-only on any database.
    with database_errors(engine.url), engine.connect() as connection:
        if is_read_only(connection):
            raise GleifDataError(
                f"the {describe_url(engine.url)} is read-only (a hot standby?), so counts "
                "cannot be stored there: run count-batches against the primary"
            )
    # Bulk: counting a 10 M-domain batch takes longer than the dashboard's time limit.
    with read_snapshot(engine, bulk=True) as connection:
        for batch in args.batch:
            require_batch(connection, batch)
        batches = args.batch or [size.batch for size in list_batch_sizes(connection)]
        counted = set(refresh_counts(connection, batches))
    for batch in batches:
        _say(f"batch {batch!r}: {'counted' if batch in counted else 'already current'}")
    return 0


def _export(engine: Engine, args: argparse.Namespace) -> int:
    options = export_options_from_args(args)
    with read_snapshot(engine) as connection:
        require_batch(connection, args.batch)
    if args.out == "-":
        with _writing("standard output"):
            write_export(engine, args.batch, sys.stdout.buffer, options, workers=args.workers)
            sys.stdout.buffer.flush()
        return 0
    target = Path(args.out or export_file_name(args.batch, options.format))
    total = None
    if _interactive():
        with read_snapshot(engine, bulk=True) as connection:
            total = count_export_rows(connection, args.batch, options)
    with (
        _writing(str(target)),
        _progress("export", "rows", total) as progress,
        _atomic_file(target) as out,
    ):
        rows = write_export(engine, args.batch, out, options, progress, workers=args.workers)
    _say(f"{rows:,} rows written to {target}")
    return 0


@contextlib.contextmanager
def _writing(where: str) -> Iterator[None]:
    """Turn a failed write (a full disk, a folder we may not write) into a one-line error."""
    try:
        yield
    except BrokenPipeError:
        raise  # the reader went away: main() ends quietly
    except OSError as exc:
        if where == "standard output":
            _abandon_stdout()
        raise GleifDataError(f"cannot write {where}: {exc.strerror or exc}") from None


def _decisions_export(engine: Engine, args: argparse.Namespace) -> int:
    from gleif_data.decisions import export_decisions

    with read_snapshot(engine, bulk=True) as connection:
        if args.batch is not None:
            require_batch(connection, args.batch)  # a mistyped name is an error, not an empty file
        if args.out == "-":
            count = export_decisions(connection, sys.stdout, batch=args.batch)
        else:
            with _atomic_file(Path(args.out)) as out:
                text = io.TextIOWrapper(out, encoding="utf-8", newline="")
                count = export_decisions(connection, text, batch=args.batch)
                text.flush()
                text.detach()  # the atomic file closes `out` itself
    _say(f"{count:,} decisions exported")
    return 0


def _decisions_import(engine: Engine, args: argparse.Namespace) -> int:
    from gleif_data.decisions import import_decisions
    from gleif_data.migrate import upgrade

    upgrade(engine)
    added, skipped = import_decisions(engine, args.file)
    _say(f"{added:,} decisions imported, {skipped:,} already there")
    return 0


def _grants(engine: Engine, args: argparse.Namespace) -> int:
    from gleif_data.access import apply_grants, reader_grants, reviewer_grants

    postgresql = engine.dialect.name == "postgresql"
    if args.apply and not postgresql:
        return _fail(f"{describe_url(engine.url)} is not PostgreSQL: SQLite has no roles")
    database = args.database or (engine.url.database if postgresql else None)
    if not database:
        return _fail("name the PostgreSQL database with --database NAME")
    statements = (reviewer_grants if args.reviewer else reader_grants)(args.role, database)
    if args.apply:
        with write_transaction(engine) as connection:
            apply_grants(connection, statements)
    for statement in statements:
        print(f"{statement};")
    if args.apply:
        _say(f"granted to {args.role} on {describe_url(engine.url)}")
    return 0


@contextlib.contextmanager
def _atomic_file(target: Path) -> Iterator[BinaryIO]:
    """Write beside the target and rename at the end: a failed export leaves no file.

    A symlink's target is the file written (the link stays a link). FIFOs, devices
    (/dev/stdout, /dev/null) and other special nodes are written straight into, as any
    program would: renaming onto them would replace the node and its reader gets nothing.
    """
    if target.is_dir():
        raise GleifDataError(f"--out {target} is a directory")
    if _special_node(target):
        with open(target, "wb") as out:
            yield out
        return
    target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    # mkstemp makes the file private (0600); an export gets the usual mode for new files.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(partial, 0o666 & ~umask)
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _special_node(target: Path) -> bool:
    """Whether `target` is a node to write into: not a regular file, or a process's descriptor."""
    # /dev/stdout redirected to a file resolves to that file: still the shell's descriptor.
    where = str(target.absolute())
    if where in ("/dev/stdout", "/dev/stderr") or where.startswith(("/dev/fd/", "/proc/")):
        return True
    try:
        return not stat.S_ISREG(target.stat().st_mode)
    except OSError:
        return False  # missing or a dangling symlink (created); other errors show when writing


@contextlib.contextmanager
def _progress(verb: str, unit: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silence when the output goes to a file or a pipe."""
    if not _interactive():
        yield lambda _n: None
        return
    with tqdm(total=total, desc=verb, unit=f" {unit}", unit_scale=True, file=sys.stderr) as bar:
        yield bar.update


def _interactive() -> bool:
    return sys.stderr.isatty()


def _column_mapping(text: str) -> tuple[str, str]:
    target, sep, source = text.partition("=")
    if not sep or not target.strip() or not source.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not TARGET=SOURCE")
    return target.strip(), source.strip()


def _workers(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_WORKERS}")
    return value


def _abandon_stdout() -> None:
    """Point standard output at /dev/null: what is left in its buffer cannot be written.

    Python flushes standard output at exit; a flush that fails there prints a traceback and
    turns the exit code into 120.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code

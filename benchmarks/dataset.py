"""The benchmark database and input files, built deterministically from a seed.

The database starts in the legacy schema (`domains`, `gleif_candidates` as the matching
process created them), is filled inside PostgreSQL with generate_series and seeded hashes,
and is then upgraded with `gleif_data.migrate.upgrade`, like a real legacy database.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

from gleif_data.db import make_engine
from gleif_data.demo import GOLDEN_COPY_SAMPLE
from gleif_data.migrate import upgrade

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
LARGE_BATCH = "bench-large"
SMALL_BATCHES = {"bench-small-a": 100_000, "bench-small-b": 100_000}
IMPORTED_BATCH = "bench-import"
ENTITY_POOL = 400_000
# Cumulative per-mille thresholds of candidates per domain: 30 % none, a long tail up to 10,
# 1.59 candidates per domain on average.
COUNT_THRESHOLDS = (300, 615, 785, 875, 925, 955, 975, 987, 995, 998, 1000)
_LEGAL_FORMS = (
    "LIMITED",
    "GMBH",
    "S.A.",
    "INC.",
    "B.V.",
    "S.R.L.",
    "AG",
    "SP. Z O.O.",
    "HOLDINGS LTD",
    "PLC",
    "KFT.",
    "A/S",
    "LLC",
    "S.A.S.",
)
_LEGACY_SCHEMA = """
CREATE TABLE domains (id integer PRIMARY KEY, domain text, batch_id text);
CREATE TABLE gleif_candidates (
    id integer PRIMARY KEY, domain_id integer REFERENCES domains(id),
    lei_code text, legal_name text
);
CREATE TABLE bench_meta (key text PRIMARY KEY, value text);
"""


@dataclass(frozen=True)
class BenchSpec:
    """What to build: the large batch's size and the seed."""

    large_domains: int
    seed: int

    @property
    def database(self) -> str:
        """One database per scale, so that 1 M and 2 M runs can sit side by side."""
        millions = self.large_domains / 1_000_000
        label = f"{millions:g}m".replace(".", "_")
        return "gleif_bench" if label == "1m" else f"gleif_bench_{label}"

    @property
    def batches(self) -> dict[str, int]:
        """Batches in id order, with their domain counts."""
        return {LARGE_BATCH: self.large_domains, **SMALL_BATCHES}

    def fingerprint(self) -> str:
        """What the database was built from; a mismatch means rebuild."""
        return f"v2 large={self.large_domains} seed={self.seed}"


def database_url(server: URL, spec: BenchSpec) -> URL:
    """The URL of the benchmark database on the server."""
    return server.set(database=spec.database)


def libpq_dsn(url: URL) -> str:
    """A libpq connection string for psycopg from a SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(server: URL, spec: BenchSpec, say: callable = print) -> URL:  # type: ignore[valid-type]
    """Build the benchmark database unless one built from the same spec is there already."""
    url = database_url(server, spec)
    admin_dsn = libpq_dsn(server.set(database="postgres"))
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (spec.database,)
        ).fetchone()
        if exists and _built_from(url, spec):
            say(f"reusing database {spec.database} ({spec.fingerprint()}), migrated to head")
            _upgrade(url)  # the schema may have moved on since the data was built
            return url
        if exists:
            admin.execute(f'DROP DATABASE "{spec.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{spec.database}"')
    say(f"building database {spec.database} ({spec.fingerprint()}) ...")
    with psycopg.connect(libpq_dsn(url)) as connection:
        connection.execute(_LEGACY_SCHEMA)
        _load_entities(connection, spec.seed)
        _fill_batches(connection, spec)
        connection.commit()
    _upgrade(url)
    with psycopg.connect(libpq_dsn(url), autocommit=True) as connection:
        _decide(connection, spec)
        connection.execute("VACUUM ANALYZE")
        connection.execute(
            "INSERT INTO bench_meta VALUES ('fingerprint', %s)", (spec.fingerprint(),)
        )
    return url


def _decide(connection: psycopg.Connection, spec: BenchSpec) -> None:
    """QA decisions on one domain in seven of the large batch, as mid-way through a review."""
    connection.execute(
        """
        INSERT INTO qa_decisions (batch_id, domain, action, decided_by, decided_at)
        SELECT batch_id, domain,
               (ARRAY['accept', 'reject', 'no_match', 'reset'])[
                   1 + abs(hashint8extended(id, %(seed)s + 4)) %% 4],
               'bench', now()
        FROM domains WHERE batch_id = %(batch)s AND abs(hashint8extended(id, %(seed)s + 5)) %% 7 = 0
        """,
        {"seed": spec.seed, "batch": LARGE_BATCH},
    )


def _upgrade(url: URL) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _built_from(url: URL, spec: BenchSpec) -> bool:
    try:
        with psycopg.connect(libpq_dsn(url)) as connection:
            row = connection.execute(
                "SELECT value FROM bench_meta WHERE key = 'fingerprint'"
            ).fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] == spec.fingerprint()


def _load_entities(connection: psycopg.Connection, seed: int) -> None:
    """A pool of LEIs with names: the real sample first, then look-alikes built from it."""
    connection.execute(
        "CREATE TABLE bench_entities (n integer PRIMARY KEY, lei text, legal_name text, "
        "label text, tld text)"
    )
    with connection.cursor().copy("COPY bench_entities FROM STDIN") as copy:
        for n, entity in enumerate(entity_pool(seed, ENTITY_POOL)):
            copy.write_row((n, *entity))


def sample_entities() -> list[tuple[str, str, str]]:
    """(LEI, legal name, country) of the real golden-copy records the project ships."""
    with gzip.open(GOLDEN_COPY_SAMPLE, "rt", encoding="utf-8", newline="") as handle:
        return [
            (r["LEI"], r["Entity.LegalName"], r["Entity.LegalAddress.Country"])
            for r in csv.DictReader(handle)
        ]


def entity_pool(seed: int, size: int) -> Iterator[tuple[str, str, str, str]]:
    """(LEI, legal name, domain label, TLD) for `size` entities, always the same for a seed."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    sample = sample_entities()
    prefixes = sorted({lei[:4] for lei, _name, _country in sample})
    for n in range(size):
        lei, name, country = sample[n % len(sample)]
        if n >= len(sample):
            lei = make_lei(rng, rng.choice(prefixes))
            words = name.split()
            name = " ".join([*words[: max(1, len(words) - 1)], rng.choice(_LEGAL_FORMS)])
        yield lei, name, _label(name, n), _tld(country)


def make_lei(rng: random.Random, prefix: str) -> str:
    """An LEI with a LOU prefix, 14 random characters and valid ISO 7064 check digits."""
    body = prefix + "00" + "".join(rng.choices("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=12))
    number = int("".join(str(int(ch, 36)) for ch in body + "00"))
    return f"{body}{98 - number % 97:02d}"


def _label(name: str, n: int) -> str:
    for word in name.lower().split():
        label = "".join(ch for ch in word if ch.isascii() and ch.isalnum())
        if len(label) >= 3:
            return label
    return f"entity{n}"


def _tld(country: str) -> str:
    code = country.strip().lower()
    return {"gb": "uk", "us": "com", "": "com"}.get(code, code if len(code) == 2 else "com")


def _fill_batches(connection: psycopg.Connection, spec: BenchSpec) -> None:
    """Domains per batch, then their candidates; every choice is a seeded hash of the id."""
    offset = 0
    for batch, count in spec.batches.items():
        connection.execute(
            """
            INSERT INTO domains (id, domain, batch_id)
            SELECT %(offset)s + g,
                   CASE WHEN hashint8extended(g, %(seed)s + 1) %% 7 = 0 THEN 'www.' ELSE '' END
                   || e.label || '-' || g || '.' || e.tld,
                   %(batch)s
            FROM generate_series(1, %(count)s) AS g
            JOIN bench_entities AS e
              ON e.n = abs(hashint8extended(%(offset)s + g, %(seed)s)) %% %(pool)s
            """,
            {
                "offset": offset,
                "seed": spec.seed,
                "batch": batch,
                "count": count,
                "pool": ENTITY_POOL,
            },
        )
        offset += count
    thresholds = " ".join(
        f"WHEN abs(hashint8extended(d.id, %(seed)s + 2)) %% 1000 < {limit} THEN {k}"
        for k, limit in enumerate(COUNT_THRESHOLDS)
    )
    connection.execute(
        f"""
        INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name)
        SELECT row_number() OVER (ORDER BY d.id, k), d.id, e.lei,
               CASE WHEN abs(hashint8extended(d.id * 16 + k, %(seed)s + 3)) %% 100 = 0
                    THEN NULL ELSE e.legal_name END
        FROM domains AS d
        CROSS JOIN LATERAL generate_series(1, CASE {thresholds} END) AS k
        JOIN bench_entities AS e
          ON e.n = abs(hashint8extended(
                 CASE WHEN k = 1 THEN d.id ELSE d.id * 16 + k END, %(seed)s)) %% %(pool)s
        """,
        {"seed": spec.seed, "pool": ENTITY_POOL},
    )


def import_batch_file(url: URL, spec: BenchSpec, rows: int) -> Path:
    """A match CSV of `rows` rows in the import format, cut from the large batch."""
    path = DATA_DIR / f"import-batch_{spec.seed}_{rows}.csv"
    if path.exists():
        return path
    query = """
        SELECT CASE abs(hashint8extended(d.id, %(seed)s + 4)) %% 20
                    WHEN 0 THEN 'https://' || upper(d.domain) || '/about'
                    WHEN 1 THEN ' ' || upper(d.domain)
                    ELSE d.domain END AS domain,
               c.lei_code, c.legal_name,
               CASE WHEN c.id IS NULL THEN NULL
                    ELSE round(abs(hashint8extended(c.id, %(seed)s)) %% 1000 / 1000.0, 3)
               END AS match_score,
               CASE WHEN c.id IS NULL THEN NULL
                    WHEN c.id %% 3 = 0 THEN 'fuzzy' ELSE 'exact' END AS match_method
        FROM domains AS d LEFT JOIN gleif_candidates AS c ON c.domain_id = d.id
        WHERE d.batch_id = %(batch)s
        ORDER BY d.id, c.id
        LIMIT %(rows)s
    """
    _copy_out(url, query, {"seed": spec.seed, "batch": LARGE_BATCH, "rows": rows}, path)
    return path


def golden_copy_file(spec: BenchSpec, rows: int) -> Path:
    """A golden-copy (LEI-CDF) CSV of `rows` records with GLEIF's column names and quoting."""
    path = DATA_DIR / f"golden-copy_{spec.seed}_{rows}.csv"
    if path.exists():
        return path
    with gzip.open(GOLDEN_COPY_SAMPLE, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        records = list(reader)
    rng = random.Random(spec.seed + 5)  # noqa: S311 - test data, not secrets
    prefixes = sorted({record[0][:4] for record in records})
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(header)
        for n in range(rows):
            record = list(records[n % len(records)])
            if n >= len(records):
                record[0] = make_lei(rng, rng.choice(prefixes))
            writer.writerow(record)
    partial.rename(path)
    return path


def _copy_out(url: URL, query: str, params: dict[str, object], path: Path) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    statement = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)"
    with (
        psycopg.connect(libpq_dsn(url)) as connection,
        connection.cursor() as cursor,
        partial.open("wb") as out,
        cursor.copy(statement, params) as copy,
    ):
        for block in copy:
            out.write(block)
    partial.rename(path)


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file."""
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(io.StringIO(handle.readline())))

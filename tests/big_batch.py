"""Large batches built in SQL, for tests that need an export to take a while."""

from __future__ import annotations

from sqlalchemy import Engine, text

from tests.support import sample_records

# Per mille of domains with at most 0, 1, 2, ... candidates: 30 % without, 1.5 on average.
CANDIDATE_SHARES = (300, 600, 800, 900, 960, 1000)


def seed_big_batch(engine: Engine, batch: str, domains: int) -> None:
    """Add a PostgreSQL batch of `domains` domains, candidates chosen by seeded hashes of ids."""
    records = [(n, r["LEI"], r["Entity.LegalName"]) for n, r in enumerate(sample_records())]
    counts = " ".join(
        f"WHEN mod(abs(hashint8extended(d.id, 2)), 1000) < {share} THEN {k}"
        for k, share in enumerate(CANDIDATE_SHARES)
    )
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TEMPORARY TABLE big_sample (n integer, lei text, legal_name text)")
        )
        connection.execute(
            text("INSERT INTO big_sample VALUES (:n, :lei, :name)"),
            [{"n": n, "lei": lei, "name": name} for n, lei, name in records],
        )
        connection.execute(
            text(
                "INSERT INTO domains (domain, batch_id) "
                "SELECT 'site-' || g || '.com', :batch FROM generate_series(1, :domains) AS g "
                "ORDER BY g"
            ),
            {"batch": batch, "domains": domains},
        )
        connection.execute(
            text(
                f"""
                INSERT INTO gleif_candidates
                    (domain_id, lei_code, legal_name, match_score, match_method)
                SELECT d.id, s.lei, s.legal_name,
                       mod(abs(hashint8extended(d.id * 16 + k, 4)), 1000) / 1000.0,
                       CASE WHEN k = 1 THEN 'exact' ELSE 'fuzzy' END
                FROM domains AS d
                CROSS JOIN LATERAL generate_series(1, CASE {counts} END) AS k
                JOIN big_sample AS s
                  ON s.n = mod(abs(hashint8extended(d.id * 16 + k, 3)), :pool)
                WHERE d.batch_id = :batch
                ORDER BY d.id, k
                """
            ),
            {"batch": batch, "pool": len(records)},
        )
        connection.execute(text("DROP TABLE big_sample"))
        connection.execute(text("ANALYZE domains, gleif_candidates"))


def seed_wide_batch(engine: Engine, batch: str, domains: int = 30_000) -> None:
    """Add a batch, on either database, whose export takes 15-20 MB in every format.

    Two candidates per domain with random hex names, which do not compress: the Parquet
    file is as large as the others.
    """
    random_hex = (
        "hex(randomblob(100))"
        if engine.dialect.name == "sqlite"
        else "md5(random()::text) || md5(random()::text) || md5(random()::text)"
    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO domains (domain, batch_id) "
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
                "SELECT 'wide-' || n || '.com', :batch FROM g"
            ),
            {"n": domains, "batch": batch},
        )
        for lei in ("5493001KJTIIGC8Y1R12", "0292001130A2Q5CDA023"):
            connection.execute(
                text(
                    "INSERT INTO gleif_candidates (domain_id, lei_code, legal_name) "
                    f"SELECT id, :lei, {random_hex} FROM domains WHERE batch_id = :batch "
                    "ORDER BY id"
                ),
                {"lei": lei, "batch": batch},
            )

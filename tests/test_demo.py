import unicodedata
from collections import Counter

from sqlalchemy import text

from gleif_data.db import make_engine
from gleif_data.demo import DEMO_BATCHES, load_demo
from gleif_data.export import ExportLayout, ExportOptions, export_bytes
from gleif_data.lei import has_valid_check_digits
from gleif_data.migrate import upgrade
from gleif_data.queries import list_batches
from tests.support import data_rows
from tests.transactions import read


def test_the_demo_has_what_qa_needs_and_loading_it_again_changes_nothing(engine):
    report = load_demo(engine)
    assert report.created == list(DEMO_BATCHES)
    before = data_rows(engine)

    again = load_demo(engine)
    assert again.created == []
    assert data_rows(engine) == before

    sizes = {s.batch: s.domains for s in read(engine, list_batches)}
    assert sizes == DEMO_BATCHES
    assert max(sizes.values()) >= 5000
    with engine.connect() as connection:
        counts = connection.execute(
            text(
                "SELECT count(c.id) FROM domains d LEFT JOIN gleif_candidates c"
                " ON c.domain_id = d.id WHERE d.batch_id = 'demo-large' GROUP BY d.id"
            )
        ).scalars()
        spread = Counter(min(n, 2) for n in counts)
        statuses = set(
            connection.execute(
                text(
                    "SELECT r.registration_status FROM gleif_candidates c"
                    " JOIN lei_records r ON r.lei = c.lei_code"
                )
            ).scalars()
        )
        leis = set(connection.execute(text("SELECT lei_code FROM gleif_candidates")).scalars())
        names = connection.execute(text("SELECT legal_name FROM gleif_candidates")).scalars().all()
    assert all(spread[n] > 100 for n in (0, 1, 2))
    assert {"LAPSED", "RETIRED", "ANNULLED", "DUPLICATE"} <= statuses
    assert {"579100EKDEGDFEHDC086", "579100KKDKKHFCBKB093"} <= {
        lei for lei in leis if not has_valid_check_digits(lei)
    }
    scripts = {_script(name) for name in names}
    assert len(scripts) >= 5


def test_the_demo_is_the_same_in_every_database(engine, tmp_path):
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    load_demo(engine)
    load_demo(other)
    for batch in DEMO_BATCHES:
        options = ExportOptions(layout=ExportLayout.CANDIDATE)
        assert export_bytes(engine, batch, options) == export_bytes(other, batch, options)
    other.dispose()


def test_demo_if_empty_leaves_a_database_with_batches_alone(engine):
    load_demo(engine)
    report = load_demo(engine, only_if_empty=True)
    assert report.created == []
    assert report.reference_records == 0


def _script(name):
    for char in name:
        if char.isalpha():
            return unicodedata.name(char, "?").split()[0]
    return "NONE"

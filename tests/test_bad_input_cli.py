"""Bad input on the command line: one line naming file and line, exit 1, the database untouched.

The matrix runs `gleif_data.cli.main` in this process (a subprocess per case would cost a
second each); a few cases run the real `python -m gleif_data` to show the process's exit code.
"""

import gzip
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from gleif_data.cli import main
from gleif_data.import_batch import import_batch
from tests.conftest import database_env
from tests.fingerprint import database_fingerprint
from tests.support import ACME, ZETA, batch_rows, write_csv
from tests.test_csv_input import damaged_gzip, damaged_zip

HEADER = "domain,lei_code,legal_name,match_score,match_method\n"
GOOD = f"acme.com,{ACME},ACME,0.9,exact\n"
GOLDEN_HEADER = "LEI,Entity.LegalName,Registration.RegistrationStatus\n"
GOLDEN_GOOD = f"{ACME},ACME,ISSUED\n"
MEGABYTES = 3 * 1024 * 1024


def run_cli(monkeypatch, capsys, engine, *args):
    """Run the CLI in this process against `engine`'s database: (exit code, stderr lines)."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    code = main(list(args))
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture
def seeded(engine, tmp_path):
    """A database that already holds a batch, so that 'unchanged' means something."""
    import_batch(
        engine, write_csv(tmp_path / "keep.csv", [["keep.com", ZETA, "K", "", ""]]), "keep"
    )
    return engine


BATCH_CASES = {
    "missing required column": (f"website,lei_code\nacme.com,{ACME}\n", 1, "no column 'domain'"),
    "extra field on a row": (HEADER + GOOD + f"z.de,{ZETA},Z,,,extra\n", 3, "6 fields where"),
    "cp1252": (
        (HEADER + GOOD).encode() + f"z.de,{ZETA},Zeta Müller – Söhne,,\n".encode("cp1252"),
        3,
        "not UTF-8 (byte 0xFC at column 33); save the file as 'CSV UTF-8'",
    ),
    "latin-1": (
        (HEADER + GOOD).encode() + f"z.de,{ZETA},Société Générale,,\n".encode("latin-1"),
        3,
        "not UTF-8 (byte 0xE9 at column 31)",
    ),
    "nul byte": (HEADER + GOOD + f"z.de,{ZETA},Ze\x00ta,,\n", 3, "NUL byte"),
    "unterminated quote": (HEADER + GOOD + f'z.de,{ZETA},"Zeta,,\n', 3, "unterminated quote"),
    "empty file": ("", 1, "the file is empty"),
    "blank first line": ("\n\n", 1, "the file is empty"),
    "header alone": (HEADER, None, "the file has a header but no rows"),
    "quoted field of several MB": (
        HEADER + GOOD + f'z.de,{ZETA},"' + "x" * MEGABYTES + '",,\n',
        3,
        "a field is longer than 131,072 characters",
    ),
    "unquoted domain of several MB": (
        HEADER + GOOD + "a" * MEGABYTES + f".com,{ZETA},Z,,\n",
        3,
        "a field is longer than 131,072 characters",
    ),
    "line of several MB of fields": (HEADER + GOOD + "," * MEGABYTES + "\n", 3, "fields where"),
    "lei too short": (HEADER + GOOD + "z.de,0292001130A2Q5CDA02,Z,,\n", 3, "not 20 letters"),
    "lei too long": (HEADER + GOOD + f"z.de,{ZETA}0,Z,,\n", 3, "not 20 letters and digits"),
    "lei with a hyphen": (HEADER + GOOD + "z.de,0292001130-2Q5CDA023,Z,,\n", 3, "not 20 letters"),
    "lei with a space": (HEADER + GOOD + "z.de,0292001130 2Q5CDA023,Z,,\n", 3, "not 20 letters"),
    "lei with a quote": (HEADER + GOOD + "z.de,0292001130'2Q5CDA023,Z,,\n", 3, "not 20 letters"),
    "lei in full-width digits": (
        HEADER + GOOD + "z.de,０２９２００１１３０A2Q5CDA023,Z,,\n",
        3,
        "not 20 letters and digits",
    ),
    "empty domain": (HEADER + GOOD + f",{ZETA},Z,,\n", 3, "the domain is empty"),
    "blank domain": (HEADER + GOOD + f"   ,{ZETA},Z,,\n", 3, "the domain is empty"),
    "domain with a space": (HEADER + GOOD + f"not a domain,{ZETA},Z,,\n", 3, "not a domain name"),
    "single-label domain": (HEADER + GOOD + f"localhost,{ZETA},Z,,\n", 3, "not a domain name"),
    "ip address": (HEADER + GOOD + f"10.0.0.1,{ZETA},Z,,\n", 3, "not a domain name"),
    "sql in the domain": (
        HEADER + GOOD + f"'; DROP TABLE domains; --,{ZETA},Z,,\n",
        3,
        "not a domain name",
    ),
    "utf-16 (excel unicode text) with a bad lei on line 3": (
        (HEADER + GOOD + "z.de,0292001130A2Q5CDA02,Z,,\n").replace(",", "\t").encode("utf-16"),
        3,
        "LEI '0292001130A2Q5CDA02' is not 20 letters and digits",
    ),
    "invalid utf-16": (
        "\ufeff".encode("utf-16-le") + (HEADER + GOOD).encode("utf-16-le") + b"\x00\xd8z\x00",
        3,
        "not valid UTF-16 (illegal UTF-16 surrogate); save the file as 'CSV UTF-8'",
    ),
    "utf-16 without a byte-order mark": (
        (HEADER + GOOD).encode("utf-16-le"),
        1,
        "UTF-16 without a byte-order mark: save the file as 'CSV UTF-8'",
    ),
    "cr-only line ends with a bad lei on line 3": (
        (HEADER + GOOD + "z.de,0292001130A2Q5CDA02,Z,,\n").replace("\n", "\r"),
        3,
        "LEI '0292001130A2Q5CDA02' is not 20 letters and digits",
    ),
    "carriage return in an unquoted field": (
        HEADER + GOOD + f"z.de,{ZETA},Ze\rta,,\n",
        3,
        "a line break (carriage return) inside an unquoted field: quote the field",
    ),
    "semicolon file with a decimal comma": (
        f"\ufeffdomain;lei_code;legal_name;match_score\r\nacme.com;{ACME};ACME;0,9\r\n",
        2,
        "match_score '0,9' is not a number",
    ),
}


@pytest.mark.parametrize(("content", "line", "reason"), BATCH_CASES.values(), ids=BATCH_CASES)
def test_import_batch_refuses_bad_input_in_one_line_and_writes_nothing(
    seeded, tmp_path, monkeypatch, capsys, content, line, reason
):
    path = tmp_path / "bad input.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = database_fingerprint(seeded)
    code, lines = run_cli(monkeypatch, capsys, seeded, "import-batch", str(path), "--batch", "b1")
    where = f"{path}:{line}: " if line else f"{path}: "
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {where}")
    assert reason in lines[0]
    assert len(lines[0]) < 400
    assert database_fingerprint(seeded) == before


def test_replacing_a_batch_with_a_bad_file_keeps_the_old_batch(
    seeded, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "bad.csv"
    path.write_bytes((HEADER + GOOD + f"z.de,{ZETA},Z,high,\n").encode())
    before = database_fingerprint(seeded)
    code, lines = run_cli(
        monkeypatch, capsys, seeded, "import-batch", str(path), "--batch", "keep", "--replace"
    )
    assert (code, lines) == (1, [f"error: {path}:3: match_score 'high' is not a number"])
    assert database_fingerprint(seeded) == before


@pytest.mark.parametrize(
    "code",
    ["5493001KJTııGC8Y1R12", "ß" * 10, "5493001KJTIIGC8Y1Rﬁ"],
    ids=["dotless i", "sharp s", "ligature"],
)
def test_an_lei_of_non_ascii_letters_is_refused_even_when_it_upper_cases_to_20(
    seeded, tmp_path, monkeypatch, capsys, code
):
    # 'ı'.upper() is 'I', 'ß'.upper() is 'SS' and 'ﬁ'.upper() is 'FI': without the check a
    # 10-character "LEI" or a Turkish look-alike is stored as a valid-looking code.
    path = tmp_path / "b.csv"
    path.write_text(HEADER + f"z.de,{code},Z,,\n", encoding="utf-8")
    before = database_fingerprint(seeded)
    result, lines = run_cli(monkeypatch, capsys, seeded, "import-batch", str(path), "--batch", "b1")
    assert result == 1
    assert lines == [f"error: {path}:2: LEI {code!r} is not 20 letters and digits"]
    assert database_fingerprint(seeded) == before


def stored(engine, batch):
    return [row[:3] for row in batch_rows(engine, batch)]


def test_extra_columns_in_the_header_are_ignored(engine, tmp_path, monkeypatch, capsys):
    path = tmp_path / "wide.csv"
    path.write_text(
        f"Country,domain,notes,lei_code,legal_name,Reviewer\nDE,acme.com,x,{ACME},ACME,me\n",
        encoding="utf-8",
    )
    code, lines = run_cli(monkeypatch, capsys, engine, "import-batch", str(path), "--batch", "b1")
    assert code == 0, lines
    assert stored(engine, "b1") == [("acme.com", ACME, "ACME")]


def test_a_semicolon_file_as_excel_writes_it_imports_like_a_comma_file(
    engine, tmp_path, monkeypatch, capsys
):
    excel = tmp_path / "excel.csv"
    excel.write_bytes(
        (
            "\ufeffdomain;lei_code;legal_name\r\n"
            f'acme.com;{ACME};"ACME; Inc"\r\nzeta.de;{ZETA};"Zeta ""GmbH"""\r\n'
        ).encode()
    )
    code, lines = run_cli(monkeypatch, capsys, engine, "import-batch", str(excel), "--batch", "b1")
    assert code == 0, lines
    assert stored(engine, "b1") == [
        ("acme.com", ACME, "ACME; Inc"),
        ("zeta.de", ZETA, 'Zeta "GmbH"'),
    ]


def test_the_same_domain_and_lei_twice_is_kept_once_and_the_cli_says_so(
    engine, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "twice.csv"
    path.write_text(HEADER + GOOD + f"ACME.com,{ACME.lower()},ACME again,,\n", encoding="utf-8")
    code, lines = run_cli(monkeypatch, capsys, engine, "import-batch", str(path), "--batch", "b1")
    assert code == 0
    assert lines == [
        "batch 'b1': 1 domains, 1 candidates imported; 1 repeated (domain, LEI) rows kept once"
    ]
    assert stored(engine, "b1") == [("acme.com", ACME, "ACME")]


GOLDEN_CASES = {
    "missing LEI column": ("Entity.LegalName,Registration.RegistrationStatus\nACME,ISSUED\n", 1,
                           "no 'LEI' column: expected a GLEIF golden-copy (LEI-CDF) CSV file"),
    "lei too short": (GOLDEN_HEADER + GOLDEN_GOOD + "0292001130A2Q5,Z,ISSUED\n", 3,
                      "LEI: LEI '0292001130A2Q5' is not 20 letters and digits"),
    "empty lei": (GOLDEN_HEADER + GOLDEN_GOOD + ",Z,ISSUED\n", 3, "LEI: LEI '' is not 20"),
    "cp1252": ((GOLDEN_HEADER + GOLDEN_GOOD).encode() + f"{ZETA},Zeta Müller,ISSUED\n".encode("cp1252"),
               3, "not UTF-8 (byte 0xFC"),
    "nul byte": (GOLDEN_HEADER + GOLDEN_GOOD + f"{ZETA},Z\x00,ISSUED\n", 3, "NUL byte"),
    "unterminated quote": (GOLDEN_HEADER + GOLDEN_GOOD + f'{ZETA},"Z,ISSUED\n', 3, "unterminated"),
    "empty file": ("", 1, "the file is empty"),
    "extra field on a row": (GOLDEN_HEADER + GOLDEN_GOOD + f"{ZETA},Z,ISSUED,x\n", 3, "4 fields"),
    "utf-16 with a bad lei on line 3": ((GOLDEN_HEADER + GOLDEN_GOOD + "0292001130A2Q5,Z,I\n").encode("utf-16"),
                                        3, "LEI: LEI '0292001130A2Q5' is not 20 letters and digits"),
    "invalid utf-16": (b"\xff\xfe" + (GOLDEN_HEADER + GOLDEN_GOOD).encode("utf-16-le") + b"\x00\xdc",
                       3, "not valid UTF-16 (illegal encoding)"),
    "cr-only line ends with a bad lei on line 3": (
        (GOLDEN_HEADER + GOLDEN_GOOD + "0292001130A2Q5,Z,I\n").replace("\n", "\r"), 3,
        "LEI: LEI '0292001130A2Q5' is not 20 letters and digits"),
    "line of several MB": (GOLDEN_HEADER + GOLDEN_GOOD + f'{ZETA},"' + "x" * MEGABYTES + '",I\n', 3,
                           "a field is longer than 131,072 characters"),
}  # fmt: skip


@pytest.mark.parametrize(("content", "line", "reason"), GOLDEN_CASES.values(), ids=GOLDEN_CASES)
def test_import_gleif_refuses_bad_input_in_one_line_and_writes_nothing(
    seeded, tmp_path, monkeypatch, capsys, content, line, reason
):
    path = tmp_path / "golden.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = database_fingerprint(seeded)
    code, lines = run_cli(monkeypatch, capsys, seeded, "import-gleif", str(path))
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}:{line}: ")
    assert reason in lines[0]
    assert database_fingerprint(seeded) == before


def test_a_golden_copy_header_alone_imports_nothing_and_says_so(
    seeded, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "golden.csv"
    path.write_text(GOLDEN_HEADER, encoding="utf-8")
    before = database_fingerprint(seeded)
    code, lines = run_cli(monkeypatch, capsys, seeded, "import-gleif", str(path))
    assert (code, lines) == (0, ["0 GLEIF records imported or updated"])
    assert database_fingerprint(seeded) == before


@pytest.mark.parametrize(
    ("command", "content", "expected"),
    [
        (["import-batch", "--batch", "b1"], f"website\nacme.com\n{GOOD}",
         ":1: no column 'domain' (the columns are 'website'); map one with --column domain=NAME"),
        (["import-gleif"], "Entity.LegalName\nACME\n",
         ":1: no 'LEI' column: expected a GLEIF golden-copy (LEI-CDF) CSV file"),
    ],
    ids=["import-batch", "import-gleif"],
)  # fmt: skip
def test_the_real_process_exits_1_with_one_line_and_no_traceback(
    seeded, tmp_path, command, content, expected
):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    before = database_fingerprint(seeded)
    result = subprocess.run(
        [sys.executable, "-m", "gleif_data", command[0], str(path), *command[1:]],
        env=database_env(seeded),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [f"error: {path}{expected}"]
    assert database_fingerprint(seeded) == before


def _reading_position(pid: int, path: Path) -> int | None:
    """How far the process has read `path` (Linux /proc), or None before it opens it."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                return int(info.split("pos:")[1].split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


@pytest.mark.skipif(not Path("/proc/self/fdinfo").exists(), reason="needs Linux /proc")
def test_an_import_killed_half_way_leaves_no_trace(seeded, tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        for index in range(100_000):
            handle.write(f"site{index}.example.com,{ACME},ACME {index} Ltd,0.5,exact\n")
    size = path.stat().st_size
    before = database_fingerprint(seeded)
    process = subprocess.Popen(
        [sys.executable, "-m", "gleif_data", "import-batch", str(path), "--batch", "big"],
        env=database_env(seeded),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    position = None
    while time.monotonic() < deadline and process.poll() is None:
        position = _reading_position(process.pid, path)
        if position is not None and position > size // 3:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the import ended before it could be interrupted"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert position is not None
    assert position < size

    if seeded.dialect.name == "postgresql":
        _wait_until_the_server_drops_the_session(seeded)
    assert database_fingerprint(seeded) == before
    # Nothing is left half-done: the batch name is free for the same import.
    small = write_csv(tmp_path / "small.csv", [["site0.example.com", ACME, "ACME 0 Ltd", "", ""]])
    assert import_batch(seeded, small, "big").domains == 1


def _wait_until_the_server_drops_the_session(engine):
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND query LIKE 'COPY %' AND state <> 'idle'"
    )
    leftovers = text("SELECT count(*) FROM pg_class WHERE relname LIKE 'import_batch%'")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if not connection.execute(query).scalar_one():
                break
        time.sleep(0.05)
    with engine.connect() as connection:
        assert connection.execute(query).scalar_one() == 0
        assert connection.execute(leftovers).scalar_one() == 0


def _batch_rows(count: int) -> bytes:
    return (
        HEADER + "".join(f"s{i}.example.com,{ACME},N {i},0.5,x\n" for i in range(count))
    ).encode()


def _golden_rows(count: int) -> bytes:
    return (GOLDEN_HEADER + "".join(f"TEST{i:016d},N {i},ISSUED\n" for i in range(count))).encode()


COMMANDS = {
    "import-batch": (["import-batch", "--batch", "b1"], _batch_rows),
    "import-gleif": (["import-gleif"], _golden_rows),
}


@pytest.mark.parametrize("damage", [damaged_gzip, damaged_zip], ids=["gz", "zip"])
@pytest.mark.parametrize(("command", "rows"), COMMANDS.values(), ids=COMMANDS)
def test_damaged_deflate_data_ends_in_one_line_naming_the_line_and_writes_nothing(
    seeded, tmp_path, monkeypatch, capsys, damage, command, rows
):
    suffix = ".csv.gz" if damage is damaged_gzip else ".zip"
    path = damage(tmp_path / f"damaged{suffix}", rows(30_000))
    before = database_fingerprint(seeded)
    code, lines = run_cli(monkeypatch, capsys, seeded, command[0], str(path), *command[1:])
    assert code == 1
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"error: {re.escape(str(path))}:\d+: the compressed data is damaged "
        r"\(Error -3 while decompressing data: invalid block type\)",
        lines[0],
    )
    assert database_fingerprint(seeded) == before


ACCEPTED = {
    "utf-16 with a byte-order mark, tabs and CRLF (Excel's Unicode Text)": (
        lambda text: text.replace(",", "\t").replace("\n", "\r\n").encode("utf-16")
    ),
    "cr-only line ends (Excel for Mac)": lambda text: text.replace("\n", "\r").encode(),
    "empty names for extra columns": lambda text: text.replace("\n", ",,\n").encode(),
}


@pytest.mark.parametrize("encode", ACCEPTED.values(), ids=ACCEPTED)
def test_import_batch_reads_utf16_cr_only_and_unnamed_extra_columns(
    engine, tmp_path, monkeypatch, capsys, encode
):
    path = tmp_path / "excel.csv"
    path.write_bytes(encode(HEADER + GOOD + f"zeta.de,{ZETA},Zeta Müller – Söhne,,\n"))
    code, lines = run_cli(monkeypatch, capsys, engine, "import-batch", str(path), "--batch", "b1")
    assert code == 0, lines
    assert stored(engine, "b1") == [
        ("acme.com", ACME, "ACME"),
        ("zeta.de", ZETA, "Zeta Müller – Söhne"),
    ]


@pytest.mark.parametrize("encode", ACCEPTED.values(), ids=ACCEPTED)
def test_import_gleif_reads_utf16_cr_only_and_unnamed_extra_columns(
    engine, tmp_path, monkeypatch, capsys, encode
):
    path = tmp_path / "golden.csv"
    path.write_bytes(encode(GOLDEN_HEADER + GOLDEN_GOOD + f"{ZETA},Zeta Müller,ISSUED\n"))
    code, lines = run_cli(monkeypatch, capsys, engine, "import-gleif", str(path))
    assert (code, lines) == (0, ["2 GLEIF records imported or updated"])
    query = text("SELECT lei, legal_name FROM lei_records ORDER BY lei")
    with engine.connect() as connection:
        assert [tuple(row) for row in connection.execute(query)] == [
            (ZETA, "Zeta Müller"),
            (ACME, "ACME"),
        ]


# Peak memory of the import process, whatever the file holds (the lines are 8 MB at most).
PEAK_RSS_BOUND_MB = 300
_MEASURE = (
    "import resource, subprocess, sys\n"
    "result = subprocess.run(sys.argv[1:], capture_output=True, timeout=300)\n"
    "sys.stderr.buffer.write(result.stderr)\n"
    "print(result.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _gzip_of(path: Path, head: bytes, block: bytes, megabytes: int) -> Path:
    """A .csv.gz of `head` then `block` repeated to `megabytes` MB, made quickly (level 1)."""
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(head)
        chunk = block * (1024 * 1024 // len(block))
        for _ in range(megabytes):
            handle.write(chunk)
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Small files that inflate to 200 MB: zeros, one line without an end, one endless row."""
    folder = tmp_path_factory.mktemp("bombs")
    zeros = _gzip_of(folder / "zeros.csv.gz", b"", b"\x00", 200)
    made: dict[tuple[str, str], Path] = {}
    for command, header in (("import-batch", HEADER), ("import-gleif", GOLDEN_HEADER)):
        made[command, "zeros"] = zeros
        made[command, "line"] = _gzip_of(
            folder / f"{command} line.csv.gz", header.encode(), b"a", 200
        )
        made[command, "row"] = _gzip_of(
            folder / f"{command} row.csv.gz", header.encode(), b'"' + b"x" * 1000 + b'\n",', 200
        )
    return made


BOMB_MESSAGES = {
    "zeros": ":1: the line contains a NUL byte: the file is binary or damaged",
    "line": ":2: the line is longer than 8 MB: not a CSV file, or its line ends are lost",
    "row": ": the row is longer than 8 MB: a quoted field with line breaks that never closes?",
}


@pytest.mark.parametrize("bomb", BOMB_MESSAGES, ids=BOMB_MESSAGES)
@pytest.mark.parametrize(("command", "rows"), COMMANDS.values(), ids=COMMANDS)
def test_a_gzip_bomb_or_an_endless_line_is_refused_in_flat_memory(
    seeded, bombs, command, rows, bomb
):
    path = bombs[command[0], bomb]
    before = database_fingerprint(seeded)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "gleif_data", command[0],
         str(path), *command[1:]],
        env=database_env(seeded),
        capture_output=True,
        timeout=360,
        check=False,
    )  # fmt: skip
    code, peak_kb = (int(value) for value in result.stdout.split())
    lines = result.stderr.decode().splitlines()
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}:")
    assert lines[0].endswith(BOMB_MESSAGES[bomb])
    assert peak_kb / 1024 < PEAK_RSS_BOUND_MB
    assert database_fingerprint(seeded) == before

"""Every wait in the tests and fixtures is bounded, and says what it waited for."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests import conftest

TESTS = Path(__file__).resolve().parent
# Calls that block until something else happens: each needs a timeout.
BLOCKING = {"run", "wait", "communicate", "join", "check_call", "check_output", "result"}


def _unbounded_calls(path: Path) -> list[str]:
    """`file:line call` for each blocking call without a timeout in a test module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if name not in BLOCKING or any(k.arg == "timeout" for k in node.keywords):
            continue
        receiver = ast.unparse(node.func.value)
        if name == "run" and receiver != "subprocess":
            continue  # AppTest.run, page.run: not a process
        if name == "join" and node.args:
            continue  # str.join / os.path.join; a thread's join(120) would be positional
        if name == "result" and node.args:
            continue
        found.append(f"{path.name}:{node.lineno} {receiver}.{name}()")
    return found


def test_no_subprocess_thread_or_barrier_wait_in_the_tests_is_unbounded():
    unbounded = [call for path in sorted(TESTS.glob("*.py")) for call in _unbounded_calls(path)]
    assert unbounded == []


def test_a_truncate_behind_a_lock_fails_naming_the_tables(postgres_engine, monkeypatch):
    monkeypatch.setattr(conftest, "LOCK_TIMEOUT", 1)
    holder = postgres_engine.connect()
    try:
        holder.execute(text("LOCK TABLE qa_decisions IN ACCESS SHARE MODE"))
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"emptying the test tables .*qa_decisions"):
            conftest.empty_tables(postgres_engine)
        assert time.monotonic() - started < 10
    finally:
        holder.rollback()
        holder.close()


def test_an_unreachable_server_fails_database_setup_naming_the_step():
    url = make_url("postgresql+psycopg://root@127.0.0.1:1/gleif_test_nowhere")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"gave up on connecting to 127\.0\.0\.1:1"):
        conftest.create_database(url)
    assert time.monotonic() - started < conftest.CONNECT_TIMEOUT + 5

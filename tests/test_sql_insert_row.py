"""SQLite's INSERT ... RETURNING made without RETURNING (store/sql.py, InsertRow): the
same rows, of the same types, as RETURNING gives; RETURNING itself where it cannot be."""

from __future__ import annotations

import sqlite3

import pytest

from flexchat.store.sql import UniqueViolation, run_sync, sql

TABLE = (
    "CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, sid TEXT NOT NULL UNIQUE, n INTEGER,"
    " flag INTEGER NOT NULL, note TEXT, num NUMERIC, gone INTEGER DEFAULT 7)"
)
INSERT = sql(
    "INSERT INTO t (sid, n, flag, note, num) VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING"
    " RETURNING seq, sid, n, flag, note, num"
)
PLAIN = sql("INSERT INTO t (sid, n, flag, note) VALUES (?, ?, ?, ?) RETURNING seq, sid, n, flag, note")
DEFAULTED = sql("INSERT INTO t (sid, flag) VALUES (?, ?) RETURNING seq, gone")
NUMERIC = sql("INSERT INTO t (sid, flag, num) VALUES (?, ?, ?) RETURNING seq, num")


def _rows(conn: sqlite3.Connection, query: object) -> object:
    def script():  # type: ignore[no-untyped-def]
        rows = yield query
        return rows

    return run_sync(conn, script(), sqlite3.IntegrityError)[0]


def _returning(conn: sqlite3.Connection, statement: object, args: tuple[object, ...]) -> object:
    return conn.execute(statement.sqlite, args).fetchall()  # type: ignore[attr-defined]


@pytest.fixture
def conns() -> tuple[sqlite3.Connection, sqlite3.Connection]:
    made = []
    for _ in range(2):
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.execute(TABLE)
        made.append(conn)
    return made[0], made[1]


@pytest.mark.parametrize(
    ("statement", "args"),
    [
        (INSERT, ("a", 5, True, "x")),
        (INSERT, ("a", None, False, None)),
        (PLAIN, ("a", 2**40, 1, "é")),
        (PLAIN, ("a", "12", 0, 3)),  # text into INTEGER, integer into TEXT: RETURNING runs
        (PLAIN, ("a", 1.0, 0, "x")),  # a float: RETURNING runs
        (DEFAULTED, ("a", 1)),  # a column's default: RETURNING runs
        (NUMERIC, ("a", 1, "5")),  # NUMERIC affinity: RETURNING runs
    ],
)
def test_the_same_rows_of_the_same_types_as_returning(
    conns: tuple[sqlite3.Connection, sqlite3.Connection], statement: object, args: tuple[object, ...]
) -> None:
    fast, reference = conns
    for _ in range(2):  # the second one conflicts where the statement says DO NOTHING
        try:
            expected = _returning(reference, statement, args)
        except sqlite3.IntegrityError:
            with pytest.raises(UniqueViolation):
                _rows(fast, statement(*args))  # type: ignore[operator]
            continue
        got = _rows(fast, statement(*args))  # type: ignore[operator]
        assert got == expected
        assert [[type(value) for value in row] for row in got] == [  # type: ignore[union-attr]
            [type(value) for value in row] for row in expected  # type: ignore[attr-defined]
        ]


def test_only_plain_inserts_are_made_without_returning() -> None:
    assert INSERT.insert_row is not None and PLAIN.insert_row is not None
    assert sql("INSERT INTO t (sid) VALUES (lower(?)) RETURNING seq").insert_row is None
    assert sql("UPDATE t SET n = ? WHERE sid = ? RETURNING seq").insert_row is None
    assert sql("INSERT INTO t (sid) SELECT sid FROM t RETURNING seq").insert_row is None

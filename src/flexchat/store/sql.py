"""One definition of every query, compiled once per engine, and transactions written once.

A statement is written in the SQL that SQLite and PostgreSQL share, with ``?`` for its
arguments; :func:`sql` compiles it for both engines when the module that defines it is
imported (``$1, $2 ...`` for asyncpg, row locks dropped for SQLite, whose single writer
already serialises every write).

Operations that need several statements are written once as generators (a *transaction
script*): each ``yield`` hands over a :class:`Query` and receives its rows, ``return``
gives the result. The SQLite store drives a script synchronously on its writer thread
(inside the group commit) or on the event loop's reader connection; the PostgreSQL store
drives the same script with ``await`` on a pooled connection, in one transaction. So the
logic and its queries exist once, and neither engine's concurrency model leaks into them.

One function is spelled SQLite's way and renamed for PostgreSQL: ``json_group_array(x)``
(``json_agg(x)``), a list of values as one JSON text instead of a row each (a short read's
cost on SQLite is mostly the sqlite3 module's per row overhead). Over no rows SQLite
gives ``[]``, PostgreSQL NULL: :func:`json_list` reads either.

Two portable habits keep scripts engine-neutral:
- A conflict that the logic expects is written ``ON CONFLICT DO NOTHING RETURNING ...``
  and recognised by an empty result: a failed statement aborts a PostgreSQL transaction,
  so a script cannot catch and carry on. An unexpected one raises :class:`UniqueViolation`.
- Long text keys (identities, unique names) are matched as ``md5(col) = md5(?) AND col = ?``:
  PostgreSQL indexes their hash (a btree entry must stay under ~2.7 kB), and the SQLite
  store registers an ``md5`` function so the same text runs there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

T = TypeVar("T")
Row = Sequence[Any]
Rows = list[Row]

_ROW_LOCK = re.compile(r"\s+FOR\s+UPDATE(?:\s+SKIP\s+LOCKED)?", re.IGNORECASE)


class UniqueViolation(Exception):
    """A write broke a unique constraint that the script did not expect to meet."""


# An INSERT of one row whose RETURNING list SQLite can be spared (see InsertRow).
_INSERT_RETURNING = re.compile(
    r"(INSERT INTO (\w+) \(([\w, ]+)\) VALUES \(([?\w, ]+)\)(?: ON CONFLICT DO NOTHING)?) RETURNING ([\w, ]+)"
)
# A declared type's affinity, as SQLite decides it (https://sqlite.org/datatype3.html).
_AFFINITY_TEXT = ("CHAR", "CLOB", "TEXT")
# Per table: the affinity ("INTEGER", "TEXT" or other) of each column, and which column
# is the rowid (an INTEGER PRIMARY KEY); read once per process (one schema for every
# SQLite database a process opens: each is migrated to the latest version on open).
_TABLES: dict[str, tuple[dict[str, str], str | None]] = {}


def _table(conn: Any, name: str) -> tuple[dict[str, str], str | None]:
    table = _TABLES.get(name)
    if table is None:
        affinities: dict[str, str] = {}
        rowid = None
        for _, column, declared, _, _, pk in conn.execute(f"PRAGMA table_info({name})").fetchall():
            kind = declared.upper()
            affinities[column] = (
                "INTEGER" if "INT" in kind else "TEXT" if any(word in kind for word in _AFFINITY_TEXT) else "OTHER"
            )
            if pk == 1 and kind == "INTEGER":
                rowid = column
        table = _TABLES[name] = (affinities, rowid)
    return table


@dataclass(frozen=True, slots=True)
class InsertRow:
    """SQLite's way with ``INSERT ... VALUES (...) [ON CONFLICT DO NOTHING] RETURNING
    cols``: RETURNING costs SQLite ~6 us a statement whatever it returns (a third of an
    indexed insert of a row), so the row is written without it and the returned row made
    from what was written: each column its argument (or literal), the rowid column the
    new rowid; no row where nothing was inserted (``changes() = 0``). Only where that is
    exactly what RETURNING gives: no triggers (flexchat defines none), and every argument
    a text into a TEXT column, an integer or a bool (as 0 or 1) into an INTEGER one, or
    NULL (not into the rowid column); anything else runs the statement with its
    RETURNING list."""

    table: str
    plain: str
    # Per returned column: its argument's index, or -1 for the rowid, or -2 for a literal.
    sources: tuple[tuple[int, str, Any], ...]

    def run(self, conn: Any, args: tuple[Any, ...]) -> Rows | None:
        plan = _PLANS.get(self.plain, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = _PLANS[self.plain] = self._plan(conn)
        if plan is None:
            return None
        checks, rowid_positions = plan
        row: list[Any] = []
        for index, literal, text, integer, nullable in checks:
            if index < 0:  # a literal (checked when planned), or the rowid's place
                row.append(literal)
                continue
            value = args[index]
            kind = type(value)
            if kind is str:
                if not text:
                    return None
            elif kind is int:
                if not integer:
                    return None
            elif kind is bool:
                if not integer:
                    return None
                value = int(value)  # as sqlite3 binds it, and SQLite gives it back
            elif value is not None or not nullable:
                return None
            row.append(value)
        cursor = conn.execute(self.plain, args)
        if cursor.rowcount != 1:
            return []
        for position in rowid_positions:
            row[position] = cursor.lastrowid
        return [tuple(row)]

    def _plan(self, conn: Any) -> _Plan | None:
        """What :meth:`run` checks of each argument, worked out once per statement from
        the columns' affinities; None where RETURNING cannot be spared whatever the
        arguments (a returned column neither written nor the rowid, a literal the
        column would convert)."""
        affinities, rowid = _table(conn, self.table)
        checks: list[tuple[int, Any, bool, bool, bool]] = []
        rowid_positions: list[int] = []
        for position, (index, column, literal) in enumerate(self.sources):
            affinity = affinities.get(column)
            text, integer, nullable = affinity == "TEXT", affinity == "INTEGER", column != rowid
            if index == -1:
                if column != rowid:
                    return None
                rowid_positions.append(position)  # filled in once inserted
            elif index == -2 and not (
                (literal is None and nullable) or (type(literal) is int and integer)
            ):
                return None
            checks.append((index, literal if index == -2 else None, text, integer, nullable))
        return tuple(checks), tuple(rowid_positions)


# Per returned column: the argument's index (-2 a literal, -1 the rowid), the literal,
# and whether a text, an integer and NULL go into the column unchanged; and where the
# rowid goes in the row. NULL into the rowid column picks one, so it is not unchanged.
_Plan = tuple[tuple[tuple[int, Any, bool, bool, bool], ...], tuple[int, ...]]
# InsertRow's plans by statement, once per process (as _TABLES).
_PLANS: dict[str, _Plan | None] = {}
_UNPLANNED: Any = object()


def _insert_row(text: str) -> InsertRow | None:
    match = _INSERT_RETURNING.fullmatch(text)
    if match is None:
        return None
    plain, table, columns, values, returned = match.groups()
    names = [name.strip() for name in columns.split(",")]
    items = [item.strip() for item in values.split(",")]
    if len(names) != len(items):
        return None
    written: dict[str, tuple[int, Any]] = {}
    index = 0
    for name, item in zip(names, items, strict=True):
        if item == "?":
            written[name] = (index, None)
            index += 1
        elif item.isdigit():
            written[name] = (-2, int(item))
        elif item.upper() == "NULL":
            written[name] = (-2, None)
        else:
            return None
    sources = []
    for name in (name.strip() for name in returned.split(",")):
        if name in written:
            position, literal = written[name]
            sources.append((position, name, literal))
        else:
            sources.append((-1, name, None))  # must be the rowid column, checked when run
    return InsertRow(table, plain, tuple(sources))


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement compiled for each engine."""

    sqlite: str
    postgres: str
    # Writes rows to the outbox: the store wakes delivery once the transaction commits.
    notifies: bool = False
    # SQLite: an INSERT's RETURNING row made without RETURNING, where it can be.
    insert_row: InsertRow | None = None

    def __call__(self, *args: Any) -> Query:
        return Query(self, args)


# Not frozen: one is built for every statement run, and a frozen dataclass's __init__
# costs twice as much. Nothing mutates a Query; treat it as immutable.
@dataclass(slots=True)
class Query:
    """A statement with its arguments: what a transaction script yields."""

    statement: Statement
    args: tuple[Any, ...]


# A transaction script: yields queries, receives their rows, returns its result.
Script = Generator[Query, Rows, T]


def _to_postgres(text: str) -> str:
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, text).replace("json_group_array(", "json_agg(")


def sql(text: str, *, notifies: bool = False) -> Statement:
    """Compile ``text`` (shared SQL, ``?`` placeholders) for both engines."""
    text = " ".join(text.split())
    sqlite = _ROW_LOCK.sub("", text)
    return Statement(sqlite, _to_postgres(text), notifies, _insert_row(sqlite))


def one(rows: Rows) -> Row | None:
    """The first row, or None."""
    return rows[0] if rows else None


def md5_hex(value: str | None) -> str | None:
    """``md5()`` as PostgreSQL computes it, for SQLite connections."""
    return None if value is None else hashlib.md5(value.encode()).hexdigest()


def fetch(query: Query) -> Script[Rows]:
    """A one-statement script: its rows."""
    rows = yield query
    return rows


def run_sync(conn: Any, script: Script[T], on_unique: type[BaseException]) -> tuple[T, bool]:
    """Drive ``script`` on a sqlite3 connection: its result, and whether it wrote to the
    outbox. ``on_unique`` is the driver's unique-violation class."""
    notified = False
    try:
        query = next(script)
        while True:
            statement = query.statement
            notified = notified or statement.notifies
            try:
                found = None if statement.insert_row is None else statement.insert_row.run(conn, query.args)
                rows = conn.execute(statement.sqlite, query.args).fetchall() if found is None else found
            except on_unique as error:
                if "UNIQUE" not in str(error):
                    raise
                query = script.throw(UniqueViolation(str(error)))
                continue
            query = script.send(rows)
    except StopIteration as stop:
        return stop.value, notified


async def run_async(conn: Any, script: Script[T], on_unique: type[BaseException]) -> tuple[T, bool]:
    """Drive ``script`` on an asyncpg connection (see :func:`run_sync`)."""
    notified = False
    try:
        query = next(script)
        while True:
            notified = notified or query.statement.notifies
            try:
                rows = await conn.fetch(query.statement.postgres, *query.args)
            except on_unique as error:
                query = script.throw(UniqueViolation(str(error)))
                continue
            query = script.send(rows)
    except StopIteration as stop:
        return stop.value, notified


# Above every row number: where a newest-first list starts.
_TOP = 2**62


@dataclass(frozen=True, slots=True)
class Paged:
    """A list query compiled for keyset pages in both directions (see paging.py)."""

    after: Statement
    before: Statement


def paged(head: str) -> Paged:
    """``head`` (``SELECT ... FROM ... WHERE ...``) as a keyset-paged list on ``seq``."""
    return Paged(
        sql(f"{head} AND seq > ? ORDER BY seq ASC LIMIT ?"),
        sql(f"{head} AND seq < ? ORDER BY seq DESC LIMIT ?"),
    )


def paged_seqs(first: str, rows: str) -> Paged:
    """A keyset page's row numbers as one row: the value of ``first`` (a one-value SELECT,
    read in the same snapshot) and the page's row numbers, nearest first, as one
    ``json_group_array`` value (:func:`seq_page` reads it). ``rows`` is the
    ``FROM ... WHERE ...`` of the listed rows; the index on (their filter, seq) answers
    it alone. Two lists read their pages so: a value and a row number a row cost a short
    read less than the rows themselves, and the caller keeps the rows it has seen."""

    def one(condition: str, order: str) -> Statement:
        return sql(
            f"SELECT ({first}), (SELECT json_group_array(seq) FROM"
            f" (SELECT seq {rows} AND {condition} ORDER BY seq {order} LIMIT ?) AS page)"
        )

    return Paged(one("seq > ?", "ASC"), one("seq < ?", "DESC"))


def seq_page(query: Paged, statement: Statement, packed: str | None, window: Any) -> tuple[list[int], bool]:
    """The row numbers ``statement`` (one of :func:`paged_seqs`'s ``query``) read for
    ``window``, in the list's order, and whether more lie beyond."""
    seqs: list[int] = json_list(packed)
    # The set is fixed by ORDER BY ... LIMIT; the order json_group_array saw it in is not
    # promised, so put it back nearest-first (sorting a sorted list costs little).
    seqs.sort(reverse=statement is query.before)
    result: tuple[list[int], bool] = window.cut(seqs)
    return result


def page_statement(query: Paged, window: Any, newest_first: bool = False) -> tuple[Statement, int]:
    """Which of ``query``'s statements reads a :class:`paging.Window`'s rows nearest
    first, and the row number it starts from. A newest-first list runs the same window
    mirrored: its next page lies below the last row number, its previous page above the
    first."""
    if not newest_first:
        return (query.before if window.backward else query.after), window.bound
    bound = window.bound if (window.backward or window.after is not None) else _TOP
    return (query.after if window.backward else query.before), bound


def page(query: Paged, args: tuple[Any, ...], window: Any, newest_first: bool = False) -> Script[tuple[Rows, bool]]:
    """One page of ``query`` for a :class:`paging.Window`, in the list's order, and whether
    more rows lie beyond it (see :func:`page_statement`)."""
    statement, bound = page_statement(query, window, newest_first)
    rows = yield statement(*args, bound, window.limit + 1)
    result: tuple[Rows, bool] = window.cut(rows)
    return result


def json_list(value: str | None) -> list[Any]:
    """A ``json_group_array`` column as a list, on either engine."""
    return orjson.loads(value) if value is not None else []

"""The wasmig guest SDK for Python.

A migration is one module that defines a class named ``Migration`` (the name
componentize-py looks for) and decorates it with :func:`migration`::

    from wasmig import Db, migration

    @migration("Create the comments table")
    class Migration:
        def forwards(self, db: Db) -> None:
            db.execute("CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")

        def backwards(self, db: Db) -> None:
            db.execute("DROP TABLE comments")

``wasmig build`` compiles it into a component with componentize-py, together
with this module and the bindings it generates from wasmig's WIT. The
generated bindings stay behind this module: a migration sees Python values,
:class:`Db`, :class:`Rows` and :class:`DbError`.
"""

# componentize-py bundles the modules imported while it builds the component: a module
# imported only later, inside a call, would be missing at run time.
import traceback
from typing import Any, Iterator, List, Optional, Sequence, Union

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import database, types

__all__ = ["Db", "DbError", "Row", "Rows", "migration", "SQLITE", "POSTGRES", "MYSQL"]

#: The dialects :attr:`Db.dialect` names.
SQLITE = "sqlite"
POSTGRES = "postgres"
MYSQL = "mysql"

_DIALECTS = {
    types.Dialect.SQLITE: SQLITE,
    types.Dialect.POSTGRES: POSTGRES,
    types.Dialect.MYSQL: MYSQL,
}

#: What a parameter or a cell can be.
SqlValue = Union[None, bool, int, float, str, bytes]


class DbError(Exception):
    """A statement the database refused: its message and, when it gave one, its
    error code (SQLSTATE or the vendor's code). Not caught, it fails the
    migration with that message."""

    def __init__(self, message: str, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.message} (code {self.code})"


def _to_wit(value: Any) -> types.Value:
    # bool before int: in Python a bool is an int.
    if value is None:
        return types.Value_Null()
    if isinstance(value, bool):
        return types.Value_Boolean(value)
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"integer {value} does not fit in 64 bits")
        return types.Value_Integer(value)
    if isinstance(value, float):
        return types.Value_Real(value)
    if isinstance(value, str):
        return types.Value_Text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return types.Value_Blob(bytes(value))
    raise TypeError(
        f"cannot pass a {type(value).__name__} to the database "
        "(use None, bool, int, float, str or bytes)"
    )


def _from_wit(value: types.Value) -> SqlValue:
    if isinstance(value, types.Value_Null):
        return None
    return value.value


class Row(Sequence[SqlValue]):
    """One row of a query: by position (``row[0]``) or by column name
    (``row["name"]``)."""

    __slots__ = ("_columns", "_values")

    def __init__(self, columns: List[str], values: List[SqlValue]) -> None:
        self._columns = columns
        self._values = values

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._columns.index(key)]
            except ValueError:
                raise KeyError(f"no column {key!r} (columns: {', '.join(self._columns)})") from None
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def get(self, column: str, default: Any = None) -> Any:
        """The value of ``column``, or ``default`` when there is no such column."""
        if column in self._columns:
            return self[column]
        return default

    def keys(self) -> List[str]:
        """The column names."""
        return list(self._columns)

    def as_dict(self) -> dict:
        """The row as ``{column: value}``."""
        return dict(zip(self._columns, self._values))

    def __repr__(self) -> str:
        return f"Row({self.as_dict()!r})"


class Rows(Sequence[Row]):
    """The result of :meth:`Db.query`: its column names and its rows."""

    def __init__(self, columns: List[str], rows: List[List[types.Value]]) -> None:
        self.columns = list(columns)
        self._rows = [Row(self.columns, [_from_wit(v) for v in row]) for row in rows]

    def __getitem__(self, index: Any) -> Any:
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def scalar(self) -> SqlValue:
        """The first value of the first row, or None when there is no row."""
        return self._rows[0][0] if self._rows and len(self._rows[0]) else None


class Db:
    """The migration's database handle and what the host said about the run."""

    def __init__(self, ctx: types.Context) -> None:
        self.app_name: str = ctx.app_name
        self.migration_id: str = ctx.migration_id
        self.dialect: str = _DIALECTS[ctx.dialect]
        self.is_preview: bool = ctx.preview

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs a statement that returns no rows; gives the rows it affected.
        In a preview it is recorded, not run, and affects 0 rows."""
        try:
            return database.execute(sql, [_to_wit(p) for p in params])
        except Err as e:
            raise DbError(e.value.message, e.value.code) from None

    def execute_batch(self, statements: Sequence[str]) -> None:
        """Runs each statement in turn, without parameters."""
        for sql in statements:
            self.execute(sql)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Runs a statement that returns rows (read-only in a preview)."""
        try:
            result = database.query(sql, [_to_wit(p) for p in params])
        except Err as e:
            raise DbError(e.value.message, e.value.code) from None
        return Rows(result.columns, result.rows)

    def placeholder(self, n: int) -> str:
        """The ``n``-th (from 1) positional parameter of this dialect:
        ``$n`` on PostgreSQL, ``?`` elsewhere."""
        return f"${n}" if self.dialect == POSTGRES else "?"


def _failure(error: BaseException) -> Err:
    if isinstance(error, DbError):
        return Err(str(error))
    message = str(error)
    return Err(f"{type(error).__name__}: {message}" if message else type(error).__name__)


def migration(description: str, transactional: bool = True):
    """Declares the decorated class as the module's migration. Its methods
    ``forwards(self, db)`` and ``backwards(self, db)`` receive a :class:`Db`;
    an exception they raise fails the migration with its message (a traceback
    is written to the migration's log). ``transactional=False`` runs it
    outside a transaction (e.g. ``CREATE INDEX CONCURRENTLY``)."""
    if not isinstance(description, str) or not description:
        raise TypeError("@migration needs a description: @migration(\"Create the users table\")")

    def wrap(cls: type) -> type:
        for name in ("forwards", "backwards"):
            if not callable(getattr(cls, name, None)):
                raise TypeError(f"{cls.__name__} has no {name}(self, db) method")

        def run(self: Any, name: str, ctx: types.Context) -> None:
            try:
                getattr(self, name)(Db(ctx))
            except Exception as error:  # the migration's error, as a value
                if not isinstance(error, DbError):
                    traceback.print_exc()
                raise _failure(error) from None

        def describe(self: Any) -> types.Description:
            return types.Description(description=description, transactional=transactional)

        def forwards(self: Any, ctx: types.Context) -> None:
            run(self, "_wasmig_forwards", ctx)

        def backwards(self: Any, ctx: types.Context) -> None:
            run(self, "_wasmig_backwards", ctx)

        namespace = {
            "describe": describe,
            "forwards": forwards,
            "backwards": backwards,
            "_wasmig_forwards": cls.forwards,
            "_wasmig_backwards": cls.backwards,
            "__module__": cls.__module__,
            "__doc__": cls.__doc__,
        }
        return type(cls.__name__, (cls, exports.Migration), namespace)

    return wrap

// The wasmig guest SDK for JavaScript (an ES module).
//
// A migration is one module that exports `migration`, made by `defineMigration`:
//
//     import { defineMigration } from "./wasmig.js";
//
//     export const migration = defineMigration({
//       description: "Create the comments table",
//       forwards(db) {
//         db.execute("CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
//       },
//       backwards(db) {
//         db.execute("DROP TABLE comments");
//       },
//     });
//
// `wasmig build` compiles it with componentize-js, with this file beside it as
// `./wasmig.js`. The WIT bindings stay behind this module: a migration sees JavaScript
// values, `Db`, `Rows` and `DbError`.

import * as database from "wasmig:migration/database@0.1.0";

/** The dialects `db.dialect` names. */
export const SQLITE = "sqlite";
export const POSTGRES = "postgres";
export const MYSQL = "mysql";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A statement the database refused: its `message` and, when it gave one, its error
 * `code` (SQLSTATE or the vendor's code). Not caught, it fails the migration.
 */
export class DbError extends Error {
  constructor(message, code) {
    super(code == null ? message : `${message} (code ${code})`);
    this.name = "DbError";
    this.dbMessage = message;
    this.code = code ?? null;
  }
}

/** A JavaScript value as a WIT `value`. */
function toWit(value) {
  if (value === null || value === undefined) return { tag: "null" };
  switch (typeof value) {
    case "boolean":
      return { tag: "boolean", val: value };
    case "bigint":
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new RangeError(`integer ${value} does not fit in 64 bits`);
      }
      return { tag: "integer", val: value };
    case "number":
      // Whole numbers are integers, as they are in SQL; others are reals.
      return Number.isSafeInteger(value)
        ? { tag: "integer", val: BigInt(value) }
        : { tag: "real", val: value };
    case "string":
      return { tag: "text", val: value };
  }
  if (value instanceof Uint8Array) return { tag: "blob", val: value };
  if (value instanceof ArrayBuffer) return { tag: "blob", val: new Uint8Array(value) };
  throw new TypeError(
    `cannot pass ${Object.prototype.toString.call(value)} to the database ` +
      "(use null, a boolean, a number, a bigint, a string or a Uint8Array)",
  );
}

/** A WIT `value` as a JavaScript value: integers are numbers when they fit exactly. */
function fromWit(value) {
  switch (value.tag) {
    case "null":
      return null;
    case "integer": {
      const n = Number(value.val);
      return Number.isSafeInteger(n) ? n : value.val;
    }
    case "blob":
      return value.val instanceof Uint8Array ? value.val : Uint8Array.from(value.val);
    default:
      return value.val;
  }
}

/** The error a failed host call threw, as a `DbError`. */
function dbError(error) {
  const payload = error?.payload ?? error;
  if (payload && typeof payload.message === "string") {
    return new DbError(payload.message, payload.code);
  }
  return error;
}

/**
 * One row of a query: an array of values (`row[0]`) that also answers by column name
 * (`row.get("name")`, or `row.name` for a column whose name is not an array method).
 */
function makeRow(columns, values) {
  const row = values.map(fromWit);
  Object.defineProperty(row, "columns", { value: columns });
  Object.defineProperty(row, "get", {
    value(column) {
      const i = columns.indexOf(column);
      if (i < 0) throw new RangeError(`no column ${column} (columns: ${columns.join(", ")})`);
      return row[i];
    },
  });
  Object.defineProperty(row, "toObject", {
    value: () => Object.fromEntries(columns.map((c, i) => [c, row[i]])),
  });
  columns.forEach((column, i) => {
    if (!(column in row)) {
      Object.defineProperty(row, column, { get: () => row[i], enumerable: false });
    }
  });
  return row;
}

/** The result of `db.query`: `columns`, and `rows` (also iterable and indexable). */
export class Rows {
  constructor(columns, rows) {
    this.columns = columns;
    this.rows = rows.map((values) => makeRow(columns, values));
  }
  get length() {
    return this.rows.length;
  }
  at(index) {
    return this.rows.at(index);
  }
  [Symbol.iterator]() {
    return this.rows[Symbol.iterator]();
  }
  /** The first value of the first row, or null when there is none. */
  scalar() {
    return this.rows.length && this.rows[0].length ? this.rows[0][0] : null;
  }
}

/** The migration's database handle and what the host said about the run. */
export class Db {
  constructor(ctx) {
    this.appName = ctx.appName;
    this.migrationId = ctx.migrationId;
    this.dialect = ctx.dialect;
    this.isPreview = ctx.preview;
    Object.freeze(this);
  }

  /** Runs a statement that returns no rows; gives the rows it affected (a number). */
  execute(sql, params = []) {
    try {
      return Number(database.execute(sql, params.map(toWit)));
    } catch (error) {
      throw dbError(error);
    }
  }

  /** Runs each statement in turn, without parameters. */
  executeBatch(statements) {
    for (const sql of statements) this.execute(sql);
  }

  /** Runs a statement that returns rows (read-only in a preview). */
  query(sql, params = []) {
    let result;
    try {
      result = database.query(sql, params.map(toWit));
    } catch (error) {
      throw dbError(error);
    }
    return new Rows(result.columns, result.rows);
  }

  /** The `n`-th (from 1) positional parameter: `$n` on PostgreSQL, `?` elsewhere. */
  placeholder(n) {
    return this.dialect === POSTGRES ? `$${n}` : "?";
  }
}

/** The message a thrown value fails the migration with. */
function failure(error) {
  if (error instanceof Error) {
    if (!(error instanceof DbError) && error.stack) console.error(error.stack);
    return error instanceof DbError ? error.message : `${error.name}: ${error.message}`;
  }
  return String(error);
}

/**
 * Declares a migration: `{ description, transactional = true, forwards(db), backwards(db) }`.
 * What `forwards` or `backwards` throws fails the migration with its message.
 * `transactional: false` runs it outside a transaction (e.g. `CREATE INDEX CONCURRENTLY`).
 */
export function defineMigration({ description, transactional = true, forwards, backwards }) {
  if (typeof description !== "string" || description === "") {
    throw new TypeError("defineMigration needs a description");
  }
  if (typeof forwards !== "function" || typeof backwards !== "function") {
    throw new TypeError("defineMigration needs forwards(db) and backwards(db)");
  }
  const run = (step, ctx) => {
    try {
      step(new Db(ctx));
    } catch (error) {
      // A thrown value is the `err` of the export's result.
      throw failure(error);
    }
  };
  return {
    describe: () => ({ description, transactional: Boolean(transactional) }),
    forwards: (ctx) => run(forwards, ctx),
    backwards: (ctx) => run(backwards, ctx),
  };
}

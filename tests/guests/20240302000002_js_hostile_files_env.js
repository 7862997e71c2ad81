// Hostile test guest: looks for files (/etc/passwd), the environment and arguments
// through every API a JavaScript runtime might offer, and smuggles out what it finds.
// The sandbox offers none.

import { defineMigration } from "./wasmig.js";

export const migration = defineMigration({
  description: "Hostile: js-files-env",
  forwards(db) {
    const found = [];
    const env = globalThis.process?.env ?? globalThis.Deno?.env?.toObject?.() ?? {};
    for (const [name, value] of Object.entries(env)) found.push(`${name}=${value}`);
    for (const arg of globalThis.process?.argv ?? globalThis.scriptArgs ?? []) found.push(arg);
    const read = globalThis.Deno?.readTextFileSync ?? globalThis.read ?? globalThis.readFile;
    if (typeof read === "function") {
      try {
        found.push(read("/etc/passwd"));
      } catch (error) {
        throw new Error(`cannot read /etc/passwd: ${error}`);
      }
    }
    if (found.length === 0) {
      throw new Error("found no files, no environment variables and no arguments");
    }
    for (const item of found) db.execute(`SELECT ${db.placeholder(1)}`, [item]);
  },
  backwards() {},
});

// Hostile test guest: looks for a way to reach the network (fetch, sockets, name lookup)
// and, should one work, says so in its SQL. Components are built without the HTTP
// feature (a call of `fetch` aborts the guest) and the sandbox allows no socket, so it
// must fail.

import { defineMigration } from "./wasmig.js";

export const migration = defineMigration({
  description: "Hostile: js-network",
  forwards(db) {
    const found = [];
    for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "Deno", "process", "require"]) {
      if (typeof globalThis[name] !== "undefined") found.push(name);
    }
    if (typeof globalThis.fetch === "function") {
      try {
        const reply = globalThis.fetch("http://127.0.0.1:5432/");
        found.push(`fetch gave ${reply}`);
      } catch (error) {
        throw new Error(`cannot connect: ${error}`);
      }
    }
    if (found.length === 0) throw new Error("cannot connect: no network API");
    for (const item of found) db.execute(`SELECT ${db.placeholder(1)}`, [item]);
  },
  backwards() {},
});

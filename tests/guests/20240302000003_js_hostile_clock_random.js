// Hostile test guest: probes the clocks and the randomness the sandbox gives it, and
// writes what it saw into its SQL. Fixed clocks and seeded randomness make that SQL the
// same on every run.

import { defineMigration } from "./wasmig.js";

export const migration = defineMigration({
  description: "Hostile: js-clock-random",
  forwards(db) {
    const wall = Math.floor(Date.now() / 1000);
    const started = performance.now();
    let spin = 0;
    while (performance.now() - started < 20 && spin < 1e6) spin += 1;
    const slept = Math.round((performance.now() - started) * 1e6);
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    const hash = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const [a, b, c] = [1, 2, 3].map((n) => db.placeholder(n));
    db.execute(`SELECT ${a} AS wall_seconds, ${b} AS slept_nanos, ${c} AS hash`, [wall, slept, hash]);
  },
  backwards() {},
});

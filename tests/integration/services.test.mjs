// The throwaway PostgreSQL and Redis that `make test` starts
// (scripts/services.sh) are real servers later suites rely on: check that
// they answer, with their own command-line clients.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";

// scripts/test.sh hands the services over under these names, so that
// other suites' loom processes keep the embedded default.
const DATABASE_URL = process.env.LOOM_TEST_DATABASE_URL;
const REDIS_URL = process.env.LOOM_TEST_REDIS_URL;

test("PostgreSQL 15 answers on its loopback port", { skip: !DATABASE_URL && "LOOM_TEST_DATABASE_URL not set" }, () => {
  assert.match(DATABASE_URL, /^postgres:\/\/[^@]+@127\.0\.0\.1:\d+\//);
  const version = execFileSync("psql", [DATABASE_URL, "-Atc", "show server_version"]).toString();
  assert.match(version, /^15\./);
  const sum = execFileSync("psql", [DATABASE_URL, "-Atc", "select 20 + 22"]).toString().trim();
  assert.equal(sum, "42");
});

test("Redis answers on its loopback port", { skip: !REDIS_URL && "LOOM_TEST_REDIS_URL not set" }, () => {
  assert.match(REDIS_URL, /^redis:\/\/127\.0\.0\.1:\d+/);
  assert.equal(execFileSync("redis-cli", ["-u", REDIS_URL, "ping"]).toString().trim(), "PONG");
  execFileSync("redis-cli", ["-u", REDIS_URL, "set", "loom:smoke", "1", "EX", "10"]);
  assert.equal(execFileSync("redis-cli", ["-u", REDIS_URL, "get", "loom:smoke"]).toString().trim(), "1");
});

// The browser test's driver: bundles page.ts (the TypeScript client inside) with esbuild,
// serves it from its own origin, starts a live quillstore (JWT auth, CORS for that origin,
// a per-user rate limit and a small upload limit) on another loopback port, and runs the
// page's checks in Debian's Chromium through playwright-core (never a browser download).
// Prints one line per check and a cargo-style `test result:` line; exits 1 on any failure.
//
// Usage: node run.mjs QUILLSTORE_BINARY [CHROMIUM]
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { docsChecks } from "./docs-page.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const [binary, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
if (!binary) {
  console.error("usage: node run.mjs QUILLSTORE_BINARY [CHROMIUM]");
  process.exit(2);
}
/** The whole run, browser start to last check (the page's own waits are shorter). */
const SUITE_TIMEOUT_MS = 90_000;
const USER_PER_MINUTE = 600;
const MAX_UPLOAD_BYTES = 2 * 1024 * 1024;
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/** The quillstore processes running and their data, removed also when this driver is told to stop. */
const servers = new Set(/** @type {import("node:child_process").ChildProcess[]} */ ([]));
const dataDirs = new Set(/** @type {string[]} */ ([]));
for (const signal of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
  process.once(signal, () => {
    for (const server of servers) server.kill("SIGTERM");
    console.log(`stopped by ${signal}`);
    console.log("test result: FAILED. 0 passed; 1 failed; 0 ignored (browser)");
    setTimeout(() => {
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
      process.exit(1);
    }, 500);
  });
}

/**
 * Rejects after `ms` with `what` in the message.
 * @template T
 * @param {number} ms
 * @param {string} what
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
function within(ms, what, promise) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * An HS256 JWT for `sub`, valid for an hour.
 * @param {string} secret
 * @param {string} sub
 */
function jwt(secret, sub) {
  const encode = (/** @type {object} */ value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

/**
 * @param {import("node:http").Server} server
 * @returns {Promise<number>} the port it listens on
 */
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address && typeof address === "object") resolve(address.port);
      else reject(new Error(`unexpected address ${address}`));
    });
  });
}

/** A free loopback port (the OS's choice, released again for quillstore to take). */
async function freePort() {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(() => resolve(undefined)));
  return port;
}

/** The page and its bundle, from an origin of their own. */
async function servePage() {
  const bundle = await build({
    entryPoints: [join(here, "page.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    write: false,
    logLevel: "warning",
  });
  const script = bundle.outputFiles?.[0]?.text ?? "";
  const html = '<!doctype html><meta charset="utf-8"><title>quillstore browser test</title><script type="module" src="/page.js"></script>';
  const server = createServer((request, response) => {
    const [type, body] =
      request.url === "/page.js" ? ["text/javascript", script] : request.url === "/" ? ["text/html", html] : [];
    response.writeHead(body ? 200 : 404, { "Content-Type": `${type ?? "text/plain"}; charset=utf-8` });
    response.end(body ?? "not found");
  });
  const port = await listen(server);
  return { server, origin: `http://127.0.0.1:${port}` };
}

/**
 * Starts `quillstore serve`; resolves with the process and its URL once it listens.
 * @param {string} binary
 * @param {string} pageOrigin
 * @param {string} secret
 * @param {string} dataDir
 * @param {Record<string, string>} [settings] environment that replaces the test's own
 */
async function startQuillstore(binary, pageOrigin, secret, dataDir, settings = {}) {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ["serve"], {
    // Only these: settings of the caller's environment (DATA_BACKEND, S3_*, …) stay out.
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      TMPDIR: tmpdir(),
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      PUBLIC_BASE_URL: api,
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: secret,
      FILES_SIGNING_SECRET: secret,
      CORS_ALLOWED_ORIGINS: pageOrigin,
      RATE_LIMIT_USER_PER_MINUTE: String(USER_PER_MINUTE),
      RATE_LIMIT_IP_PER_MINUTE: "0",
      MAX_UPLOAD_SIZE: String(MAX_UPLOAD_BYTES),
      RUST_LOG: process.env.RUST_LOG ?? "warn",
      NO_COLOR: "1",
      ...settings,
    },
    stdio: "pipe",
  });
  servers.add(child);
  child.once("exit", () => servers.delete(child));
  let output = "";
  child.stdin.end();
  child.stderr.on("data", (/** @type {Buffer} */ chunk) => (output += chunk));
  const listening = new Promise((resolve, reject) => {
    child.stdout.on("data", (/** @type {Buffer} */ chunk) => {
      output += chunk;
      if (output.includes("quillstore listening on ")) resolve(undefined);
    });
    child.once("exit", (code) => reject(new Error(`quillstore exited (${code}):\n${output}`)));
  });
  try {
    await within(60_000, "quillstore's start", listening);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return { child, api, log: () => output };
}

/**
 * `startQuillstore`, tried again (on another free port) when the server exited at once: the
 * port it was given may have been taken between `freePort` and its bind.
 * @param {Parameters<typeof startQuillstore>} args
 */
async function startOnFreePort(...args) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startQuillstore(...args);
    } catch (error) {
      if (attempt === 3 || !String(error).includes("quillstore exited")) throw error;
      console.log(`quillstore did not start (attempt ${attempt}), trying another port: ${error}`);
    }
  }
}

/**
 * @param {string} binary
 * @returns {Promise<number>} the exit code
 */
async function main(binary) {
  const dataDir = mkdtempSync(join(tmpdir(), "quillstore-browser-"));
  dataDirs.add(dataDir);
  const secret = randomBytes(32).toString("hex");
  const cleanup = [() => rmSync(dataDir, { recursive: true, force: true })];
  try {
    const page = await servePage();
    cleanup.unshift(() => new Promise((resolve) => page.server.close(() => resolve(undefined))));
    const quillstore = await startOnFreePort(binary, page.origin, secret, dataDir);
    cleanup.unshift(
      () =>
        new Promise((resolve) => {
          quillstore.child.once("exit", resolve);
          quillstore.child.kill("SIGTERM");
        }),
    );
    console.log(`quillstore at ${quillstore.api}, the page at ${page.origin}, Chromium ${executablePath}`);
    const browser = await within(30_000, "Chromium's start", chromium.launch({ executablePath, args: CHROMIUM_ARGS }));
    cleanup.unshift(() => browser.close());
    const tab = await browser.newPage();
    // The page's console (every 4xx it provokes logs a line): shown when a check failed.
    /** @type {string[]} */
    const consoleLines = [];
    tab.on("console", (message) => consoleLines.push(`[${message.type()}] ${message.text()}`));
    tab.on("pageerror", (error) => consoleLines.push(`[uncaught] ${error.message}`));
    await tab.goto(`${page.origin}/`, { timeout: 15_000 });
    await tab.waitForFunction(() => typeof window.runSuite === "function", null, { timeout: 15_000 });
    const config = {
      api: quillstore.api,
      tokens: { alice: jwt(secret, "alice"), bob: jwt(secret, "bob"), flood: jwt(secret, "flood") },
      userPerMinute: USER_PER_MINUTE,
    };
    const outcomes = await within(
      SUITE_TIMEOUT_MS,
      "the page's checks",
      tab.evaluate((suiteConfig) => window.runSuite(suiteConfig), config),
    );
    const withoutAuth = async () => {
      const dir = mkdtempSync(join(tmpdir(), "quillstore-browser-"));
      dataDirs.add(dir);
      const server = await startOnFreePort(binary, page.origin, secret, dir, { AUTH_MODE: "none" });
      const stop = () =>
        new Promise((resolve) => {
          server.child.once("exit", resolve);
          server.child.kill("SIGTERM");
        }).finally(() => rmSync(dir, { recursive: true, force: true }));
      return { api: server.api, stop };
    };
    outcomes.push(...(await within(60_000, "the docs page's checks", docsChecks(browser, quillstore.api, withoutAuth))));
    return report(outcomes, () => `the page's console:\n${consoleLines.join("\n")}\nquillstore's output:\n${quillstore.log()}`);
  } finally {
    for (const step of cleanup) await within(15_000, "cleanup", Promise.resolve().then(step)).catch(console.error);
  }
}

/**
 * @param {import("./context.ts").Outcome[]} outcomes
 * @param {() => string} logs the page's console and the server's output, shown on failure
 */
function report(outcomes, logs) {
  let passed = 0;
  for (const outcome of outcomes) {
    console.log(`test browser: ${outcome.name} ... ${outcome.ok ? "ok" : "FAILED"}`);
    if (outcome.ok) passed++;
    else console.log(outcome.detail.replace(/^/gm, "    "));
  }
  const failed = outcomes.length - passed;
  if (failed > 0) console.log(logs());
  console.log(`test result: ${failed ? "FAILED" : "ok"}. ${passed} passed; ${failed} failed; 0 ignored (browser)`);
  return failed ? 1 : 0;
}

main(binary).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    console.log("test result: FAILED. 0 passed; 1 failed; 0 ignored (browser)");
    process.exit(1);
  },
);

// Checks of the browser test that the driver runs itself, on the service's own pages: the
// Swagger UI at /api/docs renders every operation without a failed request (nor a 404 for
// /favicon.ico), and shows the Authorize button with AUTH_MODE=jwt only.

/**
 * @typedef {import("./context.ts").Outcome} Outcome
 * @typedef {import("playwright-core").Browser} Browser
 */

/**
 * Opens `${api}/api/docs`; resolves with what a reader sees.
 * @param {Browser} browser
 * @param {string} api
 */
async function openDocs(browser, api) {
  const tab = await browser.newPage();
  /** @type {string[]} */
  const failures = [];
  tab.on("response", (response) => {
    if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
  });
  tab.on("requestfailed", (request) => failures.push(`failed: ${request.url()}`));
  tab.on("pageerror", (error) => failures.push(`uncaught: ${error.message}`));
  try {
    await tab.goto(`${api}/api/docs`, { timeout: 15_000, waitUntil: "networkidle" });
    await tab.waitForSelector(".swagger-ui .opblock", { timeout: 15_000 });
    // Browsers ask for /favicon.ico on their own; Playwright does not report that request.
    const favicon = await tab.evaluate(async () => (await fetch("/favicon.ico")).status);
    if (favicon >= 400) failures.push(`${favicon} /favicon.ico`);
    return {
      failures,
      operations: await tab.locator(".swagger-ui .opblock").count(),
      authorize: await tab.locator(".swagger-ui .btn.authorize").count(),
      locks: await tab.locator(".swagger-ui .authorization__btn").count(),
    };
  } finally {
    await tab.close();
  }
}

/**
 * @param {string} name
 * @param {() => Promise<void>} run
 * @returns {Promise<Outcome>}
 */
async function outcome(name, run) {
  try {
    await run();
    return { name, ok: true, detail: "" };
  } catch (error) {
    return { name, ok: false, detail: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}

/**
 * @param {Browser} browser
 * @param {string} jwtApi a server with AUTH_MODE=jwt
 * @param {() => Promise<{ api: string, stop: () => Promise<unknown> }>} startWithoutAuth a server with AUTH_MODE=none
 * @returns {Promise<Outcome[]>}
 */
export async function docsChecks(browser, jwtApi, startWithoutAuth) {
  return [
    await outcome("/api/docs renders every operation, no request fails (/favicon.ico neither), Authorize with JWT", async () => {
      const seen = await openDocs(browser, jwtApi);
      if (seen.failures.length > 0) throw new Error(`failed requests: ${seen.failures.join("; ")}`);
      if (seen.operations < 50) throw new Error(`only ${seen.operations} operations rendered`);
      if (seen.authorize !== 1) throw new Error(`${seen.authorize} Authorize buttons with AUTH_MODE=jwt`);
    }),
    await outcome("/api/docs with AUTH_MODE=none shows no Authorize button and no locks", async () => {
      const server = await startWithoutAuth();
      try {
        const seen = await openDocs(browser, server.api);
        if (seen.failures.length > 0) throw new Error(`failed requests: ${seen.failures.join("; ")}`);
        if (seen.operations < 50) throw new Error(`only ${seen.operations} operations rendered`);
        if (seen.authorize + seen.locks !== 0) throw new Error(`${seen.authorize} Authorize, ${seen.locks} locks`);
      } finally {
        await server.stop();
      }
    }),
  ];
}

// The page of the browser test: served from another origin than the API, it drives a live
// quillstore through the TypeScript client and reports one outcome per check to the driver
// (run.mjs), which fails the pass on any failed check. Checks run in order: later ones use
// what earlier ones made.
import { collect, createQuillstore, items, listPages, ok, QuillstoreError } from "../../src/index.js";
import { equal, expect, fails } from "./assert.js";
import { type Check, type Context, context, type Outcome, type SuiteConfig } from "./context.js";
import { documentChecks } from "./documents.js";
import { fileChecks } from "./files.js";

function originChecks({ config, alice }: Context): Check[] {
  return [
    [
      "the page runs on another origin than the API",
      async () => {
        expect(location.origin !== new URL(config.api).origin, `page ${location.origin} = API ${config.api}`);
        const { data } = await ok(alice.api.GET("/api/limits"));
        expect(data.maxUploadBytes > 0, "GET /api/limits answered across origins");
      },
    ],
    [
      "a request without a token gets a 401 whose WWW-Authenticate the page reads",
      async () => {
        const anonymous = createQuillstore({ baseUrl: config.api });
        const { response, error: body } = await anonymous.api.GET("/api/tags");
        const error = new QuillstoreError(response.status, body, response.headers);
        equal([error.status, error.code], [401, "unauthorized"], "status and error.code");
        const challenge = response.headers.get("WWW-Authenticate") ?? "";
        expect(challenge.startsWith("Bearer"), `WWW-Authenticate is exposed: ${JSON.stringify(challenge)}`);
      },
    ],
  ];
}

/** Who may see what, and the rate limit. */
function accessChecks({ config, alice, bob, flood, need }: Context): Check[] {
  return [
    [
      "a second user sees 404s for the first user's things",
      async () => {
        const tagId = need("tagId");
        const chatId = need("chatId");
        const messageId = need("messageId");
        const fileId = need("fileId");
        const notFound = async (what: string, call: Promise<{ error?: unknown; response: Response }>) => {
          const error = await fails(call);
          equal([error.status, error.code], [404, "not_found"], what);
        };
        const tag = { params: { path: { id: tagId } } };
        await notFound("GET tag", bob.api.GET("/api/tags/{id}", tag));
        await notFound("PATCH tag", bob.api.PATCH("/api/tags/{id}", { ...tag, body: { name: "mine" } }));
        await notFound(
          "DELETE tag with If-Match",
          bob.api.DELETE("/api/tags/{id}", { params: { path: { id: tagId }, header: { "If-Match": "*" } } }),
        );
        const chat = { params: { path: { id: chatId } } };
        await notFound("GET chat", bob.api.GET("/api/chats/{id}", chat));
        await notFound("GET messages", bob.api.GET("/api/chats/{id}/messages", chat));
        await notFound(
          "GET message",
          bob.api.GET("/api/chats/{id}/messages/{message_id}", {
            params: { path: { id: chatId, message_id: messageId } },
          }),
        );
        const file = { params: { path: { id: fileId } } };
        await notFound("GET file metadata", bob.api.GET("/api/files/{id}/metadata", file));
        await notFound("POST file url", bob.api.POST("/api/files/{id}/url", { ...file, body: {} }));
        const download = await fetch(`${config.api}/api/files/${fileId}`, { headers: await bob.authHeaders() });
        equal(download.status, 404, "GET file bytes");
        const theirs = await collect(items(listPages(bob, "/api/tags")));
        equal(theirs.length, 0, "bob's tag list");
        const still = await ok(alice.api.GET("/api/tags/{id}", tag));
        equal(still.data.name, "browser-0", "alice's tag is untouched");
      },
    ],
    [
      "a 429 from the per-user rate limit whose body the page reads",
      async () => {
        // Bursts are ten seconds' worth of the per-minute limit; a few more requests than that.
        const bound = Math.ceil(config.userPerMinute / 6) + 50;
        let error: QuillstoreError | undefined;
        let sent = 0;
        while (!error && sent < bound) {
          sent++;
          const { response, error: body } = await flood.api.GET("/api/tags", { params: { query: { limit: 1 } } });
          if (response.status === 429) error = new QuillstoreError(response.status, body, response.headers);
          else expect(response.ok, `request ${sent}: ${response.status}`);
        }
        expect(error !== undefined, `no 429 within ${bound} requests`);
        equal(error?.code, "rate_limited", "error.code");
        expect((error?.retryAfter ?? 0) >= 1, `Retry-After is exposed: ${error?.retryAfter}`);
        expect((error?.message ?? "").length > 0, "error.message is set");
        const others = await ok(alice.api.GET("/api/tags", { params: { query: { limit: 1 } } }));
        equal(others.response.status, 200, "another user is not limited");
      },
    ],
  ];
}

async function runSuite(config: SuiteConfig): Promise<Outcome[]> {
  const shared = context(config);
  const checks = [originChecks, documentChecks, fileChecks, accessChecks].flatMap((make) => make(shared));
  const outcomes: Outcome[] = [];
  for (const [name, run] of checks) {
    try {
      await run();
      outcomes.push({ name, ok: true, detail: "" });
    } catch (error) {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      outcomes.push({ name, ok: false, detail });
    }
  }
  return outcomes;
}

declare global {
  interface Window {
    runSuite: (config: SuiteConfig) => Promise<Outcome[]>;
  }
}

window.runSuite = runSuite;

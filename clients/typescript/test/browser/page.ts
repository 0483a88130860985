// The page of the browser test: served from another origin than the API, it drives a live
// quillstore through the TypeScript client and reports one outcome per check to the driver
// (run.mjs), which fails the pass on any failed check.
import {
  collect,
  createQuillstore,
  items,
  listPages,
  messagePages,
  ok,
  QuillstoreError,
  SignedLinks,
  signedUrl,
  uploadFile,
  type UploadProgress,
} from "../../src/index.js";
import { equal, expect, fails, noisePng, render } from "./assert.js";

export interface SuiteConfig {
  /** The API's origin. */
  api: string;
  tokens: { alice: string; bob: string; flood: string };
  /** `RATE_LIMIT_USER_PER_MINUTE` of the server. */
  userPerMinute: number;
}

export interface Outcome {
  name: string;
  ok: boolean;
  detail: string;
}

/** What the checks create as alice, for bob to look for. */
interface Made {
  tagId?: string;
  chatId?: string;
  messageId?: string;
  fileId?: string;
}

type Check = [name: string, run: () => Promise<void>];

function checks(config: SuiteConfig): Check[] {
  const alice = createQuillstore({ baseUrl: config.api, token: config.tokens.alice });
  const bob = createQuillstore({ baseUrl: config.api, token: () => config.tokens.bob });
  const flood = createQuillstore({ baseUrl: config.api, token: config.tokens.flood });
  const made: Made = {};
  const need = <K extends keyof Made>(key: K): string => {
    const value = made[key];
    if (!value) throw new Error(`an earlier check did not make ${key}`);
    return value;
  };

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
    [
      "tags: create, walk the list by cursor, patch with If-Match",
      async () => {
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          const created = await ok(alice.api.POST("/api/tags", { body: { name: `browser-${i}` } }));
          equal(created.response.status, 201, "create status");
          equal(created.etag, '"1"', "ETag of a new tag");
          const location = created.response.headers.get("Location");
          expect(location !== null, "Location is exposed to the page");
          expect(alice.resolve(location ?? "").endsWith(`/api/tags/${created.data.id}`), `Location ${location}`);
          ids.push(created.data.id);
        }
        const pageSizes: number[] = [];
        const seen: string[] = [];
        for await (const page of listPages(alice, "/api/tags", { limit: 3, sort: "name" })) {
          pageSizes.push(page.length);
          seen.push(...page.map((tag) => tag.id));
        }
        equal(pageSizes, [3, 3, 1], "page sizes of 7 tags by 3");
        equal([...seen].sort(), [...ids].sort(), "every tag exactly once");
        const id = ids[0] ?? "";
        made.tagId = id;
        const read = await ok(alice.api.GET("/api/tags/{id}", { params: { path: { id } } }));
        const patched = await ok(
          alice.api.PATCH("/api/tags/{id}", {
            params: { path: { id }, header: { "If-Match": read.etag ?? "" } },
            body: { color: "#336699" },
          }),
        );
        equal(patched.data.color, "#336699", "patched color");
        equal(patched.data.version, 2, "version after the patch");
        equal(patched.etag, '"2"', "ETag after the patch");
      },
    ],
    [
      "a stale If-Match gets a 412 whose body and current ETag the page reads",
      async () => {
        const id = need("tagId");
        const error = await fails(
          alice.api.PATCH("/api/tags/{id}", {
            params: { path: { id }, header: { "If-Match": '"1"' } },
            body: { color: "#000000" },
          }),
        );
        equal(error.status, 412, "status");
        equal(error.code, "precondition_failed", "error.code");
        expect(error.message.length > 0, "error.message is set");
        expect(Array.isArray(error.details), `error.details is an array: ${JSON.stringify(error.details)}`);
        equal(error.etag, '"2"', "ETag header of the 412 (the current version)");
        const retried = await ok(
          alice.api.PATCH("/api/tags/{id}", {
            params: { path: { id }, header: { "If-Match": error.etag ?? "" } },
            body: { color: "#000000" },
          }),
        );
        equal(retried.etag, '"3"', "ETag after retrying with the current one");
      },
    ],
    [
      "a chat's messages paged forward and backward",
      async () => {
        const chat = await ok(alice.api.POST("/api/chats", { body: { title: "browser chat" } }));
        const chatId = chat.data.id;
        made.chatId = chatId;
        const contents: string[] = [];
        for (let i = 1; i <= 23; i++) {
          const role = i % 2 ? "user" : "assistant";
          const message = await ok(
            alice.api.POST("/api/chats/{id}/messages", {
              params: { path: { id: chatId } },
              body: { role, content: `m${i}` },
            }),
          );
          made.messageId ??= message.data.id;
          contents.push(`m${i}`);
        }
        const forward = await collect(messagePages(alice, chatId, { limit: 5 }));
        equal(
          forward.map((page) => page.length),
          [5, 5, 5, 5, 3],
          "forward page sizes",
        );
        equal(forward.flat().map((m) => m.content), contents, "forward: every message once, in order");
        const backward = await collect(messagePages(alice, chatId, { limit: 5, direction: "backward" }));
        equal(
          backward.map((page) => page.length),
          [5, 5, 5, 5, 3],
          "backward page sizes",
        );
        equal(backward[0]?.map((m) => m.content), contents.slice(18), "backward: the latest page first");
        equal(
          backward
            .slice()
            .reverse()
            .flat()
            .map((m) => m.content),
          contents,
          "backward: every message once",
        );
        const read = await ok(alice.api.GET("/api/chats/{id}", { params: { path: { id: chatId } } }));
        equal(read.data.messageCount, 23, "messageCount");
      },
    ],
    [
      "an upload reports progress and answers the file's metadata",
      async () => {
        const png = await noisePng(512, 384);
        const events: UploadProgress[] = [];
        const uploaded = await uploadFile(alice, {
          file: png,
          filename: "noise.png",
          category: "image",
          description: "from the browser test",
          onProgress: (progress) => events.push(progress),
        });
        equal(uploaded.status, 201, "status");
        made.fileId = uploaded.data.id;
        equal(uploaded.data.mimeType, "image/png", "mimeType");
        equal(uploaded.data.size, png.size, "size");
        equal([uploaded.data.width, uploaded.data.height], [512, 384], "dimensions");
        equal(uploaded.etag, '"1"', "ETag of the new file's metadata");
        expect("storage" in uploaded.data === false, "the file JSON has no `storage`");
        expect(uploaded.location?.startsWith(config.api) === true, `absolute Location ${uploaded.location}`);
        expect(events.length >= 1, "at least one progress event");
        const last = events[events.length - 1];
        expect(last !== undefined && last.loaded === last.total && last.fraction === 1, "the last event is 100%");
        expect((last?.total ?? 0) >= png.size, "the body counts the whole file");
        for (let i = 1; i < events.length; i++) {
          expect((events[i]?.loaded ?? 0) >= (events[i - 1]?.loaded ?? 0), "progress never goes back");
        }
        const list = await collect(items(listPages(alice, "/api/files", { limit: 10 })));
        expect(
          list.some((file) => file.id === uploaded.data.id),
          "the file is in the list",
        );
      },
    ],
    [
      "an <img> from a signed link loads and keeps its URL on re-render",
      async () => {
        const fileId = need("fileId");
        const links = new SignedLinks(alice);
        const first = await links.url(fileId);
        expect(first.startsWith(config.api), `absolute signed URL ${first}`);
        const img = await render(first);
        equal([img.naturalWidth, img.naturalHeight], [512, 384], "natural size");
        img.remove();
        const again = await links.url(fileId);
        equal(again, first, "the kept link on re-render");
        const rerendered = await render(again);
        expect(rerendered.naturalWidth > 0, "re-rendered image loads");
        rerendered.remove();
        // Links are signed per window, not per second: a second later the server still gives this one.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const asked = await signedUrl(alice, fileId);
        equal(asked.url, first, "a new POST …/url in the same window gives the same URL");
        const response = await fetch(first);
        equal(response.status, 200, "signed GET status");
        const cacheControl = response.headers.get("Cache-Control") ?? "";
        expect(
          /max-age=[1-9]/.test(cacheControl) && !/no-store|no-cache/.test(cacheControl),
          `Cache-Control lets the browser reuse it: ${cacheControl}`,
        );
        const thumb = await links.url(fileId, { variant: { w: 64, h: 64, fit: "cover", format: "webp" } });
        expect(thumb !== first, "the variant has its own link");
        const small = await render(thumb);
        equal([small.naturalWidth, small.naturalHeight], [64, 64], "variant size");
        small.remove();
      },
    ],
    [
      "a 413 over MAX_UPLOAD_SIZE whose body the page reads",
      async () => {
        const { data: limits } = await ok(alice.api.GET("/api/limits"));
        // A real PNG padded past the limit: refused while it streams (not from its length alone).
        const png = await noisePng(64, 64);
        const tooBig = new Blob([png, new Uint8Array(limits.maxUploadBytes + 4096 - png.size)], { type: "image/png" });
        let progressed = false;
        const error = await fails(
          uploadFile(alice, { file: tooBig, filename: "big.png", onProgress: () => (progressed = true) }),
        );
        equal(error.status, 413, `status (progress seen: ${progressed})`);
        equal(error.code, "payload_too_large", "error.code");
        expect(error.message.includes(String(limits.maxUploadBytes)), `message names the limit: ${error.message}`);
      },
    ],
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
  const outcomes: Outcome[] = [];
  for (const [name, run] of checks(config)) {
    try {
      await run();
      outcomes.push({ name, ok: true, detail: "" });
    } catch (error) {
      const detail = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
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

// Checks of the browser test on documents: tags (create, list, patch, 412) and a chat's messages.
import { collect, listPages, messagePage, messagePages, newMessages, ok } from "../../src/index.js";
import { equal, expect, fails } from "./assert.js";
import type { Check, Context } from "./context.js";

export function documentChecks({ config, alice, made, need }: Context): Check[] {
  return [
    [
      "tags: create, walk the list by cursor, patch with If-Match",
      async () => {
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          const created = await ok(alice.api.POST("/api/tags", { body: { name: `browser-${i}` } }));
          equal(created.response.status, 201, "create status");
          equal(created.etag, '"1"', "ETag of a new tag");
          const location = created.response.headers.get("Location");
          equal(location, `${config.api}/api/tags/${created.data.id}`, "Location (exposed, on PUBLIC_BASE_URL)");
          ids.push(created.data.id);
        }
        const pageSizes: number[] = [];
        const seen: string[] = [];
        for await (const page of listPages(alice, "/api/tags", { limit: 3, sort: "name" })) {
          pageSizes.push(page.length);
          seen.push(...page.map((tag) => tag.id));
        }
        const taken = await fails(alice.api.POST("/api/tags", { body: { name: "BROWSER-0" } }));
        equal([taken.status, taken.code], [409, "conflict"], "a taken name (ignoring case)");
        equal(
          taken.details.map((detail) => [detail.field, detail.existingId]),
          [["name", ids[0]]],
          "details name the field and the tag holding the name",
        );
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
        expect(Array.isArray((error.body as { error: { details: unknown } }).error.details), "details is an array");
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
      "a chat view polls for new messages from its latest page's prevCursor",
      async () => {
        const chatId = need("chatId");
        const latest = await messagePage(alice, chatId, { latest: true, limit: 5 });
        equal(latest.items.map((m) => m.content), ["m19", "m20", "m21", "m22", "m23"], "the latest page");
        expect(latest.prevCursor !== null, "the latest page has a prevCursor");
        const nothing = await newMessages(alice, chatId, latest.prevCursor ?? "");
        equal([nothing.items.length, nothing.next], [0, latest.prevCursor], "nothing new yet: the same cursor");
        for (const content of ["m24", "m25", "m26"]) {
          await ok(
            alice.api.POST("/api/chats/{id}/messages", {
              params: { path: { id: chatId } },
              body: { role: "user", content },
            }),
          );
        }
        const fresh = await newMessages(alice, chatId, nothing.next, 2);
        equal(fresh.items.map((m) => m.content), ["m24", "m25", "m26"], "the new messages, over two pages");
        const after = await newMessages(alice, chatId, fresh.next);
        equal(after.items.length, 0, "polled again: nothing new");
      },
    ],
  ];
}

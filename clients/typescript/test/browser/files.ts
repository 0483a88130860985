// Checks of the browser test on files: an upload with progress, signed links in <img>, a 413.
import { collect, items, listPages, ok, SignedLinks, signedUrl, uploadFile, type UploadProgress } from "../../src/index.js";
import { equal, expect, fails, noisePng, render } from "./assert.js";
import type { Check, Context } from "./context.js";

/**
 * Runs `pair` (two link requests a moment apart) again when a link window ended between them:
 * two windows (5 minutes each at least) never end within one retry.
 */
async function sameWindow(pair: () => Promise<[string, string]>): Promise<[string, string]> {
  const first = await pair();
  return first[0] === first[1] ? first : pair();
}

export function fileChecks({ config, alice, made, need }: Context): Check[] {
  return [
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
        equal(uploaded.etag, `"${uploaded.data.sha256}"`, "ETag of the new file (its content's, as GET gives it)");
        equal(uploaded.data.version, 1, "metadata version");
        expect(!("storage" in uploaded.data), "the file JSON has no `storage`");
        equal(uploaded.location, `${config.api}/api/files/${uploaded.data.id}`, "Location");
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
        const { data: raw } = await ok(alice.api.POST("/api/files/{id}/url", { params: { path: { id: fileId } } }));
        expect(raw.url.startsWith(`${config.api}/api/files/${fileId}?`), `absolute on PUBLIC_BASE_URL: ${raw.url}`);
        const img = await render(first);
        equal([img.naturalWidth, img.naturalHeight], [512, 384], "natural size");
        img.remove();
        const again = await links.url(fileId);
        equal(again, first, "the kept link on re-render");
        const rerendered = await render(again);
        expect(rerendered.naturalWidth > 0, "re-rendered image loads");
        rerendered.remove();
        // Links are signed per window, not per second: a second later the server gives the same.
        const [before, after] = await sameWindow(async () => {
          const earlier = await signedUrl(alice, fileId);
          await new Promise((resolve) => setTimeout(resolve, 1100));
          return [earlier.url, (await signedUrl(alice, fileId)).url];
        });
        equal(after, before, "a new POST …/url a second later gives the same URL");
        const { data: page } = await ok(
          alice.api.GET("/api/files", { params: { query: { signedUrls: true, limit: 10 } } }),
        );
        const listed = page.items.find((file) => file.id === fileId)?.signedUrl;
        expect(listed !== undefined && listed !== null, "the list with signedUrls=true carries signedUrl");
        const [fromList, fromPost] = await sameWindow(async () => {
          const { data: again } = await ok(
            alice.api.GET("/api/files", { params: { query: { signedUrls: true, limit: 10 } } }),
          );
          const link = again.items.find((file) => file.id === fileId)?.signedUrl?.url ?? "";
          return [link, (await signedUrl(alice, fileId)).url];
        });
        equal(fromList, fromPost, "the list's signedUrl is the link POST …/url gives");
        links.rememberFiles(page.items);
        const fromCache = await links.url(fileId);
        equal(fromCache, listed.url, "SignedLinks hands out the list's link");
        const response = await fetch(first);
        equal(response.status, 200, "signed GET status");
        const cacheControl = response.headers.get("Cache-Control") ?? "";
        expect(
          /max-age=[1-9]/.test(cacheControl) && !/no-store|no-cache/.test(cacheControl),
          `Cache-Control lets the browser reuse it: ${cacheControl}`,
        );
        const variant = { w: 64, h: 64, fit: "cover", format: "webp" } as const;
        const thumb = await links.url(fileId, { variant });
        expect(thumb !== first, "the variant has its own link");
        const small = await render(thumb);
        equal([small.naturalWidth, small.naturalHeight], [64, 64], "variant size");
        small.remove();
        // A gallery of thumbnails from one request: the list's links open the variant.
        const { data: gallery } = await ok(
          alice.api.GET("/api/files", { params: { query: { signedUrls: true, ...variant } } }),
        );
        const listedLink = gallery.items.find((file) => file.id === fileId)?.signedUrl?.url ?? "";
        expect(/[?&]w=64&h=64/.test(listedLink), `the list's link names the variant: ${listedLink}`);
        const thumbs = new SignedLinks(alice);
        thumbs.rememberFiles(gallery.items, variant);
        equal(await thumbs.url(fileId, { variant }), listedLink, "SignedLinks hands out the list's variant link");
        const listedThumb = await render(listedLink);
        equal([listedThumb.naturalWidth, listedThumb.naturalHeight], [64, 64], "the list's variant link");
        listedThumb.remove();
      },
    ],
    [
      "one ETag meaning per URL: content at /api/files/{id}, version at …/metadata",
      async () => {
        const id = need("fileId");
        const path = { params: { path: { id } } };
        const content = await fetch(`${config.api}/api/files/${id}`, { method: "HEAD", headers: await alice.authHeaders() });
        const { data: meta, etag: metaTag } = await ok(alice.api.GET("/api/files/{id}/metadata", path));
        equal(content.headers.get("ETag"), `"${meta.sha256}"`, "the content's ETag");
        equal(metaTag, '"1"', "the metadata's ETag");
        const patched = await ok(
          alice.api.PATCH("/api/files/{id}/metadata", {
            params: { path: { id }, header: { "If-Match": metaTag ?? "" } },
            body: { description: "patched from the browser" },
          }),
        );
        equal(patched.etag, '"2"', "the metadata's ETag after a patch");
        const stale = await fails(
          alice.api.DELETE("/api/files/{id}", { params: { path: { id }, header: { "If-Match": '"1"' } } }),
        );
        equal([stale.status, stale.etag], [412, content.headers.get("ETag")], "DELETE with the metadata's ETag");
        const { data: still } = await ok(alice.api.GET("/api/files/{id}/metadata", path));
        equal(still.description, "patched from the browser", "the file is still there");
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
  ];
}

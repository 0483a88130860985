// Checks of the browser test on files: an upload with progress, signed links in <img>, a 413.
import { collect, items, listPages, ok, SignedLinks, signedUrl, uploadFile, type UploadProgress } from "../../src/index.js";
import { equal, expect, fails, noisePng, render } from "./assert.js";
import type { Check, Context } from "./context.js";

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
  ];
}

import type { Quillstore } from "./client.js";
import { ok } from "./errors.js";
import type { Body } from "./types.js";

export type SignedUrlRequest = Body<"UrlRequest">;

export interface SignedLink {
  /** Absolute URL: usable as `<img src>` without a token until `expiresAt`. */
  url: string;
  expiresAt: Date;
}

/** `POST /api/files/{id}/url`: a signed link to a file (or to one variant of an image). */
export async function signedUrl(
  qs: Quillstore,
  fileId: string,
  request: SignedUrlRequest = {},
): Promise<SignedLink> {
  const { data } = await ok(
    qs.api.POST("/api/files/{id}/url", { params: { path: { id: fileId } }, body: request }),
  );
  return { url: qs.resolve(data.url), expiresAt: new Date(data.expiresAt) };
}

export interface SignedLinksOptions {
  /** What every link asks for (lifetime, variant) unless a call says otherwise. */
  request?: SignedUrlRequest;
  /** A link this close to its expiry (ms) is renewed instead of reused; default 60 s. */
  renewBefore?: number;
}

/**
 * Signed links kept per file (and variant) and handed out again while they are valid, so an
 * `<img>` that is rendered again gets the same URL (the browser's cache hits) and no request
 * is made. Links a list brought along can be put in with `remember`.
 */
export class SignedLinks {
  private readonly links = new Map<string, Promise<SignedLink>>();
  private readonly request: SignedUrlRequest;
  private readonly renewBefore: number;

  constructor(
    private readonly qs: Quillstore,
    options: SignedLinksOptions = {},
  ) {
    this.request = options.request ?? {};
    this.renewBefore = options.renewBefore ?? 60_000;
  }

  private key(fileId: string, request: SignedUrlRequest): string {
    return `${fileId} ${JSON.stringify(request)}`;
  }

  private fresh(link: SignedLink): boolean {
    return link.expiresAt.getTime() - Date.now() > this.renewBefore;
  }

  /** The file's link: the kept one while it is fresh, else a new one. */
  async url(fileId: string, request: SignedUrlRequest = this.request): Promise<string> {
    const key = this.key(fileId, request);
    const kept = this.links.get(key);
    if (kept) {
      const link = await kept.catch(() => null);
      if (link && this.fresh(link)) return link.url;
    }
    const next = signedUrl(this.qs, fileId, request);
    this.links.set(key, next);
    next.catch(() => this.links.delete(key));
    return (await next).url;
  }

  /** Keeps a link obtained elsewhere (a file list with signed URLs, say). */
  remember(fileId: string, link: { url: string; expiresAt: string | Date }, request = this.request) {
    const kept = { url: this.qs.resolve(link.url), expiresAt: new Date(link.expiresAt) };
    this.links.set(this.key(fileId, request), Promise.resolve(kept));
  }

  /**
   * Keeps the links that files brought along: the items of `GET /api/files?signedUrls=true`,
   * or a file's metadata with `signedUrls=true`. They are links with the server's default
   * lifetime, kept for `url(id, {})`; when the list asked for a variant (`w`, `h`, `fit`,
   * `format`), pass the same `variant` so they are kept for `url(id, { variant })`.
   */
  rememberFiles(
    files: Iterable<{ id: string; signedUrl?: { url: string; expiresAt: string } | null }>,
    variant?: SignedUrlRequest["variant"],
  ) {
    for (const file of files) {
      if (file.signedUrl) this.remember(file.id, file.signedUrl, variant ? { variant } : {});
    }
  }

  /** Drops every kept link of the file (after deleting it, say). */
  forget(fileId: string) {
    for (const key of [...this.links.keys()]) {
      if (key.startsWith(`${fileId} `)) this.links.delete(key);
    }
  }
}

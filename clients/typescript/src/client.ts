import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./schema.js";

/** A bearer token, or a function that returns the current one (called for every request). */
export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

export interface QuillstoreOptions {
  /** The service's origin, e.g. `https://store.example.com` (without `/api`). */
  baseUrl: string;
  /** JWT for `AUTH_MODE=jwt`; leave out for `AUTH_MODE=none`. */
  token?: TokenSource;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
}

export interface Quillstore {
  /** The typed openapi-fetch client: `api.GET("/api/tags")`, `api.PATCH("/api/tags/{id}", …)`. */
  api: Client<paths>;
  /** The service's origin, without a trailing slash. */
  baseUrl: string;
  /** The `Authorization` header for the current token (empty without one). */
  authHeaders(): Promise<Record<string, string>>;
  /** Makes a URL the API returned absolute (relative ones are resolved on `baseUrl`). */
  resolve(url: string): string;
}

export async function currentToken(source: TokenSource | undefined): Promise<string | null> {
  if (source === undefined) return null;
  const token = typeof source === "function" ? await source() : source;
  return token || null;
}

/** A client for one quillstore service and one user (token). */
export function createQuillstore(options: QuillstoreOptions): Quillstore {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const api = createClient<paths>({ baseUrl, fetch: options.fetch });
  const auth: Middleware = {
    async onRequest({ request }) {
      const token = await currentToken(options.token);
      if (token && !request.headers.has("Authorization")) {
        request.headers.set("Authorization", `Bearer ${token}`);
      }
      return request;
    },
  };
  api.use(auth);
  return {
    api,
    baseUrl,
    async authHeaders(): Promise<Record<string, string>> {
      const token = await currentToken(options.token);
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    resolve(url: string) {
      return new URL(url, `${baseUrl}/`).href;
    },
  };
}

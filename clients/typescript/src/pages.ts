import type { Quillstore } from "./client.js";
import { ok } from "./errors.js";
import type { Readable } from "openapi-typescript-helpers";
import type { paths } from "./schema.js";

/** A page of any list: its items and the cursor of the next page (`null` on the last). */
export interface CursorPage<T> {
  items: T[];
  nextCursor?: string | null;
}

/**
 * Walks pages by cursor: calls `fetchPage` with no cursor, then with each page's `nextCursor`
 * until it is `null`, yielding each page's items.
 */
export async function* pages<T>(
  fetchPage: (cursor: string | undefined) => Promise<CursorPage<T>>,
): AsyncGenerator<T[], void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield page.items;
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}

/** Every item of every page, one by one. */
export async function* items<T>(pageIterator: AsyncIterable<T[]>): AsyncGenerator<T, void, undefined> {
  for await (const page of pageIterator) yield* page;
}

/** Drains an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

type Json200<Op> = Op extends { responses: { 200: { content: { "application/json": infer B } } } } ? B : never;
type GetOf<P extends keyof paths> = paths[P] extends { get: infer G } ? G : never;

/** The collection routes (no path parameter) whose `GET` answers a cursor page. */
export type ListPath = {
  [P in keyof paths]: P extends `${string}{${string}`
    ? never
    : Json200<GetOf<P>> extends { items: unknown[]; nextCursor: unknown }
      ? P
      : never;
}[keyof paths];

/** A document of the collection at `P`. */
export type ListItem<P extends ListPath> = Json200<GetOf<P>> extends { items: (infer T)[] } ? Readable<T> : never;

/** The query parameters of the collection at `P` (without `cursor`, which the walk sets). */
export type ListQuery<P extends ListPath> = GetOf<P> extends { parameters: { query?: infer Q } }
  ? Omit<NonNullable<Q>, "cursor">
  : never;

type LooseGet = (
  path: string,
  init: { params: { query?: Record<string, unknown>; path?: Record<string, string> } },
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

function looseGet(qs: Quillstore): LooseGet {
  return qs.api.GET as unknown as LooseGet;
}

/**
 * The pages of a collection, walked by `nextCursor`:
 *
 * ```ts
 * for await (const page of listPages(qs, "/api/characters", { sort: "name", limit: 100 })) …
 * ```
 */
export function listPages<P extends ListPath>(
  qs: Quillstore,
  path: P,
  query?: ListQuery<P>,
): AsyncGenerator<ListItem<P>[], void, undefined> {
  const get = looseGet(qs);
  return pages(async (cursor) => {
    const params = { query: { ...(query as Record<string, unknown>), ...(cursor ? { cursor } : {}) } };
    const { data } = await ok(get(path, { params }));
    return data as CursorPage<ListItem<P>>;
  });
}

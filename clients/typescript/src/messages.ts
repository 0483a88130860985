import type { Quillstore } from "./client.js";
import { ok } from "./errors.js";
import { pages } from "./pages.js";
import type { Schema } from "./types.js";

export type Message = Schema<"Message">;
export type MessagePage = Schema<"MessagePage">;

/** The query of `GET /api/chats/{id}/messages`: `after`, `before`, `latest` or a `cursor`. */
export interface MessageQuery {
  limit?: number;
  includeSwipes?: boolean;
  after?: number;
  before?: number;
  latest?: boolean;
  cursor?: string;
}

/** One page of a chat's messages, with both cursors. */
export async function messagePage(qs: Quillstore, chatId: string, query: MessageQuery = {}): Promise<MessagePage> {
  const { data } = await ok(qs.api.GET("/api/chats/{id}/messages", { params: { path: { id: chatId }, query } }));
  return data;
}

export interface MessageWalk {
  /** `forward`: from the first message (or `after`) on; `backward`: from the latest (or `before`) back. */
  direction?: "forward" | "backward";
  /** Positions per page (1–200). */
  limit?: number;
  includeSwipes?: boolean;
  /** Start after this `seq` (forward). */
  after?: number;
  /** Start before this `seq` (backward). */
  before?: number;
}

/**
 * The pages of a chat's messages, walked by `nextCursor`. Each page is in ascending (`seq`,
 * `swipeIndex`) order; a backward walk yields the newest page first (a chat view scrolling
 * up into history).
 */
export function messagePages(
  qs: Quillstore,
  chatId: string,
  walk: MessageWalk = {},
): AsyncGenerator<Message[], void, undefined> {
  const { direction, after, before, ...common } = walk;
  const start: MessageQuery =
    direction === "backward"
      ? { ...common, ...(before !== undefined ? { before } : { latest: true }) }
      : { ...common, ...(after !== undefined ? { after } : {}) };
  return pages((cursor) =>
    messagePage(qs, chatId, cursor ? { ...common, cursor } : start),
  );
}

/** Where `newMessages` goes on from: a page's cursor (`prevCursor` of a `latest` page), or a `seq`. */
export type Since = string | number;

/**
 * The messages written after `since` (for a chat view that polls): every page up to the
 * newest, and the `since` to pass next time (unchanged when nothing was new).
 *
 * ```ts
 * const first = await messagePage(qs, chatId, { latest: true });
 * let since: Since = first.prevCursor ?? 0;   // null: an empty chat, so from seq 0
 * const { items, next } = await newMessages(qs, chatId, since);
 * ```
 */
export async function newMessages(
  qs: Quillstore,
  chatId: string,
  since: Since,
  limit?: number,
): Promise<{ items: Message[]; next: Since }> {
  const found: Message[] = [];
  let query: MessageQuery = typeof since === "string" ? { cursor: since } : { after: since };
  for (;;) {
    const page = await messagePage(qs, chatId, { ...query, ...(limit ? { limit } : {}) });
    found.push(...page.items);
    if (!page.nextCursor) break;
    query = { cursor: page.nextCursor };
  }
  const last = found.reduce((seq, message) => Math.max(seq, message.seq), 0);
  return { items: found, next: found.length > 0 ? last : since };
}

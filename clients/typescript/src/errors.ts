import type { Schema } from "./types.js";

/** The error envelope every quillstore error carries: `{"error": {code, message, details}}`. */
export type ErrorEnvelope = Schema<"ErrorEnvelope">;
export type ErrorCode = ErrorEnvelope["error"]["code"];
/** One entry of `details`: a field at fault (`existingId` on a 409 for a taken name). */
export type FieldError = Schema<"FieldError">;

/**
 * A 4xx/5xx answer of quillstore, with what a client needs to react: the status, the
 * envelope's `code`, `message` and `details`, and the headers that say how to recover
 * (`ETag` of the current version on a 412, `Retry-After` on a 429/503).
 */
export class QuillstoreError extends Error {
  readonly status: number;
  readonly code: ErrorCode | "network";
  /** The fields at fault; empty when the error names none (or the body was no envelope). */
  readonly details: FieldError[];
  /** `ETag` of the answer (a 412 names the current version here). */
  readonly etag: string | null;
  /** `Retry-After` in seconds, when the server sent it. */
  readonly retryAfter: number | null;
  readonly requestId: string | null;
  /** The parsed body, when it was JSON. */
  readonly body: unknown;

  constructor(status: number, body: unknown, headers?: Headers) {
    const envelope = isEnvelope(body) ? body.error : undefined;
    super(envelope?.message ?? `HTTP ${status}`);
    this.name = "QuillstoreError";
    this.status = status;
    this.code = envelope?.code ?? (status === 0 ? "network" : "internal");
    this.details = Array.isArray(envelope?.details) ? envelope.details : [];
    this.body = body;
    this.etag = headers?.get("ETag") ?? null;
    const retry = headers?.get("Retry-After");
    this.retryAfter = retry != null && retry !== "" ? Number(retry) : null;
    this.requestId = headers?.get("x-request-id") ?? null;
  }
}

export function isEnvelope(body: unknown): body is ErrorEnvelope {
  if (typeof body !== "object" || body === null || !("error" in body)) return false;
  const error = (body as { error: unknown }).error;
  return typeof error === "object" && error !== null && "code" in error && "message" in error;
}

/** What every openapi-fetch call returns. */
export interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer of a successful call: its body and its `ETag`. */
export interface Ok<T> {
  data: T;
  etag: string | null;
  response: Response;
}

/**
 * Unwraps an openapi-fetch result: the body and `ETag` of a 2xx answer, or a thrown
 * `QuillstoreError` for any other.
 *
 * ```ts
 * const { data: tag, etag } = await ok(qs.api.GET("/api/tags/{id}", { params: { path: { id } } }));
 * ```
 */
export async function ok<T>(call: Promise<FetchResult<T>> | FetchResult<T>): Promise<Ok<T>> {
  const { data, error, response } = await call;
  if (!response.ok) throw new QuillstoreError(response.status, error, response.headers);
  return { data: data as T, etag: response.headers.get("ETag"), response };
}

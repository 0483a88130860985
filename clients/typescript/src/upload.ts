import type { Quillstore } from "./client.js";
import { QuillstoreError } from "./errors.js";
import type { Schema } from "./types.js";

export type FileDocument = Schema<"File">;
export type FileCategory = Schema<"FileCategory">;
export type FileSource = Schema<"FileSource">;
export type FileLink = Schema<"FileLink">;

export interface UploadProgress {
  /** Bytes of the request body sent so far (the multipart form, slightly more than the file). */
  loaded: number;
  /** The body's size, when the browser knows it. */
  total: number;
  /** `loaded / total` (0–1); 0 while `total` is unknown. */
  fraction: number;
}

export interface UploadOptions {
  file: Blob;
  /** The file name sent with the bytes (a `File`'s own name by default). */
  filename?: string;
  category?: FileCategory;
  source?: FileSource;
  description?: string;
  /** Tag ids. */
  tags?: string[];
  linkedTo?: FileLink[];
  /** Called on every upload progress event of the browser. */
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

export interface UploadResult {
  status: number;
  data: FileDocument;
  /** The content's ETag, `"<sha256>"`: what `If-Match` on `DELETE /api/files/{id}` takes. */
  etag: string | null;
  /** `Location` of the new file, absolute. */
  location: string | null;
}

function headersOf(xhr: XMLHttpRequest): Headers {
  const headers = new Headers();
  for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
}

function parse(text: string): unknown {
  try {
    return text === "" ? null : JSON.parse(text);
  } catch {
    return text;
  }
}

/** The multipart form of `POST /api/files`: text parts first, then `file`. */
export function uploadForm(options: UploadOptions): FormData {
  const form = new FormData();
  if (options.category) form.append("category", options.category);
  if (options.source) form.append("source", options.source);
  if (options.description !== undefined) form.append("description", options.description);
  if (options.tags) form.append("tags", JSON.stringify(options.tags));
  if (options.linkedTo) form.append("linkedTo", JSON.stringify(options.linkedTo));
  const name = options.filename ?? (options.file instanceof File ? options.file.name : "upload");
  form.append("file", options.file, name);
  return form;
}

/**
 * Uploads a file with `POST /api/files` through `XMLHttpRequest`, whose upload events report
 * progress (fetch has none). Resolves with the new file's metadata (201), its `Location` and
 * `ETag` (the content's `"<sha256>"`, as `GET /api/files/{id}` gives it); rejects with a
 * `QuillstoreError` (413 over `MAX_UPLOAD_SIZE`,
 * 415 for a type not allowed, 429 when too many uploads are in flight, `status` 0 when the
 * network failed or the upload was aborted).
 */
export async function uploadFile(qs: Quillstore, options: UploadOptions): Promise<UploadResult> {
  const auth = await qs.authHeaders();
  const form = uploadForm(options);
  return new Promise<UploadResult>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${qs.baseUrl}/api/files`);
    for (const [name, value] of Object.entries(auth)) xhr.setRequestHeader(name, value);
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (event) => {
      const total = event.lengthComputable ? event.total : 0;
      options.onProgress?.({ loaded: event.loaded, total, fraction: total ? event.loaded / total : 0 });
    });
    xhr.addEventListener("load", () => {
      const headers = headersOf(xhr);
      const body = parse(xhr.responseText);
      if (xhr.status < 200 || xhr.status > 299) {
        reject(new QuillstoreError(xhr.status, body, headers));
        return;
      }
      const location = headers.get("Location");
      resolve({
        status: xhr.status,
        data: body as FileDocument,
        etag: headers.get("ETag"),
        location: location ? qs.resolve(location) : null,
      });
    });
    const failed = () => reject(new QuillstoreError(0, null));
    xhr.addEventListener("error", failed);
    xhr.addEventListener("abort", failed);
    xhr.addEventListener("timeout", failed);
    if (options.signal) {
      if (options.signal.aborted) {
        failed();
        return;
      }
      options.signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}

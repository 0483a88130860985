// Assertions and page helpers of the browser test.
import { QuillstoreError } from "../../src/index.js";

export function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export function equal(actual: unknown, expected: unknown, what: string) {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** The `QuillstoreError` a call fails with: from a rejected promise or an openapi-fetch error result. */
export async function fails(
  call: Promise<{ error?: unknown; response: Response }> | Promise<unknown>,
): Promise<QuillstoreError> {
  let result: unknown;
  try {
    result = await call;
  } catch (error) {
    if (error instanceof QuillstoreError) return error;
    throw error;
  }
  const answer = result as { error?: unknown; response?: Response };
  if (answer.response && !answer.response.ok) {
    return new QuillstoreError(answer.response.status, answer.error, answer.response.headers);
  }
  throw new Error(`expected an error, got ${answer.response?.status ?? JSON.stringify(result)}`);
}

/** A PNG of random pixels (so it barely compresses), drawn on a canvas. */
export async function noisePng(width: number, height: number): Promise<Blob> {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  if (!context) throw new Error("no 2d canvas");
  const image = context.createImageData(width, height);
  const bytes = new Uint32Array(image.data.buffer);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.random() * 0x1000000) | 0xff000000;
  context.putImageData(image, 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("toBlob failed"))), "image/png"),
  );
}

/** Renders `<img src=url>` into the page; resolves once it loaded (10 s at most). */
export function render(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = document.createElement("img");
    const timer = setTimeout(() => reject(new Error(`image did not load within 10 s: ${url}`)), 10_000);
    img.addEventListener("load", () => {
      clearTimeout(timer);
      resolve(img);
    });
    img.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error(`image failed to load: ${url}`));
    });
    img.src = url;
    document.body.append(img);
  });
}

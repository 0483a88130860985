export { createQuillstore, type Quillstore, type QuillstoreOptions, type TokenSource } from "./client.js";
export {
  ok,
  isEnvelope,
  QuillstoreError,
  type ErrorCode,
  type ErrorEnvelope,
  type FieldError,
  type Ok,
} from "./errors.js";
export {
  uploadFile,
  uploadForm,
  type FileCategory,
  type FileDocument,
  type FileLink,
  type FileSource,
  type UploadOptions,
  type UploadProgress,
  type UploadResult,
} from "./upload.js";
export { signedUrl, SignedLinks, type SignedLink, type SignedLinksOptions, type SignedUrlRequest } from "./links.js";
export {
  collect,
  items,
  listPages,
  pages,
  type CursorPage,
  type ListItem,
  type ListPath,
  type ListQuery,
} from "./pages.js";
export {
  messagePage,
  messagePages,
  newMessages,
  type Message,
  type MessagePage,
  type MessageQuery,
  type MessageWalk,
  type Since,
} from "./messages.js";
export type { components, operations, paths } from "./schema.js";
export type { Body, Schema } from "./types.js";

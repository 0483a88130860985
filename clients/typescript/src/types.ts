import type { Readable, Writable } from "openapi-typescript-helpers";
import type { components } from "./schema.js";

type Schemas = components["schemas"];

/** A schema as the server answers it (server-owned fields included). */
export type Schema<N extends keyof Schemas> = Readable<Schemas[N]>;

/** A schema as a request body (server-owned fields left out). */
export type Body<N extends keyof Schemas> = Writable<Schemas[N]>;

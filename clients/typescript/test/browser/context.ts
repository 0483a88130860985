// What every check of the browser test shares: the suite's configuration, one client per
// user, and what the checks made as alice (for bob to look for).
import { createQuillstore, type Quillstore } from "../../src/index.js";

export interface SuiteConfig {
  /** The API's origin. */
  api: string;
  tokens: { alice: string; bob: string; flood: string };
  /** `RATE_LIMIT_USER_PER_MINUTE` of the server. */
  userPerMinute: number;
}

export interface Outcome {
  name: string;
  ok: boolean;
  detail: string;
}

/** What the checks create as alice, for bob to look for. */
export interface Made {
  tagId?: string;
  chatId?: string;
  messageId?: string;
  fileId?: string;
}

export type Check = [name: string, run: () => Promise<void>];

export interface Context {
  config: SuiteConfig;
  alice: Quillstore;
  bob: Quillstore;
  /** The user who runs into the rate limit. */
  flood: Quillstore;
  made: Made;
  /** What an earlier check made, or a failure that says it is missing. */
  need(key: keyof Made): string;
}

export function context(config: SuiteConfig): Context {
  const made: Made = {};
  return {
    config,
    alice: createQuillstore({ baseUrl: config.api, token: config.tokens.alice }),
    bob: createQuillstore({ baseUrl: config.api, token: () => config.tokens.bob }),
    flood: createQuillstore({ baseUrl: config.api, token: config.tokens.flood }),
    made,
    need(key) {
      const value = made[key];
      if (!value) throw new Error(`an earlier check did not make ${key}`);
      return value;
    },
  };
}

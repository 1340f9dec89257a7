// What a CLI command gets from the process it runs in; main.ts passes the real one, tests their own.
import type { EarlyStdio } from './server/initialize.js';

export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** `once('drain')` where the stream has backpressure (process.stdout does); a test's collector need not. */
  stdout: { write(chunk: string): unknown; once?(event: 'drain', listener: () => void): unknown };
  stderr: { write(chunk: string): unknown };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** `serve --stdio`: stdin as main.ts took it over at start, its `initialize` already answered. */
  early?: EarlyStdio;
}

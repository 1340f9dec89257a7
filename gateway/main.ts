// CLI entry: `tollgate serve | check | audit | approvals | tools | secrets | tokens | config` (gateway/commands.ts).
import { resolve } from 'node:path';
import { main } from './commands.js';
import type { Io } from './io.js';

// A reader that stops early (`tollgate audit export | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const io: Io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: resolve('.') };
const code = await main(process.argv.slice(2), io);
process.exitCode = code;
// serve keeps watchers and upstream processes alive: once it has returned, leave.
if (process.argv[2] === 'serve') process.stderr.write('', () => process.exit(code));

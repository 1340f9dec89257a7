// Test entry: `node --import tsx test/auth/cli-entry.ts STATE_DIR tokens ARGS…` runs the tokens CLI as a real process.
import { tokensCommand } from '../../gateway/server/auth/index.js';

const [stateDir, command, ...argv] = process.argv.slice(2);
if (!stateDir || command !== 'tokens') {
  process.stderr.write('usage: cli-entry.ts STATE_DIR tokens ARGS…\n');
  process.exit(2);
}
const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
process.exitCode = await tokensCommand(argv, io, { stateDir });

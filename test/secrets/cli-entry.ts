// Test entry: `node --import tsx test/secrets/cli-entry.ts STATE_DIR SERVICE BACKEND secrets ARGS…` runs the secrets CLI as a real process.
import { secretsCommand, type SecretBackend } from '../../gateway/secrets/index.js';

const [stateDir, service, backend, command, ...argv] = process.argv.slice(2);
if (!stateDir || !service || !backend || command !== 'secrets') {
  process.stderr.write('usage: cli-entry.ts STATE_DIR SERVICE keyring|file-for-tests secrets ARGS…\n');
  process.exit(2);
}
const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
process.exitCode = await secretsCommand(argv, io, { stateDir, service, backend: backend as SecretBackend });

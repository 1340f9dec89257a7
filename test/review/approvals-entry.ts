// A tiny CLI entry so tests can run `tollgate approvals …` in a separate process: argv = [stateDir, ...approvals args].
import { approvalsCommand } from '../../gateway/review/index.js';

const [stateDir, ...args] = process.argv.slice(2);
const code = await approvalsCommand(args, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() }, { stateDir: stateDir! });
process.exitCode = code;

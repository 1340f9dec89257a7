// A command-line mistake: reported as one sentence with exit code 2, never a stack trace (one class, from cli-args).
export { UsageError } from './cli-args.js';

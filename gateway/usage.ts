// A command-line mistake: reported as one sentence with exit code 2, never a stack trace.
export class UsageError extends Error {
  override name = 'UsageError';
}

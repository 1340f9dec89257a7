// Reads the gateway's journal back from disk, as a security team would, to check what the e2e tests did.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type JournalLine = Record<string, unknown> & { name: string; seq: number; callId?: string };

export function journalFiles(dataDir: string): string[] {
  const dir = join(dataDir, 'audit');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^journal-\d+\.jsonl$/.test(f)).sort().map((f) => join(dir, f));
}

/** Every complete record (a torn last line after a crash is skipped; verify reports it). */
export function readJournal(dataDir: string): JournalLine[] {
  return journalFiles(dataDir).flatMap((f) =>
    readFileSync(f, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as JournalLine),
  );
}

/** Raw bytes of every file in the audit directory (for "the secret appears nowhere" checks). */
export function auditDirText(dataDir: string): string {
  const dir = join(dataDir, 'audit');
  return readdirSync(dir).map((f) => readFileSync(join(dir, f), 'latin1')).join('\n');
}

/** The call whose tool_call arguments satisfy pick, and every record of it in journal order. */
export function storyOf(records: JournalLine[], pick: (args: Record<string, unknown>) => boolean): { callId: string; steps: JournalLine[] } {
  const calls = records.filter((r) => r.name === 'tollgate.tool_call' && pick((r.arguments ?? {}) as Record<string, unknown>));
  if (calls.length !== 1) throw new Error(`expected exactly one matching tool_call in the journal, found ${calls.length}`);
  const callId = calls[0]!.callId!;
  return { callId, steps: records.filter((r) => r.callId === callId) };
}

export function commandIs(command: string): (args: Record<string, unknown>) => boolean {
  return (args) => args.command === command;
}

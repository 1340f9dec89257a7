// SECURITY: a reader of Tollgate's state (a sandbox escape, a backup, another local user's tool) finds no approval-page
// token that grants approval — the queue file keeps only its SHA-256, and the hash does not open the page.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ApprovalQueue } from '../../gateway/review/queue.js';
import { tempDir } from '../helpers/gateway.js';

it('the approval-page token is never on disk; its stored hash does not open the page', async () => {
  const stateDir = tempDir('tollgate-tokens-');
  const queue = new ApprovalQueue({ stateDir });
  const item = await queue.enqueue(
    { sessionId: 's1', server: 'sh', tool: 'sh__exec', arguments: { command: 'rm -rf /' }, argsDigest: 'sha256:' + '0'.repeat(64), policyReasons: ['needs a person'] },
    { timeoutMs: 60_000 },
  );
  expect(item.token.length).toBeGreaterThanOrEqual(32);
  const files = await readdir(join(stateDir, 'approvals'));
  const onDisk = (await Promise.all(files.map((f) => readFile(join(stateDir, 'approvals', f), 'utf8')))).join('\n');
  expect(onDisk).not.toContain(item.token);
  const stored = (await queue.get(item.id))!;
  expect(stored).not.toHaveProperty('token');
  expect(onDisk).toContain(stored.tokenHash);
  expect((await queue.getByToken(item.token))?.id).toBe(item.id);
  expect(await queue.getByToken(stored.tokenHash)).toBeUndefined();
  expect(await queue.getByToken(stored.tokenHash.slice('sha256:'.length))).toBeUndefined();
});

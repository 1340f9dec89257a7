// State files shared by many processes: read-modify-write under withFileLock loses no update; stale locks are taken over.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../helpers/process.js';
import { TSX } from '../helpers/gateway.js';
import { tryLockFile, withFileLock } from '../../gateway/state/index.js';

describe('gateway/state', () => {
  it('four processes incrementing one file under the lock lose no update', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-state-'));
    const file = join(dir, 'counter');
    writeFileSync(file, '0');
    const runs = await Promise.all([0, 1, 2, 3].map(() => runProcess(process.execPath, ['--import', TSX, join(import.meta.dirname, 'counter-child.ts'), file, '25'])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('100');
    expect(existsSync(`${file}.lock`)).toBe(false);
  }, 120_000);

  it('a lock of a gone process is taken over; a live one, another host\'s, or one held in this process is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-state-'));
    const lock = join(dir, 'x.lock');
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 17, host: hostname() }));
    const a = tryLockFile(lock);
    expect(a.held).toBe(true);
    expect(tryLockFile(lock)).toMatchObject({ held: false, why: 'held by this process' });
    if (a.held) a.release();
    expect(existsSync(lock)).toBe(false);
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: hostname() }));
    expect(tryLockFile(lock)).toMatchObject({ held: false, why: `in use by process ${process.ppid}` });
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'elsewhere' }));
    expect(tryLockFile(lock)).toMatchObject({ held: false, why: expect.stringContaining('on host "elsewhere"') });
    // withFileLock gives up after its timeout, naming the lock to delete
    await expect(withFileLock(join(dir, 'x'), () => 1, { timeoutMs: 50 })).rejects.toThrow(/being updated by another process .*delete .*x\.lock/);
  });
});

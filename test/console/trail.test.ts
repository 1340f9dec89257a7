// The console's trail reader reads only what is new: a file that grew is read from its last whole line, a line still
// being written is read once it is whole, a new writer's chain is merged in by time, a replaced file is read again.
import { describe, expect, it } from 'vitest';
import { appendFileSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openJournal } from '../../gateway/audit/journal.js';
import { trailReader } from '../../gateway/console/trail.js';
import { tempDir } from '../helpers/gateway.js';

const rec = (i: number, t: number) => ({ name: 'tollgate.session_start', time: new Date(t).toISOString(), sessionId: `s-${i}`, identity: 'local:test' });

describe('trailReader', () => {
  it('picks up appended records, whole lines only, and other chains merged by time', async () => {
    const dataDir = tempDir();
    const dir = join(dataDir, 'audit');
    const a = await openJournal({ dir });
    const t = Date.now() - 10_000;
    for (let i = 0; i < 3; i++) await a.append(rec(i, t + i * 10), 'now').durable;
    const read = trailReader(dataDir);
    expect((await read()).map((r) => r.sessionId)).toEqual(['s-0', 's-1', 's-2']);

    await a.append(rec(3, t + 30), 'now').durable;
    expect((await read()).map((r) => r.sessionId)).toEqual(['s-0', 's-1', 's-2', 's-3']);

    const b = await openJournal({ dir }); // a second writer process: its own chain
    await b.append(rec(10, t + 15), 'now').durable;
    expect((await read()).map((r) => r.sessionId)).toEqual(['s-0', 's-1', 's-10', 's-2', 's-3']);
    await a.close();
    await b.close();
  });

  it('reads a half-written last line once it is complete, and a file replaced by another from the start', async () => {
    const dataDir = tempDir();
    const dir = join(dataDir, 'audit');
    const j = await openJournal({ dir });
    await j.append(rec(0, Date.now()), 'now').durable;
    await j.close();
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.jsonl'))!);
    const line = readFileSync(file, 'utf8').trim();
    const read = trailReader(dataDir);
    expect(await read()).toHaveLength(1);
    const second = line.replace('"s-0"', '"s-1"');
    appendFileSync(file, second.slice(0, 20));
    expect(await read()).toHaveLength(1);
    appendFileSync(file, `${second.slice(20)}\n`);
    expect((await read()).map((r) => r.sessionId)).toEqual(['s-0', 's-1']);
    writeFileSync(`${file}.new`, `${line.replace('"s-0"', '"s-9"')}\n`);
    renameSync(`${file}.new`, file);
    expect((await read()).map((r) => r.sessionId)).toEqual(['s-9']);
  });
});

// A child process that increments a shared counter file N times, each a read-modify-write under withFileLock.
import { readFileSync } from 'node:fs';
import { withFileLock, writeFileAtomic } from '../../gateway/state/index.js';

const [file, times] = process.argv.slice(2) as [string, string];
for (let i = 0; i < Number(times); i++) {
  await withFileLock(file, async () => {
    const n = Number(readFileSync(file, 'utf8'));
    await new Promise((r) => setImmediate(r)); // let the others run in between the read and the write
    await writeFileAtomic(file, String(n + 1));
  }, { timeoutMs: 60_000 });
}

// bin/tollgate picks the built code only when it is newer than every source file, so a checkout never runs a stale build.
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/gateway.js';

function layout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-entry-'));
  mkdirSync(join(dir, 'bin'));
  cpSync(join(ROOT, 'bin', 'tollgate'), join(dir, 'bin', 'tollgate'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  mkdirSync(join(dir, 'gateway', 'policy'), { recursive: true });
  writeFileSync(join(dir, 'gateway', 'main.ts'), "const which: string = 'source'; process.stdout.write(which);\n");
  writeFileSync(join(dir, 'gateway', 'policy', 'rules.ts'), 'export {};\n');
  mkdirSync(join(dir, 'dist', 'gateway'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'gateway', 'main.js'), "process.stdout.write('dist');\n");
  return dir;
}
const at = (file: string, secondsAgo: number) => utimesSync(file, new Date(Date.now() - secondsAgo * 1000), new Date(Date.now() - secondsAgo * 1000));
const run = async (dir: string, env: Record<string, string> = {}) => {
  const clean = { ...process.env };
  delete clean.TOLLGATE_USE_DIST;
  delete clean.TOLLGATE_USE_TSX;
  return (await runProcess(process.execPath, [join(dir, 'bin', 'tollgate')], { env: { ...clean, ...env } })).stdout;
};

describe('bin/tollgate', () => {
  it('runs dist when it is newer than every file under gateway/, the source through tsx otherwise', async () => {
    const dir = layout();
    try {
      for (const f of ['gateway/main.ts', 'gateway/policy/rules.ts', 'gateway/policy', 'gateway']) at(join(dir, f), 60);
      expect(await run(dir)).toBe('dist');
      // an edit deep in the tree makes the build stale
      at(join(dir, 'gateway', 'policy', 'rules.ts'), 0);
      expect(await run(dir)).toBe('source');
      // rebuilt: fresh again
      at(join(dir, 'gateway', 'policy', 'rules.ts'), 60);
      at(join(dir, 'dist', 'gateway', 'main.js'), 0);
      expect(await run(dir)).toBe('dist');
      // a file deleted from the source changes its directory
      rmSync(join(dir, 'gateway', 'policy', 'rules.ts'));
      expect(await run(dir)).toBe('source');
      expect(await run(dir, { TOLLGATE_USE_DIST: '1' })).toBe('dist');
      at(join(dir, 'gateway', 'policy'), 60);
      expect(await run(dir, { TOLLGATE_USE_TSX: '1' })).toBe('source');
      // no build at all: the source
      rmSync(join(dir, 'dist'), { recursive: true });
      expect(await run(dir)).toBe('source');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

// Child process for the crash test: records bursts of calls and prints each call id once record() resolved.
import { openAudit, sha256Digest } from '../../gateway/audit/index.js';

const dataDir = process.argv[2]!;
const audit = await openAudit({ dataDir, serviceVersion: 'crash-test', env: {}, journal: { maxFileBytes: 64 * 1024 } });
process.stdout.write('ready\n');
let i = 0;
for (;;) {
  // 16 calls at once, as concurrent agent sessions would produce them
  const wave = Array.from({ length: 16 }, () => {
    const callId = `c-${++i}`;
    return audit.record({
      name: 'tollgate.tool_decision', sessionId: 's-burst', callId, tool: 'sh__exec', decision: 'approved', source: 'rule',
      reasons: [`wave ${sha256Digest(callId).slice(7, 19)}`],
    }).then(() => process.stdout.write(`${callId}\n`));
  });
  await Promise.all(wave);
}

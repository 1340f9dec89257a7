// sealRecord must produce exactly what verify recomputes: recordHash over the fields, and the canonical line.
import { describe, expect, it } from 'vitest';
import { canonicalJson, recordHash, sealRecord } from '../../gateway/audit/chain.js';

describe('sealRecord', () => {
  const records: Array<Record<string, unknown>> = [
    { name: 'tollgate.tool_call', seq: 1, prev: '0'.repeat(64), hash: '', arguments: { z: [1, { b: 2, a: null }], a: 'x' }, callId: 'c1' },
    { seq: 2, prev: 'ab', hash: '', zzz: 'last', aaa: 'first' },
    { hash: '', only: true, undef: undefined },
    { seq: 3, prev: 'p', hash: '', h: 'sorts before hash', ha: 1, hb: 2, i: 'after' },
  ];
  for (const [i, r] of records.entries()) {
    it(`matches recordHash and canonicalJson (${i})`, () => {
      const sealed = sealRecord(r);
      expect(sealed.hash).toBe(recordHash(r));
      expect(sealed.line).toBe(canonicalJson({ ...r, hash: sealed.hash }));
    });
  }
});

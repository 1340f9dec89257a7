import { describe, expect, it } from 'vitest';
import { bwrapArgs } from '../../gateway/sandbox/bwrap.js';
import { normalizeHost, parseAuthority } from '../../gateway/sandbox/egress.js';
import { looksSecret, scrubEnv } from '../../gateway/sandbox/index.js';
import { HeadTail } from '../../gateway/sandbox/output.js';
import { ShellServerOptionsSchema } from '../../gateway/upstreams/shell.js';

describe('scrubEnv', () => {
  const env = {
    PATH: '/usr/bin', LANG: 'C.UTF-8', LC_ALL: 'C', TERM: 'xterm', HOME: '/root',
    GITHUB_TOKEN: 't', OPENAI_API_KEY: 'k', AWS_SECRET_ACCESS_KEY: 's', DB_PASSWORD: 'p', NPM_CONFIG_USERCONFIG: '/x',
    GOOGLE_APPLICATION_CREDENTIALS: '/c', SSH_AUTH_SOCK: '/a', NODE_ENV: 'dev', AWS_REGION: 'eu', AWS_SESSION_TOKEN: 'st',
  };
  it('keeps only the safe base by default', () => {
    expect(Object.keys(scrubEnv(env)).sort()).toEqual(['LANG', 'LC_ALL', 'PATH', 'TERM']);
  });
  it('passes allowlisted names, but a pattern never lets a secret-looking name through', () => {
    const out = scrubEnv(env, ['NODE_ENV', 'AWS_*']);
    expect(out.NODE_ENV).toBe('dev');
    expect(out.AWS_REGION).toBe('eu');
    expect(out.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(out.AWS_SESSION_TOKEN).toBeUndefined();
  });
  it('an exact allowlist entry is the admin saying yes', () => {
    expect(scrubEnv(env, ['GITHUB_TOKEN']).GITHUB_TOKEN).toBe('t');
  });
  it('recognises credential names', () => {
    for (const n of ['FAKE_API_TOKEN', 'OPENAI_API_KEY', 'DB_PASSWORD', 'GOOGLE_APPLICATION_CREDENTIALS', 'SSH_AUTH_SOCK', 'MY_SECRET', 'PGPASSWORD']) expect(looksSecret(n), n).toBe(true);
    for (const n of ['PATH', 'LANG', 'TERM', 'NODE_ENV']) expect(looksSecret(n), n).toBe(false);
  });
});

describe('HeadTail', () => {
  it('keeps everything under the cap', () => {
    const h = new HeadTail(100);
    h.push(Buffer.from('abc'));
    h.push(Buffer.from('def'));
    expect(h.result()).toEqual({ text: 'abcdef', truncated: false, totalBytes: 6 });
  });
  it('keeps head and tail with the omitted byte count', () => {
    const h = new HeadTail(10);
    for (let i = 0; i < 10; i++) h.push(Buffer.from(String(i).repeat(5)));
    const r = h.result();
    expect(r.truncated).toBe(true);
    expect(r.text.startsWith('00000')).toBe(true);
    expect(r.text.endsWith('99999')).toBe(true);
    expect(r.text).toContain('[... 40 bytes omitted');
  });
});

describe('bwrapArgs', () => {
  const base = { cwd: '/w', home: '/tmp/home', command: ['bash', '-c', 'true'], readOnly: false };
  it('binds roots rw, pins ancestors of protected paths, then binds protected paths ro', () => {
    const a = bwrapArgs({ ...base, writableRoots: ['/w'], protectedPaths: ['/w/a/b/.tollgate', '/w/.git'] }).join(' ');
    expect(a).toContain('--ro-bind / /');
    expect(a).toContain('--bind /w /w --bind /w/a /w/a --bind /w/a/b /w/a/b --ro-bind /w/.git /w/.git --ro-bind /w/a/b/.tollgate /w/a/b/.tollgate');
    expect(a).toContain('--unshare-all --cap-drop ALL --die-with-parent --new-session --chdir /w -- bash -c true');
    expect(a.indexOf('--tmpfs /tmp')).toBeLessThan(a.indexOf('--bind /w /w'));
  });
  it('read-only mode binds roots read-only', () => {
    const a = bwrapArgs({ ...base, readOnly: true, writableRoots: ['/w'], protectedPaths: [] });
    expect(a.join(' ')).toContain('--ro-bind /w /w');
    expect(a).not.toContain('--bind');
  });
});

describe('egress parsing', () => {
  it('normalises hosts and parses CONNECT authorities', () => {
    expect(normalizeHost('Example.COM.')).toBe('example.com');
    // one normalizeHost for the proxy and the policy (issue 12): numeric IPv4 spellings and IDNs are one host
    expect(normalizeHost('0x7f.1')).toBe('127.0.0.1');
    expect(normalizeHost('2130706433')).toBe('127.0.0.1');
    expect(normalizeHost('BÜCHER.example')).toBe('xn--bcher-kva.example');
    expect(parseAuthority('0177.0.0.1:443')).toEqual({ host: '127.0.0.1', port: 443 });
    expect(parseAuthority('[::1]:443')).toEqual({ host: '::1', port: 443 });
    expect(parseAuthority('github.com:443')).toEqual({ host: 'github.com', port: 443 });
    expect(parseAuthority('github.com')).toBeUndefined();
    expect(parseAuthority('a:99999')).toBeUndefined();
  });
});

describe('ShellServerOptionsSchema', () => {
  it('fills defaults and requires roots', () => {
    expect(ShellServerOptionsSchema.parse({ roots: ['./ws'] })).toMatchObject({ network: 'none', mode: 'workspace-write', allowUnsandboxed: false });
    const bad = ShellServerOptionsSchema.safeParse({ roots: [] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['roots']);
  });
  it('rejects a default timeout above the maximum', () => {
    const bad = ShellServerOptionsSchema.safeParse({ roots: ['.'], defaultTimeoutSeconds: 900, maxTimeoutSeconds: 60 });
    expect(bad.error?.issues[0]?.path).toEqual(['defaultTimeoutSeconds']);
  });
});

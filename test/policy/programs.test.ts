// Program texts read the way sed and gawk read them: what only prints is read-only, anything that runs, writes or is not understood is not.
import { describe, expect, it } from 'vitest';
import { analyseAwk, analyseSed } from '../../gateway/policy/programs.js';

describe('sed scripts (GNU sed 4.9 grammar)', () => {
  it.each([
    'p', '1,20p', '/start/,/end/p', '$p', '5p', 's/a/b/g', 's|/|:|g', 's/a\\/b/c/', 's/x/y/2p', 'y/abc/xyz/', '/^#/d', '1~2d;3q', '0,/re/d',
    '$!N;P;D', ':a;N;$!ba;s/\\n/ /g', '1{p;q}', '/x/I,+3p', '\\%re%p', '1a appended text; w not-a-command', 'i\\\ninserted', '#n\np', '$=', 'l 40', 'q5',
    's/a/b/;s/c/d/', 'h;G', 'F;z', '/a/!d',
  ])('read-only: %j', (script) => expect(analyseSed(script)).toBeNull());
  it.each([
    ['e id', 'command'], ['1e id', 'command'], ['s/a/b/e', 'command'], ['s/a/b/ge', 'command'], ['s/a/b/w out', 'file-write'], ['s/a/b/gw out', 'file-write'],
    ['w out', 'file-write'], ['W out', 'file-write'], ['1{w out\n}', 'file-write'], ['p;w x', 'file-write'], ['s/a/b/;e id', 'command'], ['s|a|b|e', 'command'],
    ['y/a/b/;w x', 'file-write'], ['$!{e id\n}', 'command'], ['b end; w x', 'file-write'], ['s/a/b/ w x', undefined], ['r /etc/passwd', undefined], ['R f', undefined],
    ['s/a/b', undefined], ['s/a\nb/c/', undefined], ['{p', undefined], ['p}', undefined], ['k', undefined], ['s\u00e9a\u00e9b\u00e9e', undefined], [':a w x', undefined],
  ])('not read-only: %j', (script, capability) => {
    const v = analyseSed(script);
    expect(v).not.toBeNull();
    expect(v!.capability).toBe(capability);
  });
});

describe('awk programs (as gawk 5.2 lexes them)', () => {
  it.each([
    '{print $1}', 'NR==1', '{s+=$1} END {print s}', '$3 > 5', '{if ($1 > 2) print $1}', '/a|b/ {print}', '{print (a > b)}', '{print $1 || $2}',
    'BEGIN{a=4/2; print a}', '{x = a / b / c; print x}', '$1 ~ /[/]x/ {print}'.replace('[/]x', 'x'), '{print "a > b | c"}', '# system("id")\n{print}',
    '{printf "%s\\n", $1}', 'length($0) > 72', '{gsub(/a|b/, "x"); print}', 'BEGIN { FS = ":" } { print $1 }',
  ])('read-only: %j', (p) => expect(analyseAwk(p)).toBeNull());
  it.each([
    ['BEGIN{system("id")}', 'command'], ['{print | "sh"}', 'command'], ['{"id" | getline x}', 'command'], ['{getline < "/etc/shadow"}', 'command'],
    ['{print > "x"}', 'file-write'], ['{print >> "x"}', 'file-write'], ['{printf "%s", $0 > "x"}', 'file-write'], ['{print a[x > 1]}', 'file-write'],
    ['{print $1 |& "sh"}', 'command'], ['BEGIN{f="system"; @f("id")}', 'library-load'], ['@load "x"', 'library-load'], ['@include "x"', 'library-load'],
    ['{x = a / 2; system("id"); y = b / 3}', 'command'], ['{print (a) > "x"}', 'file-write'], ['BEGIN{print ENVIRON["HOME"]}', undefined],
    ['{print "unterminated}', undefined], ['/unterminated {print}', undefined], ['/[/]/ {system("id")}', undefined],
  ])('not read-only: %j', (p, capability) => {
    const v = analyseAwk(p);
    expect(v).not.toBeNull();
    expect(v!.capability).toBe(capability);
  });
});

// One host name, one spelling: the policy's domain rules, the shell analyser and the egress proxy all compare
// hosts through this (a leaf module: the sandbox imports it without the rest of the policy).
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/** Lower-case, IDN to punycode, numeric IPv4 forms (0x7f.1, 2130706433) to dotted quad, brackets off. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (ipaddr.isValid(h) && h.includes(':')) return ipaddr.parse(h).toString();
  try {
    const parsed = new URL(`http://${h.includes(':') ? `[${h}]` : h}/`).hostname;
    h = parsed.startsWith('[') ? parsed.slice(1, -1) : parsed;
  } catch {
    h = domainToASCII(h) || h;
  }
  return h.replace(/\.$/, '');
}

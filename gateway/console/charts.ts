// Server-side SVG charts: pure functions from counts to markup, scaled by viewBox so they fit a phone.
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export interface Series {
  key: string;
  label: string;
  color: string;
}

export interface Bucket {
  /** Axis label, e.g. "14:00". */
  label: string;
  /** Full label for the tooltip, e.g. the bucket's start time. */
  title: string;
  counts: Record<string, number>;
}

type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

const W = 640;

/** Stacked columns over time, one colour per series, with a legend; every segment has a tooltip. */
export function stackedColumns(opts: { buckets: Bucket[]; series: Series[]; label: string }): Markup {
  const { buckets, series } = opts;
  const H = 200;
  const top = 10;
  const bottom = 24;
  const left = 34;
  const plotH = H - top - bottom;
  const totals = buckets.map((b) => series.reduce((n, s) => n + (b.counts[s.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const slot = (W - left - 4) / Math.max(1, buckets.length);
  const barW = Math.max(2, slot * 0.75);
  const every = Math.ceil(buckets.length / 8); // at most ~8 axis labels so they never overlap
  const columns = buckets.map((b, i) => {
    let y = top + plotH;
    const x = left + i * slot + (slot - barW) / 2;
    const segs = series.map((s) => {
      const n = b.counts[s.key] ?? 0;
      if (!n) return '';
      const h = (n / max) * plotH;
      y -= h;
      return html`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${b.title}: ${n} ${s.label}</title></rect>`;
    });
    const tick = i % every === 0 ? html`<text x="${(x + barW / 2).toFixed(1)}" y="${H - 8}" text-anchor="middle" class="ax">${b.label}</text>` : '';
    return html`${segs}${tick}`;
  });
  return html`<figure><svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${opts.label}">
<line x1="${left}" y1="${top + plotH}" x2="${W - 4}" y2="${top + plotH}" stroke="#999"/>
<text x="${left - 4}" y="${top + 8}" text-anchor="end" class="ax">${max}</text><text x="${left - 4}" y="${top + plotH}" text-anchor="end" class="ax">0</text>
${columns}</svg>
<figcaption>${series.map((s) => html`<span class="key"><i style="background:${s.color}"></i>${s.label}</span> `)}</figcaption></figure>`;
}

/** Horizontal bars, largest first, for "calls per server/tool" and "blocked hosts". */
export function barList(opts: { rows: Array<{ label: string; value: number }>; color: string; label: string; max?: number }): Markup {
  const rows = [...opts.rows].sort((a, b) => b.value - a.value).slice(0, opts.max ?? 10);
  if (!rows.length) return html`<p class="muted">No data in this window.</p>`;
  const rowH = 24;
  const H = rows.length * rowH + 4;
  const BW = 440; // narrower than the columns chart so labels stay legible in a half-width card
  const labelW = 170;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const bars = rows.map((r, i) => {
    const y = 2 + i * rowH;
    const w = Math.max(1, (r.value / max) * (BW - labelW - 40));
    const name = r.label.length > 22 ? `${r.label.slice(0, 21)}…` : r.label;
    return html`<text x="${labelW - 6}" y="${y + 16}" text-anchor="end" class="lb">${name}<title>${r.label}</title></text><rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 7}" fill="${opts.color}"><title>${r.label}: ${r.value}</title></rect><text x="${(labelW + w + 6).toFixed(1)}" y="${y + 16}" class="lb">${r.value}</text>`;
  });
  return html`<svg viewBox="0 0 ${BW} ${H}" width="100%" style="max-width:${BW * 1.5}px" role="img" aria-label="${opts.label}">${bars}</svg>`;
}

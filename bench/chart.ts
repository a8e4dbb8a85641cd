/**
 * @module A self-contained SVG of the latency distributions, target vs baseline, one panel per
 * load mode: the percentile spectrum HdrHistogram plots (x: percentile on a log scale of
 * 1 / (1 - q), so the tail is as wide as the median; y: latency, log scale), with the budget.
 */

import type { SpectrumPoint } from './latency.ts';
import type { BenchResult, ModeSummary } from './report.ts';
import { formatMs } from './verdict.ts';

const panelWidth = 720;
const panelHeight = 340;
const margin = { left: 70, right: 36, top: 44, bottom: 46 };
const colors = {
  target: '#c2255c',
  baseline: '#1971c2',
  budget: '#e8590c',
  grid: '#dee2e6',
  text: '#212529',
};

export function renderLatencyChart(result: BenchResult): string {
  const panels = result.modes.map((mode, index) => renderPanel(mode, result, index * (panelHeight + 10)));
  const height = result.modes.length * (panelHeight + 10) + 30;
  const caption =
    `${result.traffic.usersPerBody} users/body, ${result.load.connections} connections, ` +
    `${result.machine.cpus} CPUs, Node ${result.machine.node}, ${result.startedAt.slice(0, 10)}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${panelWidth}" height="${height}" viewBox="0 0 ${panelWidth} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...panels,
    `<text x="${margin.left}" y="${height - 10}" fill="#868e96">${escapeXml(caption)}</text>`,
    '</svg>',
  ].join('\n');
}

function renderPanel(mode: ModeSummary, result: BenchResult, top: number): string {
  const series = [
    {
      name: 'target',
      points: placed(mode.target.spectrum, mode.target.latency.count),
      color: colors.target,
      dash: '',
    },
  ];
  if (mode.baseline) {
    series.push({
      name: 'baseline (bare node:http + JSON.parse)',
      points: placed(mode.baseline.spectrum, mode.baseline.latency.count),
      color: colors.baseline,
      dash: '6 4',
    });
  }
  const all = series.flatMap((s) => s.points).filter((p) => p.ms > 0);
  const budget = result.budget.p99Ms;
  const highest = Math.max(...all.map((p) => p.ms), 0.01);
  const showBudget = highest * 20 >= budget;
  const yMin = decadeFloor(Math.min(...all.map((p) => p.ms), highest));
  const yMax = decadeCeil(Math.max(highest, showBudget ? budget : 0) * 1.2);
  const xMax = Math.max(2, Math.ceil(Math.max(...all.map((p) => p.x))));
  const width = panelWidth - margin.left - margin.right;
  const height = panelHeight - margin.top - margin.bottom;
  const x = (decades: number) => margin.left + (decades / xMax) * width;
  const y = (ms: number) =>
    top +
    margin.top +
    height -
    ((Math.log10(Math.max(ms, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * height;

  const parts: string[] = [];
  const title =
    mode.mode === 'saturate'
      ? 'Saturated (closed loop): latency distribution'
      : `Paced at ${mode.rate} req/s (open loop): latency distribution`;
  parts.push(
    `<text x="${margin.left}" y="${top + 20}" font-size="14" font-weight="600" fill="${colors.text}">${escapeXml(title)}</text>`,
  );
  for (let decade = 0; decade <= xMax; decade++) {
    const px = x(decade);
    parts.push(
      `<line x1="${px}" y1="${top + margin.top}" x2="${px}" y2="${top + margin.top + height}" stroke="${colors.grid}"/>`,
    );
    parts.push(
      `<text x="${px}" y="${top + margin.top + height + 16}" text-anchor="middle" fill="${colors.text}">${percentLabel(decade)}</text>`,
    );
  }
  parts.push(
    `<text x="${margin.left + width / 2}" y="${top + panelHeight - 8}" text-anchor="middle" fill="${colors.text}">percentile</text>`,
  );
  for (let value = yMin; value <= yMax * 1.0001; value *= 10) {
    for (const step of [1, 2, 5]) {
      const ms = value * step;
      if (ms > yMax * 1.0001) break;
      const py = y(ms);
      parts.push(
        `<line x1="${margin.left}" y1="${py}" x2="${margin.left + width}" y2="${py}" stroke="${colors.grid}" stroke-dasharray="${step === 1 ? '' : '2 3'}"/>`,
      );
      parts.push(
        `<text x="${margin.left - 6}" y="${py + 4}" text-anchor="end" fill="${colors.text}">${tickLabel(ms)}</text>`,
      );
    }
  }
  parts.push(
    `<text transform="translate(16 ${top + margin.top + height / 2}) rotate(-90)" text-anchor="middle" fill="${colors.text}">latency, ms (log)</text>`,
  );
  if (showBudget) {
    const py = y(budget);
    parts.push(
      `<line x1="${margin.left}" y1="${py}" x2="${margin.left + width}" y2="${py}" stroke="${colors.budget}" stroke-width="1.5"/>`,
    );
    parts.push(
      `<text x="${margin.left + width - 4}" y="${py - 5}" text-anchor="end" fill="${colors.budget}">p99 budget ${budget} ms</text>`,
    );
  }
  series.forEach((s, index) => {
    const points = s.points.filter((p) => p.ms > 0).map((p) => `${x(p.x).toFixed(1)},${y(p.ms).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" points="${points.join(' ')}"/>`,
    );
    const summary = index === 0 ? mode.target : mode.baseline;
    const label = `${s.name}: p50 ${formatMs(summary?.latency.p50 ?? Number.NaN)} ms, p99 ${formatMs(summary?.latency.p99 ?? Number.NaN)} ms`;
    const ly = top + margin.top + 14 + index * 16;
    parts.push(
      `<line x1="${margin.left + 10}" y1="${ly - 4}" x2="${margin.left + 34}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`,
    );
    parts.push(`<text x="${margin.left + 40}" y="${ly}" fill="${colors.text}">${escapeXml(label)}</text>`);
  });
  if (!showBudget) {
    parts.push(
      `<text x="${margin.left + 10}" y="${top + margin.top + 14 + series.length * 16}" fill="${colors.budget}">p99 budget ${budget} ms: far above this scale</text>`,
    );
  }
  return `<g>${parts.join('\n')}</g>`;
}

/**
 * Places each point at log10(1 / (1 - q)) decades; the max (q = 1, infinitely far on this scale)
 * goes just past the resolution of `count` samples, where HdrHistogram's plots put it too.
 */
function placed(points: SpectrumPoint[], count: number): (SpectrumPoint & { x: number })[] {
  const last = Math.log10(Math.max(count, 1));
  return points.map((p) => ({ ...p, x: p.quantile >= 1 ? last + 0.1 : Math.log10(1 / (1 - p.quantile)) }));
}

/** Axis ticks: 0.1, 0.2, 0.5, 1, 2, 5, 10, … without trailing zeros. */
function tickLabel(ms: number): string {
  return String(Number(ms.toPrecision(1)));
}

function percentLabel(decade: number): string {
  if (decade === 0) return '0%';
  return `${(100 - 100 * 10 ** -decade).toFixed(Math.max(0, decade - 2))}%`;
}

function decadeFloor(value: number) {
  return 10 ** Math.floor(Math.log10(Math.max(value, 1e-3)));
}

function decadeCeil(value: number) {
  return 10 ** Math.ceil(Math.log10(Math.max(value, 1e-3)));
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);
}

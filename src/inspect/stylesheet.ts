/** @module The inspector's one stylesheet, served from the inspector itself (CSP `style-src 'self'`; it works offline). */
export const stylesheet = `
:root { color-scheme: light dark; --line: #8884; --muted: #777; --accent: #2563eb; --bad: #c62828; --ok: #2e7d32; --warn: #b26a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
header strong { margin-right: .5rem; }
header nav { display: flex; gap: .9rem; flex-wrap: wrap; }
header nav a[aria-current] { font-weight: 600; text-decoration: underline; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 1300px; }
a { color: var(--accent); }
h1 { font-size: 1.3rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0 0 1rem; }
dt { color: var(--muted); }
dd { margin: 0; }
pre { white-space: pre-wrap; word-break: break-all; padding: .6rem; border: 1px solid var(--line); max-height: 32rem; overflow: auto; }
code { font-size: .92em; }
form.filters { display: flex; gap: .6rem; flex-wrap: wrap; align-items: end; margin-bottom: 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
input, select, button { font: inherit; padding: .25rem .4rem; }
button.danger { color: var(--bad); }
.outcome-accepted { color: var(--ok); }
.outcome-duplicate { color: var(--muted); }
.outcome-rejected, .outcome-unavailable, .error { color: var(--bad); }
.notice { padding: .5rem .7rem; border: 1px solid var(--line); border-left: 4px solid var(--warn); margin-bottom: 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .7rem; margin-bottom: 1rem; }
.card { border: 1px solid var(--line); padding: .6rem .8rem; }
.card b { display: block; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: .85rem; }
.muted { color: var(--muted); }
tr.fresh td { animation: fresh 2s ease-out; }
@keyframes fresh { from { background: #2563eb33; } to { background: transparent; } }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
.actions form { display: inline; }
/* A wide table scrolls in its box on a phone, not the whole page. */
.table-scroll { overflow-x: auto; }
.range-chooser { display: flex; gap: .8rem; margin: .3rem 0 .8rem; flex-wrap: wrap; }
.range-chooser a[aria-current] { font-weight: 600; text-decoration: none; color: inherit; border-bottom: 2px solid var(--accent); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 36rem), 1fr)); gap: 1rem; margin-bottom: 1rem; }
figure.chart { margin: 0; border: 1px solid var(--line); padding: .5rem .6rem; min-width: 0; }
figure.chart figcaption { font-weight: 600; margin-bottom: .3rem; }
.chart-box svg { display: block; width: 100%; height: auto; }
.chart-empty { color: var(--muted); margin: 1.5rem 0; text-align: center; }
.chart-note { font-size: .85rem; margin: .3rem 0 0; }
.chart text { font-size: 13px; fill: currentColor; }
.chart .axis line { stroke: var(--muted); stroke-width: 1; }
.chart .axis line.grid { stroke: var(--line); }
.chart .axis-title { fill: var(--muted); }
.chart .series .line { fill: none; stroke: var(--c); stroke-width: 2; stroke-linejoin: round; }
.chart .series.dashed .line { stroke-dasharray: 6 4; }
.chart .series .area { fill: var(--c); opacity: .18; stroke: none; }
.chart .series .dot { fill: var(--c); }
.chart .series .bar { fill: var(--c); }
.chart .threshold { stroke: var(--c); stroke-width: 1.5; stroke-dasharray: 3 3; }
.chart .threshold-label, .chart .band-label { fill: var(--c); font-size: 12px; }
.chart .band { fill: var(--c); opacity: .1; }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; list-style: none; margin: .3rem 0 0; padding: 0; font-size: .85rem; }
.legend .swatch { display: inline-block; width: 1.1rem; height: .6rem; margin-right: .35rem; background: var(--c); vertical-align: middle; }
.legend .swatch.dashed { background: repeating-linear-gradient(90deg, var(--c) 0 5px, transparent 5px 8px); height: .25rem; }
.legend .swatch.band { opacity: .35; }
/* On a phone the drawing shrinks to about half: larger text in its units keeps it legible. */
@media (max-width: 640px) {
  .chart text { font-size: 20px; }
  .chart .axis-title { font-size: 17px; }
  .chart .threshold-label, .chart .band-label { font-size: 17px; }
}
.tone-ok { --c: var(--ok); }
.tone-muted { --c: #8a8a8a; }
.tone-bad { --c: var(--bad); }
.tone-warn { --c: var(--warn); }
.tone-accent { --c: var(--accent); }
.tone-alt { --c: #8e24aa; }
.tone-threshold { --c: var(--warn); }
section.attention { border: 1px solid var(--line); border-left: 4px solid var(--bad); padding: .4rem .9rem .6rem; margin-bottom: 1rem; }
section.attention.clear { border-left-color: var(--ok); }
section.attention h2 { margin-top: .3rem; }
section.attention ul { margin: .3rem 0; padding-left: 1.2rem; }
section.attention li { margin: .25rem 0; }
.all-clear { color: var(--ok); font-weight: 600; }
details.process-counters summary { cursor: pointer; color: var(--muted); margin: .5rem 0; }
`;

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
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .7rem; margin-bottom: 1rem; }
.card { border: 1px solid var(--line); padding: .6rem .8rem; }
.card b { display: block; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: .85rem; }
.muted { color: var(--muted); }
tr.fresh td { animation: fresh 2s ease-out; }
@keyframes fresh { from { background: #2563eb33; } to { background: transparent; } }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
.actions form { display: inline; }
`;

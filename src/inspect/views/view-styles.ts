/**
 * @module The rules of the deliveries, delivery and letter views, and the favicon: served beside
 * inspect.css (`/assets/views.css`, `/assets/favicon.svg`) so the CSP stays `'self'` only.
 */

/** Loaded after inspect.css, so these win over its general rules (the `pre` break rule). */
export const viewStyles = `
td.nowrap, th.nowrap, .nowrap { white-space: nowrap; }
td.clip { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 11rem; }
td.sinks-failed { color: var(--bad); font-weight: 600; }
td.sinks-partial { color: var(--warn); font-weight: 600; }
tr.sinks-failed td:first-child { box-shadow: inset 4px 0 var(--bad); }
tr.sinks-partial td:first-child { box-shadow: inset 4px 0 var(--warn); }
.filter-actions { display: flex; gap: .6rem; flex-wrap: nowrap; align-items: end; }
.legend { font-size: .85rem; }
pre.body { white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; }
ul.user-ids { margin: 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: .2rem .8rem; }
`;

/** A tiny mark (a dot in a ring, the accent blue) so browsers stop asking for /favicon.ico. */
export const faviconSvg =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6.5" fill="none" stroke="#2563eb" stroke-width="2"/><circle cx="8" cy="8" r="2.5" fill="#2563eb"/></svg>';

/** @module The page shell every view shares: navigation, the logout button, the stylesheet. */

import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';

export type Section =
  | 'overview'
  | 'deliveries'
  | 'quarantine'
  | 'dead-letters'
  | 'cohorts'
  | 'sinks'
  | 'retention';

const sections: { id: Section; label: string; path: string }[] = [
  { id: 'overview', label: 'Overview', path: '' },
  { id: 'deliveries', label: 'Deliveries', path: '/deliveries' },
  { id: 'quarantine', label: 'Quarantine', path: '/quarantine' },
  { id: 'dead-letters', label: 'Dead letters', path: '/dead-letters' },
  { id: 'cohorts', label: 'Cohorts', path: '/cohorts' },
  { id: 'sinks', label: 'Sinks', path: '/sinks' },
  { id: 'retention', label: 'Retention', path: '/retention' },
];

export interface PageProps {
  title: string;
  base: string;
  section?: Section;
  /** Shows the logout button (there are sessions only when tokens are configured). */
  loggedIn?: boolean;
  /** Reloads the page after this many seconds (a meta refresh: no script, so no CSP change). */
  refreshSeconds?: number | undefined;
  /** False on the login page: before a login the sections are only dead ends (each redirects back). */
  nav?: boolean;
  children?: Child;
}

export function Page({ title, base, section, loggedIn, refreshSeconds, nav = true, children }: PageProps) {
  // raw() only on this constant: every outside value goes through JSX, which escapes it.
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          {refreshSeconds === undefined ? null : (
            <meta http-equiv="refresh" content={String(refreshSeconds)} />
          )}
          <title>{`${title} · cohort-receiver inspector`}</title>
          <link rel="stylesheet" href={`${base}/assets/inspect.css`} />
          <link rel="stylesheet" href={`${base}/assets/views.css`} />
          {/* Named here, the browser asks for it instead of a /favicon.ico that 404s. */}
          <link rel="icon" type="image/svg+xml" href={`${base}/assets/favicon.svg`} />
        </head>
        <body>
          <header>
            <strong>cohort-receiver</strong>
            {nav ? (
              <nav>
                {sections.map((item) => (
                  <a
                    href={`${base}${item.path}`}
                    {...(item.id === section ? { 'aria-current': 'page' } : {})}
                  >
                    {item.label}
                  </a>
                ))}
              </nav>
            ) : null}
            {loggedIn ? (
              <form method="post" action={`${base}/logout`}>
                <button type="submit">Log out</button>
              </form>
            ) : null}
          </header>
          <main>
            <h1>{title}</h1>
            {children}
          </main>
        </body>
      </html>
    </>
  );
}

/** A short message page: errors, results, "not found". */
export function Message({ base, title, loggedIn, children }: PageProps) {
  return (
    <Page title={title} base={base} loggedIn={loggedIn ?? false}>
      {children}
    </Page>
  );
}

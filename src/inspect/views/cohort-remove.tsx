/** @module Removing a cohort from the store: the confirm page, then what the POST did. */
import type { CohortSummary } from '../../core/store/store.ts';
import { formatSeconds } from '../format.ts';
import { plural } from '../plural.ts';
import { Page } from './layout.tsx';

const cohortHref = (base: string, id: string) => `${base}/cohort?id=${encodeURIComponent(id)}`;

/** The address of the confirm page, for a button on the cohort's page. */
export const cohortRemoveHref = (base: string, id: string) =>
  `${base}/cohort/remove?id=${encodeURIComponent(id)}`;

export function CohortRemoveConfirmPage(props: { base: string; loggedIn: boolean; cohort: CohortSummary }) {
  const { base, cohort } = props;
  return (
    <Page
      title={`Confirm: remove cohort ${cohort.cohortName}`}
      base={base}
      section="cohorts"
      loggedIn={props.loggedIn}
    >
      <p id="confirm-summary">
        This will remove the cohort <b>{cohort.cohortName}</b> (<code>{cohort.cohortId}</code>), with its{' '}
        <b>{plural(cohort.members, 'member')}</b>, last updated {formatSeconds(cohort.updatedAt)}.
      </p>
      <p class="muted">
        Remove: its members, the users who left it and its summary are deleted from the store for good;
        nothing is sent to the sinks, and the deliveries already recorded stay in the delivery log. A batch of
        this cohort arriving later starts it afresh. Meant for cohorts made by <code>npm run simulate</code>{' '}
        or other tests.
      </p>
      <form method="post" action={`${base}/cohort/remove`} class="actions" id="confirm-form">
        <input type="hidden" name="id" value={cohort.cohortId} />
        <button type="submit" class="danger">
          Remove the cohort
        </button>
        <a href={cohortHref(base, cohort.cohortId)}>Cancel</a>
      </form>
    </Page>
  );
}

export function CohortRemovedPage(props: {
  base: string;
  loggedIn: boolean;
  cohortId: string;
  removed: boolean;
}) {
  const { base, cohortId } = props;
  return (
    <Page
      title={props.removed ? 'Cohort removed' : 'No such cohort'}
      base={base}
      section="cohorts"
      loggedIn={props.loggedIn}
    >
      <p id="remove-result">
        {props.removed ? (
          <>
            Removed the cohort <code>{cohortId}</code> from the store.
          </>
        ) : (
          <>
            The store holds no cohort <code>{cohortId}</code> (already removed?).
          </>
        )}
      </p>
      <p class="actions">
        <a href={`${base}/cohorts`}>Cohorts</a>
      </p>
    </Page>
  );
}

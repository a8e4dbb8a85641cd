/** @module The `from` and `to` fields of a filter form, in UTC, as every list filters by time. */
import { utcInputValue } from '../format.ts';

export function TimeRange({ from, to }: { from?: number | undefined; to?: number | undefined }) {
  return (
    <>
      <label>
        from (UTC)
        <input type="datetime-local" name="from" value={utcInputValue(from)} />
      </label>
      <label>
        to (UTC)
        <input type="datetime-local" name="to" value={utcInputValue(to)} />
      </label>
    </>
  );
}

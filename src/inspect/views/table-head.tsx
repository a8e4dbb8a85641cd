/** @module A table's header row: the one way the inspector's tables name their columns. */

/** One `<th>` per column; a column written `#name` holds numbers (right-aligned). */
export function TableHead({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((column) =>
          column.startsWith('#') ? <th class="num">{column.slice(1)}</th> : <th>{column}</th>,
        )}
      </tr>
    </thead>
  );
}

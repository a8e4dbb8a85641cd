/** @module Moved to `src/sqlite/database.ts`; this re-export goes once every importer uses that path. */
export { openSqliteDatabase } from '../sqlite/database.ts';

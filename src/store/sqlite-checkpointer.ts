/** @module Moved to `src/sqlite/checkpointer.ts`; this re-export goes once every importer uses that path. */
export { startWalCheckpointer, type WalCheckpointer } from '../sqlite/checkpointer.ts';

/** @module Moved to src/redis/connection.ts; kept until every importer uses the new path. */
export { connectBlockingRedis, connectRedis, waitUntilReady } from '../redis/connection.ts';

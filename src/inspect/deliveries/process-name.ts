/** @module How a receipt or an apply result names the process that wrote it. */
import { hostname } from 'node:os';

/** `hostname-pid`: tells the receivers and workers of one deployment apart on the page. */
export function processName(): string {
  return `${hostname()}-${process.pid}`;
}

/** @module Which addresses only this machine can reach. */

/** 127.0.0.0/8, ::1 and localhost: addresses nothing outside this machine can reach. */
export function isLoopback(host: string): boolean {
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost';
}

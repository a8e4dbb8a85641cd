/** @module The Hono environment of the inspector's routes: the receiver's, plus who is asking. */
import type { AppEnv } from '../core/http/app-env.ts';

export interface InspectorEnv {
  Bindings: AppEnv['Bindings'];
  Variables: AppEnv['Variables'] & {
    /** Token fingerprint of the session, or `loopback` with auth off: for the action log. */
    who: string;
    /** True when a login session exists (tokens are configured): the pages show "Log out". */
    loggedIn: boolean;
    /** Set by secureHeaders for the one inline script. */
    secureHeadersNonce?: string;
  };
}

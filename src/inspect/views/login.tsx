/** @module The login form: a token from ADMIN_TOKENS (or AUTH_TOKENS when that is unset). */
import { Page } from './layout.tsx';

export function LoginPage({
  base,
  next,
  message,
}: {
  base: string;
  next: string;
  message?: string | undefined;
}) {
  return (
    <Page title="Log in" base={base} nav={false}>
      {message ? (
        <p class="error" id="login-message">
          {message}
        </p>
      ) : null}
      <form method="post" action={`${base}/login`} class="filters">
        <input type="hidden" name="next" value={next} />
        <label>
          admin token
          <input type="password" name="token" autocomplete="current-password" required size={40} />
        </label>
        <button type="submit">Log in</button>
      </form>
      <p class="muted">A token from ADMIN_TOKENS, or from AUTH_TOKENS when ADMIN_TOKENS is not set.</p>
    </Page>
  );
}

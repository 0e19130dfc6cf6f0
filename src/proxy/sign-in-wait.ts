import type { SignInHandle } from "../auth/auth-client.ts";

export type SignInWaitResult =
  | { outcome: "completed" }
  | { outcome: "failed"; error: unknown }
  | { outcome: "timeout" }
  | { outcome: "aborted" };

/**
 * Waits for a sign-in under way to settle, at most `ms`, or until `signal` aborts (the client went away).
 * Requests that arrive while the user is still in the browser wait here instead of failing at once.
 */
export function waitForSignIn(handle: SignInHandle, ms: number, signal: AbortSignal): Promise<SignInWaitResult> {
  if (signal.aborted) return Promise.resolve({ outcome: "aborted" });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: SignInWaitResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () => settle({ outcome: "aborted" });
    const timer = setTimeout(
      () => settle({ outcome: "timeout" }),
      Math.max(0, Math.min(ms, handle.expiresAt - Date.now())),
    );
    signal.addEventListener("abort", onAbort, { once: true });
    handle.completed.then(
      () => settle({ outcome: "completed" }),
      (error: unknown) => settle({ outcome: "failed", error }),
    );
  });
}

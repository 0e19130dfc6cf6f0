import type { SignInHandle } from "../auth/auth-client.ts";
import type { ClientGone } from "./client-gone.ts";

export type SignInWaitResult =
  | { outcome: "completed" }
  | { outcome: "failed"; error: unknown }
  | { outcome: "timeout" }
  | { outcome: "aborted" };

/**
 * Waits for a sign-in under way to settle, at most `ms`, or until `signal` aborts (the client went away).
 * Requests that arrive while the user is still in the browser wait here instead of failing at once.
 */
export function waitForSignIn(handle: SignInHandle, ms: number, signal: ClientGone): Promise<SignInWaitResult> {
  if (signal.aborted) return Promise.resolve({ outcome: "aborted" });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: SignInWaitResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () => settle({ outcome: "aborted" });
    const timer = setTimeout(
      () => settle({ outcome: "timeout" }),
      Math.max(0, Math.min(ms, handle.expiresAt - Date.now())),
    );
    signal.once("abort", onAbort);
    handle.completed.then(
      () => settle({ outcome: "completed" }),
      (error: unknown) => settle({ outcome: "failed", error }),
    );
  });
}

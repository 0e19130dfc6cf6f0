/**
 * How long one request may wait for a sign-in the person is doing in the browser, and what ends the wait early.
 * The auth core never waits for a person: it answers "sign-in" with a promise of the sign-in's end, and the caller
 * (the HTTP relay, the authorized fetch) waits here, within its own budget, so a request that arrives while the
 * user is still in the browser succeeds instead of failing at once.
 */

/** What ends a wait early: the client went away. An AbortSignal, or an emitter with an `abort` event (ClientGone). */
export type WaitSignal =
  | AbortSignal
  | {
      readonly aborted: boolean;
      once(event: "abort", listener: () => void): unknown;
      removeListener(event: "abort", listener: () => void): unknown;
    };

/** One request's wait budget: spent across every wait of the request (`ms` goes down as it waits). */
export interface SignInWaitBudget {
  ms: number;
  signal?: WaitSignal | undefined;
}

export type SignInWaitResult =
  | { outcome: "completed" }
  | { outcome: "failed"; error: unknown }
  | { outcome: "timeout" }
  | { outcome: "aborted" };

/**
 * Waits for `completed` to settle, at most what is left of `budget` (and never past `expiresAt`, when the sign-in
 * itself gives up), or until the budget's signal aborts. Spends the time waited from the budget.
 */
export function waitForSignIn(
  completed: Promise<void>,
  budget: SignInWaitBudget,
  expiresAt: number = Number.POSITIVE_INFINITY,
): Promise<SignInWaitResult> {
  const { signal } = budget;
  if (signal?.aborted) return Promise.resolve({ outcome: "aborted" });
  const startedAt = Date.now();
  const ms = Math.max(0, Math.min(budget.ms, expiresAt - startedAt));
  if (ms === 0) return Promise.resolve({ outcome: "timeout" });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: SignInWaitResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unlisten();
      budget.ms = Math.max(0, budget.ms - (Date.now() - startedAt));
      resolve(result);
    };
    const onAbort = () => settle({ outcome: "aborted" });
    const timer = setTimeout(() => settle({ outcome: "timeout" }), ms);
    const unlisten = listen(signal, onAbort);
    completed.then(
      () => settle({ outcome: "completed" }),
      (error: unknown) => settle({ outcome: "failed", error }),
    );
  });
}

function listen(signal: WaitSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return () => {};
  if ("addEventListener" in signal) {
    signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
  }
  signal.once("abort", onAbort);
  return () => signal.removeListener("abort", onAbort);
}

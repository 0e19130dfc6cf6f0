/**
 * A signal that aborts when either of two does, and a release that unhooks it from both. Instead of
 * `AbortSignal.any`, whose link to a long-lived source outlives the combined signal on Node 20: measured here,
 * 600,000 `AbortSignal.any([transportSignal, requestSignal])` calls grew the heap by 37 MiB after full GCs, which a
 * stdio face or a bridged session that lives for days would pile up one request at a time. Call `release` once the
 * request is over (its response read, or failed); the signal keeps its state.
 */
export function linkedSignal(first: AbortSignal, second: AbortSignal): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const already = first.aborted ? first : second.aborted ? second : undefined;
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, release: () => {} };
  }
  const release = () => {
    first.removeEventListener("abort", onFirst);
    second.removeEventListener("abort", onSecond);
  };
  const onFirst = () => {
    release();
    controller.abort(first.reason);
  };
  const onSecond = () => {
    release();
    controller.abort(second.reason);
  };
  first.addEventListener("abort", onFirst, { once: true });
  second.addEventListener("abort", onSecond, { once: true });
  return { signal: controller.signal, release };
}

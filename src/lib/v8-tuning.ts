import { setFlagsFromString } from "node:v8";

/**
 * V8 settings for the proxy's own process (the CLI sets them first thing; a program that embeds the library keeps
 * its own). Set before the first HTTP connection: V8 reads them when it compiles WebAssembly.
 *
 * `--liftoff-only`: undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it first with its baseline
 * compiler (Liftoff) and, once it runs hot, again with its optimising compiler (TurboFan) in the background. On
 * Node 20 that one recompilation of llhttp's large state machine mallocs about 36 MiB for a moment, a second after
 * the first request: the process's peak RSS went from 56 to 92 MiB and stayed 10 MiB higher after (measured with a
 * bare undici client; `npm run bench` shows the proxy's own numbers). The baseline code's cost showed no difference
 * above the noise: 34-47 µs of undici dispatch CPU per request with it, 37-46 µs without (docs/performance.md).
 */
export function tuneV8ForProxy(): void {
  setFlagsFromString("--liftoff-only");
}

import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * Reads an SSE body as its bytes arrive: one streaming TextDecoder, eventsource-parser, and `onEvent` per event,
 * so a large result is decoded once and never held as a whole body next to its parsed copy.
 * Resolves when the stream ends; rejects when it breaks (abort, network).
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: EventSourceMessage) => void,
  onRetry?: (ms: number) => void,
): Promise<void> {
  const parser = createParser({ onEvent, ...(onRetry ? { onRetry } : {}) });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    const rest = decoder.decode();
    if (rest) parser.feed(rest);
  } finally {
    reader.releaseLock();
  }
}

import { ProxyError } from "../lib/errors.ts";
import type { CallbackResult } from "./auth-client.ts";

/**
 * Paste-back: the person opens the sign-in URL in a browser on another machine; the authorization server sends
 * that browser to the loopback redirect URI, which shows an error page there ("can't reach this site"), and the
 * person copies the address from the address bar into this terminal. It races the loopback listener (a tunnelled
 * browser still works), and the pasted query goes through the very same checks as a callback (`state`, then `iss`,
 * then the code exchange).
 */

/** The interactive terminal the app layer lends to paste-back (stdin read line by line; prompts on stderr). */
export interface PasteBackTerminal {
  /** Starts reading lines; the returned function stops reading (and lets the process exit). */
  read(onLine: (line: string) => void): () => void;
  /** Shows a line to the person. */
  say(text: string): void;
}

/**
 * The authorization response in what was pasted: the full redirected URL, or just its query (`?code=…&state=…` or
 * `code=…&state=…`). A URL must have the redirect URI's origin and path exactly (a URL of another site or path is
 * a mistake or a trick). Undefined for an empty line; a ProxyError saying what is wrong otherwise.
 */
export function parsePastedRedirect(text: string, redirectUri: string): URLSearchParams | undefined {
  const pasted = text.trim().replace(/^["'<]+|["'>]+$/g, "");
  if (pasted === "") return undefined;
  const expected = new URL(redirectUri);
  let query: URLSearchParams;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pasted)) {
    const url = URL.parse(pasted);
    if (!url) throw pasteError("That is not a URL.", expected);
    if (url.origin !== expected.origin || url.pathname !== expected.pathname) {
      throw pasteError(
        `That address (${url.origin}${url.pathname}) is not this sign-in's redirect address ${expected.origin}${expected.pathname}.`,
        expected,
      );
    }
    query = url.searchParams;
  } else if (pasted.startsWith("?") || /^[\w.~-]+=/.test(pasted)) {
    query = new URLSearchParams(pasted.replace(/^\?/, ""));
  } else {
    throw pasteError("That is neither the redirected address nor its query.", expected);
  }
  if (!query.get("state") || !(query.get("code") || query.get("error"))) {
    throw pasteError("That address has no authorization response in it (code and state); was it cut short?", expected);
  }
  return query;
}

function pasteError(message: string, expected: URL): ProxyError {
  return new ProxyError("STATE_MISMATCH", message, {
    hint: `Paste the whole address the browser ends on (it starts with ${expected.origin}${expected.pathname}?).`,
  });
}

export interface PasteBackOptions {
  terminal: PasteBackTerminal;
  redirectUri: string;
  /** Whether the flow still waits (the listener may have completed it meanwhile). */
  pending: () => boolean;
  /** Completes the flow with a pasted response: the callback's own handler. */
  deliver: (query: URLSearchParams) => Promise<CallbackResult>;
}

/**
 * Prompts for the redirected address and hands each pasted one to the callback handler until one completes the
 * flow or the flow ends another way. A wrong URL or state is explained and asked for again: the flow is not lost.
 * Returns the function that stops reading.
 */
export function offerPasteBack({ terminal, redirectUri, pending, deliver }: PasteBackOptions): () => void {
  const expected = new URL(redirectUri);
  terminal.say(
    `If the browser is on another machine, sign in there, then paste the address it ends on (${expected.origin}${expected.pathname}?…) here and press Enter.`,
  );
  let busy = false;
  let stopped = false;
  const stopReading = terminal.read((line) => {
    if (stopped || busy) return;
    let query: URLSearchParams | undefined;
    try {
      query = parsePastedRedirect(line, redirectUri);
    } catch (error) {
      terminal.say(error instanceof ProxyError ? error.toLine() : String(error));
      return;
    }
    if (!query) return;
    busy = true;
    void deliver(query).then((result) => {
      busy = false;
      if (result.ok) return stop();
      if (pending()) {
        terminal.say(`${result.error.message} Paste the address again, or finish in the browser.`);
        return;
      }
      stop();
    });
  });
  const stop = () => {
    if (stopped) return;
    stopped = true;
    stopReading();
  };
  return stop;
}

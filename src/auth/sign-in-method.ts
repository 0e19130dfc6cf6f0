/**
 * Browser or device code: which way a sign-in goes, before anything is sent.
 *
 * - `--device` (method "device"): the RFC 8628 device flow, always; an authorization server without it is an error.
 * - Otherwise ("auto") the browser flow, unless the person cannot finish it from here: the proxy was to open a
 *   browser and none can be opened (the app layer's `browserAvailable`: no BROWSER, and no display or no opener on
 *   Linux), or `--no-browser` was given where nothing can be pasted back (stdin is not a terminal: the stdio face,
 *   a service). Then the device flow when the authorization server offers it; when it does not, the browser flow
 *   with its URL printed, as before.
 * - A sign-in the status page started opens in the person's own browser tab: never the device flow unless forced.
 */
export type SignInMethodChoice = "browser" | "device-if-offered" | "device";

export interface SignInMethodInputs {
  /** runtime.signInMethod: "device" with --device. */
  method: "auto" | "device" | undefined;
  /** Whether this sign-in is to open a browser (runtime.openBrowser, or the caller's choice). */
  openBrowser: boolean;
  /** Whether a browser can be opened on this machine (app layer; undefined: assume so). */
  browserAvailable: boolean | undefined;
  /** Whether the redirected URL can be pasted back into an interactive terminal. */
  pasteBack: boolean;
  /** The sign-in was started from the status page (its tab is the browser). */
  startedFromPage: boolean;
  /** The process takes its own loopback listener (CLI, stdio face) rather than serving the callback itself. */
  ownListener: boolean;
}

export function chooseSignInMethod(inputs: SignInMethodInputs): SignInMethodChoice {
  if (inputs.method === "device") return "device";
  if (inputs.startedFromPage || !inputs.ownListener) return "browser";
  const browserFlowWorks = inputs.openBrowser ? inputs.browserAvailable !== false : inputs.pasteBack;
  return browserFlowWorks ? "browser" : "device-if-offered";
}

/**
 * The official SDK's client package, loaded on first use. It is the largest thing the proxy loads (tens of MB of
 * schemas, ~100 ms), and the HTTP face's hot path with a cached valid token needs none of it: only a sign-in,
 * a refresh or a discovery does.
 */
type Sdk = typeof import("@modelcontextprotocol/client");

let loaded: Sdk | undefined;
let loading: Promise<Sdk> | undefined;

export function loadSdk(): Promise<Sdk> {
  loading ??= import("@modelcontextprotocol/client").then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}

/** The SDK if something already loaded it; an error can only come from the SDK when it is loaded. */
export function sdkIfLoaded(): Sdk | undefined {
  return loaded;
}

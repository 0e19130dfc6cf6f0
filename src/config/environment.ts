/**
 * Every environment variable the program reads, read in one place. Values are returned as given (trimmed; empty
 * means unset), not validated: a flag wins over its variable, so a bad value under a flag must not fail, and the
 * code that merges flags > env > defaults validates what it uses (a port, a file) with the variable's name.
 *
 * Not listed because they are read by libraries, not by this program: NO_PROXY (undici's proxy agent, besides
 * HTTPS_PROXY/HTTP_PROXY) and HOME (os.homedir()). Variables in a config file (`${VAR}`) are read by env-expand.ts
 * from the environment object it is given.
 */
export interface Environment {
  /** UPSTREAM_MCP_URL: the server when the command line names none. */
  upstreamUrl: string | undefined;
  /** MCP_U2M_PROXY_CONFIG: the config file when --config is not given. */
  configPath: string | undefined;
  /** MCP_AUTH_DIR: the token directory when --auth-dir is not given. */
  authDir: string | undefined;
  /** MCP_PROXY_STORE: the token store URL when --store is not given (file:DIR, redis://…, postgres://…). A secret. */
  store: string | undefined;
  /** MCP_PROXY_STORE_LEASE: seconds of a shared store's lease when --store-lease is not given (text; checked where used). */
  storeLease: string | undefined;
  /** OAUTH_CALLBACK_PORT: the listen and callback port when --port is not given (text; a port number is checked where used). */
  port: string | undefined;
  /** DATABRICKS_APP_PORT: the port Databricks Apps expects `serve --identity databricks-apps` on. */
  databricksAppPort: string | undefined;
  /** MCP_PROXY_API_KEY: the inbound secret of `serve`. A secret: never log it. */
  apiKey: string | undefined;
  /** MCP_PROXY_API_KEY_FILE: a file whose first line is that secret. */
  apiKeyFile: string | undefined;
  /** MCP_PROXY_STORE_KEY: the store's encryption key (64 hex or 44 base64 characters). A secret: never log it. */
  storeKey: string | undefined;
  /** MCP_PROXY_STORE_KEY_FILE: a file (0600) whose first line is that key. */
  storeKeyFile: string | undefined;
  /** MCP_PROXY_KEYCHAIN=1 (or true): `--keychain`, the store key kept in the OS keychain. */
  keychain: boolean;
  /** MCP_PROXY_KEYCHAIN_SERVICE: the keychain entry's service name (default "mcp-u2m-proxy"). */
  keychainService: string | undefined;
  /** MCP_PROXY_NEW_STORE_KEY: the key `store rekey` moves the records to. A secret: never log it. */
  newStoreKey: string | undefined;
  /** MCP_PROXY_GENERATE_API_KEY=1 (or true): `serve --generate-api-key` (the Dockerfile sets it). */
  generateApiKey: boolean;
  /** BROWSER: the command that opens sign-in pages (else the platform's opener). */
  browser: string | undefined;
  /** DISPLAY or WAYLAND_DISPLAY: a graphical session a browser could open in (Linux and the BSDs). */
  display: string | undefined;
  /** MCP_U2M_PROXY_STACK set: print the stack of an unexpected error. */
  printStack: boolean;
  /** HTTPS_PROXY/HTTP_PROXY (either case) set: outbound requests go through undici's EnvHttpProxyAgent. */
  outboundProxy: boolean;
  /** PATH: to tell whether `mcp-u2m-proxy` on PATH is this program (the launch command in client snippets). */
  path: string | undefined;
  /** npm_command: "exec" when npx started this process. */
  npmCommand: string | undefined;
}

/** The environment this program uses, from `env` (default: the process's). */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  return {
    upstreamUrl: nonEmpty(env.UPSTREAM_MCP_URL),
    configPath: nonEmpty(env.MCP_U2M_PROXY_CONFIG),
    authDir: nonEmpty(env.MCP_AUTH_DIR),
    store: nonEmpty(env.MCP_PROXY_STORE),
    storeLease: nonEmpty(env.MCP_PROXY_STORE_LEASE),
    port: nonEmpty(env.OAUTH_CALLBACK_PORT),
    databricksAppPort: nonEmpty(env.DATABRICKS_APP_PORT),
    apiKey: nonEmpty(env.MCP_PROXY_API_KEY),
    apiKeyFile: nonEmpty(env.MCP_PROXY_API_KEY_FILE),
    storeKey: nonEmpty(env.MCP_PROXY_STORE_KEY),
    storeKeyFile: nonEmpty(env.MCP_PROXY_STORE_KEY_FILE),
    newStoreKey: nonEmpty(env.MCP_PROXY_NEW_STORE_KEY),
    keychain: ["1", "true", "yes"].includes(nonEmpty(env.MCP_PROXY_KEYCHAIN)?.toLowerCase() ?? ""),
    keychainService: nonEmpty(env.MCP_PROXY_KEYCHAIN_SERVICE),
    generateApiKey: ["1", "true", "yes"].includes(nonEmpty(env.MCP_PROXY_GENERATE_API_KEY)?.toLowerCase() ?? ""),
    browser: nonEmpty(env.BROWSER),
    display: nonEmpty(env.WAYLAND_DISPLAY) ?? nonEmpty(env.DISPLAY),
    printStack: nonEmpty(env.MCP_U2M_PROXY_STACK) !== undefined,
    outboundProxy: Boolean(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy),
    // PATH is taken as is: an entry may legitimately carry spaces at its ends.
    path: env.PATH,
    npmCommand: nonEmpty(env.npm_command),
  };
}

/**
 * The whole environment, for the one reader whose names the program cannot list: a config file's `${VAR}`
 * references (env-expand.ts), which may name any variable the user set. Everything else is in readEnvironment().
 */
export function environmentVariables(): NodeJS.ProcessEnv {
  return process.env;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value.trim() : undefined;
}

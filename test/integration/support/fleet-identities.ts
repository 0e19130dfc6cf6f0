// The identity modes a fleet of `serve` replicas is tested in, each with what stands in front of it: how a person's
// requests reach the fleet (through haproxy, or to one replica) and what they carry to say who is calling.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { type FrontUser, startIdentityFront } from "./identity-front.ts";
import type { Fleet } from "./replica-fleet.ts";

/** Two people; `login` is their account at the test AS (what `whoami` at the upstream returns). */
export const FLEET_USERS: readonly FrontUser[] = [
  { login: "alice", id: "7001", email: "alice@example.test" },
  { login: "bob", id: "7002", email: "bob@example.test" },
];

/** How callers reach a running fleet in one identity mode. */
export interface Entrances {
  /** Where clients and browsers go: through haproxy (and the mode's front, if any) to any replica. */
  shared: string;
  /** One way in to each replica on its own (through the mode's front, if any). */
  perReplica: string[];
  /** What a request of `user`'s carries (set by the front, or the credentials the front knows them by). */
  headers(user: FrontUser): Record<string, string>;
  /** Strings no replica may ever print (the front's secret, platform tokens, signed assertions). */
  secrets: string[];
  close(): Promise<void>;
}

/** One identity mode, set up before the fleet starts (a JWKS to point it at) and opened once it runs. */
export interface IdentitySetup {
  serveArgs(haproxyUrl: string): string[];
  env: Record<string, string>;
  open(fleet: Fleet): Promise<Entrances>;
  close(): Promise<void>;
}

export interface FleetIdentity {
  name: string;
  start(): Promise<IdentitySetup>;
}

const replicaUrls = (fleet: Fleet) => fleet.replicas.map((replica) => `http://127.0.0.1:${replica.port}`);

const HEADER = "X-User";
const FRONT_SECRET = "front-shared-secret-for-the-fleet-identity-tests";

/** The test plays the identity-aware front: X-User and the front's shared secret on every request. */
const headerIdentity: FleetIdentity = {
  name: `--identity header:${HEADER}`,
  start: async () => ({
    serveArgs: (haproxyUrl) => ["--identity", `header:${HEADER}`, "--public-url", haproxyUrl, "--no-browser"],
    env: { MCP_PROXY_API_KEY: FRONT_SECRET },
    open: async (fleet) => ({
      shared: fleet.url,
      perReplica: replicaUrls(fleet),
      headers: (user) => ({ [HEADER]: user.email, "x-api-key": FRONT_SECRET }),
      secrets: [FRONT_SECRET],
      close: async () => {},
    }),
    close: async () => {},
  }),
};

/**
 * The Databricks Apps proxy stand-in (a cookie per person; X-Forwarded-User/-Email/-Host and the platform token set
 * by it) in front of haproxy, and one in front of each replica. The public URL comes from X-Forwarded-Host, so the
 * callback comes back through the front and haproxy, to whichever replica.
 */
const databricksAppsIdentity: FleetIdentity = {
  name: "--identity databricks-apps",
  start: async () => ({
    serveArgs: () => ["--identity", "databricks-apps", "--no-browser"],
    env: {},
    open: async (fleet) => {
      const [shared, ...perReplica] = await Promise.all(
        [fleet.url, ...replicaUrls(fleet)].map((target) => startIdentityFront(target, FLEET_USERS)),
      );
      if (!shared) throw new Error("no front started");
      return {
        shared: shared.url,
        perReplica: perReplica.map((front) => front.url),
        headers: (user) => ({ cookie: `front_user=${user.login}` }),
        secrets: FLEET_USERS.map((user) => shared.platformToken(user.login)),
        close: async () => {
          await Promise.all([shared, ...perReplica].map((front) => front.close()));
        },
      };
    },
    close: async () => {},
  }),
};

const JWT_HEADER = "x-test-front-assertion";
const JWT_AUDIENCE = "mcp-proxy-under-test";
const JWT_ISSUER = "https://front.example.test";

/** The test plays a signing front: an ES256 assertion per person (sub = their opaque id), its JWKS on loopback. */
const jwtIdentity: FleetIdentity = {
  name: "--identity jwt:JWKS_URL",
  start: async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: "front-1", alg: "ES256", use: "sig" };
    const jwks: Server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    const assertions = new Map<string, string>();
    for (const user of FLEET_USERS) {
      const signed = await new SignJWT({ email: user.email })
        .setProtectedHeader({ alg: "ES256", kid: "front-1" })
        .setSubject(user.id)
        .setIssuer(JWT_ISSUER)
        .setAudience(JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime("30m")
        .sign(privateKey);
      assertions.set(user.login, signed);
    }
    return {
      serveArgs: (haproxyUrl) => [
        "--identity",
        `jwt:${jwksUrl}`,
        "--identity-header",
        JWT_HEADER,
        "--identity-audience",
        JWT_AUDIENCE,
        "--identity-issuer",
        JWT_ISSUER,
        "--public-url",
        haproxyUrl,
        "--no-browser",
      ],
      env: {},
      open: async (fleet) => ({
        shared: fleet.url,
        perReplica: replicaUrls(fleet),
        headers: (user) => ({ [JWT_HEADER]: assertions.get(user.login) ?? "" }),
        secrets: [...assertions.values()],
        close: async () => {},
      }),
      close: () =>
        new Promise<void>((resolve) => {
          jwks.close(() => resolve());
          jwks.closeAllConnections();
        }),
    };
  },
};

export const FLEET_IDENTITIES: readonly FleetIdentity[] = [headerIdentity, databricksAppsIdentity, jwtIdentity];

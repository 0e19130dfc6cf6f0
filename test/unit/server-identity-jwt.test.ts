// `--identity jwt:JWKS_URL`: assertions verified with jose against a JWKS the test serves over real HTTP (the
// resolver fetches it with createRemoteJWKSet, as in production): a good one names its user; an expired one, one
// for another audience or issuer, one signed by a key not in the set, an `alg: none` one, an HMAC one and one
// without `exp` are refused with a message saying which, never quoting the assertion.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import type { Caller } from "../../src/server/identity/caller.ts";
import { type IdentityRefusal, isRefusal } from "../../src/server/identity/identity-resolver.ts";
import { jwtIdentity } from "../../src/server/identity/jwt-identity.ts";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
const HEADER = "cf-access-jwt-assertion";
const AUDIENCE = "aud-tag-of-this-app";
const ISSUER = "https://team.cloudflareaccess.test";

describe("jwt identity mode against a served JWKS", () => {
  let server: Server;
  let jwksUrl: string;
  let signingKey: PrivateKey;
  let otherKey: PrivateKey;
  let jwksRequests = 0;

  before(async () => {
    const pair = await generateKeyPair("ES256");
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair("ES256")).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "front-key-1", alg: "ES256", use: "sig" };
    server = createServer((_req, res) => {
      jwksRequests++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdn-cgi/access/certs`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const resolver = (admins: string[] = []) =>
    jwtIdentity({ kind: "jwt", jwksUrl, header: HEADER, audience: AUDIENCE, issuer: ISSUER, claim: "sub" }, admins);

  function sign(claims: Record<string, unknown>, options: { key?: PrivateKey; expiresIn?: string | number } = {}) {
    const jwt = new SignJWT({ email: "carol@example.test", ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "front-key-1" })
      .setIssuedAt()
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("user-carol");
    if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
    else jwt.setExpirationTime("5m");
    return jwt.sign(options.key ?? signingKey);
  }

  function request(token: string | undefined): IncomingMessage {
    return { headers: token === undefined ? {} : { [HEADER]: token } } as unknown as IncomingMessage;
  }

  async function refusal(token: string | undefined): Promise<string> {
    const outcome = await resolver().resolve(request(token));
    assert.ok(isRefusal(outcome), `refused: ${JSON.stringify(outcome)}`);
    const { refused } = outcome as IdentityRefusal;
    if (token) assert.ok(!refused.includes(token), "the assertion is never quoted");
    return refused;
  }

  test("a good assertion names its user (sub), with the e-mail for display; --admin by e-mail", async () => {
    const outcome = await resolver(["CAROL@example.test"]).resolve(request(await sign({})));
    assert.ok(!isRefusal(outcome));
    const caller = outcome as Caller;
    assert.equal(caller.id, "user-carol");
    assert.equal(caller.label, "carol@example.test");
    assert.equal(caller.principal, `jwt:${ISSUER}:user-carol`);
    assert.equal(caller.admin, true);
    assert.ok(jwksRequests >= 1, "the key set was fetched from the JWKS URL");
  });

  test("expired", async () => {
    const token = await sign({}, { expiresIn: Math.floor(Date.now() / 1000) - 120 });
    assert.match(await refusal(token), /expired/);
  });

  test("wrong audience, wrong issuer", async () => {
    const otherAudience = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "front-key-1" })
      .setIssuer(ISSUER)
      .setAudience("another-app")
      .setSubject("user-carol")
      .setExpirationTime("5m")
      .sign(signingKey);
    assert.match(await refusal(otherAudience), /aud claim/);
    const otherIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "front-key-1" })
      .setIssuer("https://evil.test")
      .setAudience(AUDIENCE)
      .setSubject("user-carol")
      .setExpirationTime("5m")
      .sign(signingKey);
    assert.match(await refusal(otherIssuer), /iss claim/);
  });

  test("signed by a key that is not in the front's set", async () => {
    assert.match(await refusal(await sign({}, { key: otherKey })), /signature does not verify/);
  });

  test("alg none, and an HMAC assertion, are refused", async () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const claims = { sub: "user-carol", iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 };
    const unsigned = `${encode({ alg: "none", typ: "JWT" })}.${encode(claims)}.`;
    assert.match(await refusal(unsigned), /assertion was refused/);
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: "front-key-1" })
      .sign(new TextEncoder().encode("a-shared-secret-anyone-could-guess!!"));
    assert.match(await refusal(hmac), /not signed with an allowed algorithm/);
  });

  test("no exp claim, no header, or no user claim", async () => {
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "front-key-1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("user-carol")
      .sign(signingKey);
    assert.match(await refusal(noExp), /exp claim/);
    assert.match(await refusal(undefined), new RegExp(`no ${HEADER} header`));
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "front-key-1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(signingKey);
    assert.match(await refusal(noSub), /no sub claim/);
  });
});

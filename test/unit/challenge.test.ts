import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseChallenge } from "../../src/auth/challenge.ts";

describe("parseChallenge (WWW-Authenticate, RFC 6750 §3 / RFC 9728 §5.1)", () => {
  test("no header, empty header: nothing", () => {
    assert.deepEqual(parseChallenge(undefined), {});
    assert.deepEqual(parseChallenge(null), {});
    assert.deepEqual(parseChallenge(""), {});
    assert.deepEqual(parseChallenge("   "), {});
  });

  test("a 401 with resource_metadata and scope (MCP authorization, Protected Resource Metadata Discovery)", () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write"',
      ),
      {
        scheme: "bearer",
        resourceMetadataUrl: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
        scope: "files:read files:write",
      },
    );
  });

  test("a 403 insufficient_scope step-up challenge", () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer error="insufficient_scope", scope="files:read files:write admin", resource_metadata="https://mcp.example.com/prm", error_description="Additional file write permission required"',
      ),
      {
        scheme: "bearer",
        error: "insufficient_scope",
        scope: "files:read files:write admin",
        resourceMetadataUrl: "https://mcp.example.com/prm",
        errorDescription: "Additional file write permission required",
      },
    );
  });

  test("a bare Bearer challenge has a scheme and no parameters", () => {
    assert.deepEqual(parseChallenge("Bearer"), { scheme: "bearer" });
    assert.deepEqual(parseChallenge('Bearer realm="mcp"'), { scheme: "bearer" });
  });

  test("scheme and parameter names are case-insensitive; values keep their case", () => {
    assert.deepEqual(parseChallenge('bearer ERROR="invalid_token", Scope="Read"'), {
      scheme: "bearer",
      error: "invalid_token",
      scope: "Read",
    });
    assert.deepEqual(parseChallenge('BEARER resource_metadata="https://Example.com/PRM"'), {
      scheme: "bearer",
      resourceMetadataUrl: "https://Example.com/PRM",
    });
  });

  test("token (unquoted) values", () => {
    assert.deepEqual(parseChallenge("Bearer error=invalid_token, scope=read"), {
      scheme: "bearer",
      error: "invalid_token",
      scope: "read",
    });
  });

  test("quoted-string values: escapes removed, commas and '=' inside quotes kept", () => {
    assert.deepEqual(parseChallenge('Bearer error_description="say \\"hi\\", a=b, then \\\\ done", scope="a,b"'), {
      scheme: "bearer",
      errorDescription: 'say "hi", a=b, then \\ done',
      scope: "a,b",
    });
  });

  test("whitespace around '=' and commas is tolerated", () => {
    assert.deepEqual(parseChallenge('Bearer   scope = "x y" ,  error = insufficient_scope'), {
      scheme: "bearer",
      scope: "x y",
      error: "insufficient_scope",
    });
  });

  test("a DPoP challenge is read like Bearer", () => {
    assert.deepEqual(parseChallenge('DPoP algs="ES256 PS256", error="invalid_token"'), {
      scheme: "dpop",
      error: "invalid_token",
    });
  });

  test("only other schemes: nothing", () => {
    assert.deepEqual(parseChallenge('Basic realm="x", charset="UTF-8"'), {});
    assert.deepEqual(parseChallenge("Negotiate"), {});
    assert.deepEqual(parseChallenge('Bearerish scope="x"'), {});
  });

  test("Bearer after another challenge (several WWW-Authenticate headers joined by fetch)", () => {
    assert.deepEqual(parseChallenge('Basic realm="legacy", Bearer resource_metadata="https://a.example/prm"'), {
      scheme: "bearer",
      resourceMetadataUrl: "https://a.example/prm",
    });
  });

  test("a scheme name inside a quoted value does not start a challenge", () => {
    assert.deepEqual(parseChallenge('Basic realm="use Bearer scope=evil", Bearer scope="good"'), {
      scheme: "bearer",
      scope: "good",
    });
  });

  test("parameters of a following challenge do not leak into the Bearer one", () => {
    assert.deepEqual(
      parseChallenge('Bearer scope="read", error="insufficient_scope", DPoP algs="ES256", error="invalid_token"'),
      { scheme: "bearer", scope: "read", error: "insufficient_scope" },
    );
    assert.deepEqual(parseChallenge('Bearer realm="mcp", Basic realm="x", scope="not-bearer"'), {
      scheme: "bearer",
    });
  });

  test("Bearer is preferred over DPoP whichever comes first", () => {
    assert.deepEqual(parseChallenge('DPoP algs="ES256", scope="dpop-scope", Bearer scope="bearer-scope"'), {
      scheme: "bearer",
      scope: "bearer-scope",
    });
  });

  test("a token68 challenge before Bearer is skipped", () => {
    assert.deepEqual(parseChallenge('Negotiate YII=, Bearer error="invalid_token"'), {
      scheme: "bearer",
      error: "invalid_token",
    });
  });

  test("malformed input never throws", () => {
    for (const header of ['Bearer scope="unterminated', "Bearer ,,, =, scope=", "Bearer =x", ',,,Bearer scope="a"']) {
      assert.doesNotThrow(() => parseChallenge(header), header);
    }
    assert.equal(parseChallenge(',,,Bearer scope="a"').scope, "a");
    // Parameters before any scheme are dropped whole: their quoted values are not read as challenges.
    assert.deepEqual(parseChallenge('realm="x, Bearer scope=evil", Bearer scope="good"'), {
      scheme: "bearer",
      scope: "good",
    });
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SdkErrorCode, SdkHttpError } from "@modelcontextprotocol/client";
import { HTTP_ERROR_CODES, isHttpStatusError, UpstreamHttpError } from "../../src/proxy/upstream-http-error.ts";

describe("upstream HTTP errors", () => {
  test("the proxy's own error carries what the SDK's does", () => {
    const error = new UpstreamHttpError(HTTP_ERROR_CODES.notImplemented, "Error POSTing to endpoint (HTTP 404)", {
      status: 404,
      statusText: "Not Found",
      text: "gone",
    });
    assert.equal(error.status, 404);
    assert.equal(error.statusText, "Not Found");
    assert.equal(error.data.text, "gone");
    assert.equal(error.code, SdkErrorCode.ClientHttpNotImplemented, "the same code string as the SDK's");
    assert.equal(isHttpStatusError(error), true);
  });

  test("the SDK's SdkHttpError is recognised too (its legacy SSE transport throws it); other errors are not", () => {
    const sdkError = new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, "refused", { status: 405, text: "" });
    assert.equal(isHttpStatusError(sdkError), true);
    assert.equal(isHttpStatusError(new Error("HTTP 404")), false);
    assert.equal(isHttpStatusError({ name: "SdkHttpError", status: 404, data: {} }), false, "not an Error");
    assert.equal(isHttpStatusError(undefined), false);
  });

  test("the codes are the SDK's", () => {
    assert.equal(HTTP_ERROR_CODES.failedToOpenStream, SdkErrorCode.ClientHttpFailedToOpenStream);
    assert.equal(HTTP_ERROR_CODES.failedToTerminateSession, SdkErrorCode.ClientHttpFailedToTerminateSession);
  });
});

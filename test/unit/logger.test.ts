import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/logger.ts";

describe("createLogger debug file", () => {
  test("refuses a symbolic link planted at the debug log's path and writes nothing through it", () => {
    const dir = mkdtempSync(join(tmpdir(), "logger-"));
    try {
      const target = join(dir, "elsewhere.txt");
      writeFileSync(target, "untouched\n");
      const path = join(dir, "x_debug.log");
      symlinkSync(target, path);
      assert.throws(
        () => createLogger({ level: "silent", debugFile: path }),
        (error) => isProxyError(error, "STORE_UNSAFE") && /symbolic link/.test(error.message),
      );
      assert.equal(readFileSync(target, "utf8"), "untouched\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

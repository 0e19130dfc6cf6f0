// The deployment recipes read for the pieces they must keep (cheap, but catches drift): the Dockerfile (multi-stage,
// Node 22, non-root, HEALTHCHECK on /healthz, the store on a volume, key generation on), Databricks Apps' app.yaml
// (a command array running the packed proxy, secrets from resources only) and its package.json (no build step, the
// tarball of this version), and the root package.json (every package src/ imports at run time is in `dependencies`,
// so `npm install --omit=dev` gives a proxy that runs).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { composeEnvFile } from "../support/compose-file.ts";
import { parseDockerfile } from "../support/dockerfile.ts";

const REPO = resolve(import.meta.dirname, "../..");
const read = (path: string) => readFileSync(join(REPO, path), "utf8");
const manifest = JSON.parse(read("package.json")) as {
  version: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

describe("Dockerfile", () => {
  const stages = parseDockerfile(read("Dockerfile"));
  const final = stages.at(-1);

  test("multi-stage on Node 22; the image copies dist/ and the runtime node_modules from the earlier stages", () => {
    assert.ok(stages.length >= 2, "more than one stage");
    for (const stage of stages) assert.match(stage.from, /^node:22[.-]/, `stage ${stage.name ?? "?"} on Node 22`);
    const copies = final?.instructions.filter((line) => line.name === "COPY").map((line) => line.args) ?? [];
    assert.ok(
      copies.some((args) => /--from=\S+ \S*dist \.\/dist/.test(args)),
      copies.join("\n"),
    );
    assert.ok(
      copies.some((args) => /--from=\S+ \S*node_modules/.test(args)),
      copies.join("\n"),
    );
    const deps = stages.find((stage) => stage.instructions.some((line) => /--omit=dev/.test(line.args)));
    assert.ok(deps, "a stage installs with --omit=dev");
    assert.match(
      deps.instructions.find((line) => /--omit=dev/.test(line.args))?.args ?? "",
      /--ignore-scripts/,
      "without install scripts (prepare would build with absent dev tools)",
    );
  });

  test("runs as a non-root user, with the store on a volume and key generation on", () => {
    const user = final?.instructions.filter((line) => line.name === "USER").at(-1)?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    assert.equal(final?.env.MCP_AUTH_DIR, "/data");
    assert.equal(final?.env.MCP_PROXY_GENERATE_API_KEY, "1");
    assert.ok(
      final?.instructions.some((line) => line.name === "VOLUME" && line.args.includes("/data")),
      "VOLUME /data",
    );
  });

  test("HEALTHCHECK asks /healthz; CMD is an exec array running serve on 0.0.0.0", () => {
    const health = final?.instructions.find((line) => line.name === "HEALTHCHECK")?.args ?? "";
    assert.match(health, /CMD \[/);
    assert.match(health, /\/healthz/);
    const cmd = final?.cmd;
    assert.ok(Array.isArray(cmd), "CMD in exec form (signals reach node, not a shell)");
    assert.deepEqual(cmd?.slice(0, 3), ["node", "dist/main.js", "serve"]);
    assert.equal(cmd?.[cmd.indexOf("--host") + 1], "0.0.0.0");
  });

  test(".dockerignore keeps the local node_modules, dist and .git out of the build context", () => {
    const ignored = read(".dockerignore").split("\n");
    for (const entry of ["node_modules", "dist", ".git"]) assert.ok(ignored.includes(entry), entry);
  });
});

describe("compose.yaml", () => {
  const compose = read("compose.yaml");

  test("the store key comes from an env file compose requires, kept out of git and of the build context", () => {
    const file = composeEnvFile(compose);
    assert.ok(file, "an env_file entry");
    assert.ok(read(".gitignore").split("\n").includes(file), `${file} in .gitignore`);
    assert.ok(read(".dockerignore").split("\n").includes(file), `${file} in .dockerignore`);
    // The recipe's comment makes it with the variable the proxy reads, and it is named in docs/deploy.md.
    assert.match(compose, new RegExp(`MCP_PROXY_STORE_KEY=\\$\\(openssl rand -base64 32\\)" > ${file}`));
    assert.ok(read("docs/deploy.md").includes(file), "docs/deploy.md names it");
  });

  test("the store lives on the volume, the root file system read-only", () => {
    assert.match(compose, /- u2m-data:\/data/);
    assert.match(compose, /read_only: true/);
  });
});

describe("Databricks Apps", () => {
  const app = read("deploy/databricks-apps/app.yaml");

  test("app.yaml: a command array running the packed proxy's serve in the databricks-apps identity mode", () => {
    // A block sequence of double-quoted strings right under `command:`.
    const lines = app.split("\n");
    const start = lines.indexOf("command:");
    assert.ok(start >= 0, "a command");
    const command: string[] = [];
    for (const line of lines.slice(start + 1)) {
      const item = /^ {2}- ("(?:[^"\\]|\\.)*")$/.exec(line);
      if (!item) break;
      command.push(JSON.parse(item[1] as string) as string);
    }
    assert.deepEqual(command.slice(0, 3), ["node", "node_modules/mcp-u2m-proxy/dist/main.js", "serve"]);
    assert.equal(command[command.indexOf("--identity") + 1], "databricks-apps");
  });

  test("app.yaml: secrets only from resources (valueFrom), never as a literal value", () => {
    const entries = [...app.matchAll(/- name: "([A-Z0-9_]+)"\n\s+(value|valueFrom): "([^"]*)"/g)].map((match) => ({
      name: match[1] as string,
      kind: match[2] as string,
      value: match[3] as string,
    }));
    assert.ok(entries.length >= 2, app);
    for (const entry of entries.filter((item) => /SECRET|PASSWORD|KEY|TOKEN/.test(item.name))) {
      assert.equal(entry.kind, "valueFrom", `${entry.name} comes from a resource`);
    }
  });

  test("app.yaml: the store key MCP_PROXY_STORE_KEY from a secret resource, beside the durable store", () => {
    assert.match(app, /- name: "MCP_PROXY_STORE_KEY"\n\s+valueFrom: "[a-z0-9-]+"/);
    assert.match(app, /- name: "MCP_PROXY_STORE"\n\s+value: "postgres:"/);
  });

  test("package.json: no build step (Apps would run it without dev tools), the tarball of this version", () => {
    const appManifest = JSON.parse(read("deploy/databricks-apps/package.json")) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    assert.equal(appManifest.scripts.build, undefined);
    assert.equal(appManifest.dependencies["mcp-u2m-proxy"], `file:./mcp-u2m-proxy-${manifest.version}.tgz`);
    assert.match(appManifest.scripts.start ?? "", /^mcp-u2m-proxy serve --identity databricks-apps/);
  });
});

describe("root package.json", () => {
  test("npm run start serves from dist/", () => {
    assert.equal(manifest.scripts.start, "node dist/main.js serve");
  });

  test("every package src/ imports at run time is in dependencies (npm install --omit=dev runs the proxy)", () => {
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    for (const file of sourceFiles(join(REPO, "src"))) {
      for (const specifier of runtimeImports(readFileSync(file, "utf8"))) {
        if (specifier.startsWith(".") || specifier.startsWith("node:") || builtins.has(specifier)) continue;
        const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0];
        if (name && !(name in manifest.dependencies)) missing.add(`${name} (${file.slice(REPO.length + 1)})`);
      }
    }
    assert.deepEqual([...missing], []);
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Specifiers of value imports (static and dynamic); `import type` and `export type` are erased at build. */
function runtimeImports(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+"([^"]+)"/gms)) {
    if (!match[2]) out.push(match[3] as string);
  }
  for (const match of source.matchAll(/^\s*import\s+"([^"]+)"/gm)) out.push(match[1] as string);
  for (const match of source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) out.push(match[1] as string);
  return out;
}

// A real Linux Secret Service for the --keychain tests: a private D-Bus session bus and GNOME Keyring on it, with
// an unlocked login keyring in a temporary home. Nothing touches the user's own keychain or session bus. .ci/run
// installs Debian's gnome-keyring and dbus.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

export interface SecretService {
  /** Environment for a child process that should use this Secret Service (the bus address, the temporary home). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

export async function startSecretService(): Promise<SecretService> {
  const home = await mkdtemp(join(tmpdir(), "mcp-u2m-proxy-keyring-"));
  const runtime = join(home, "run");
  await mkdir(runtime, { mode: 0o700 });
  const address = `unix:path=${join(runtime, "bus")}`;
  const env = {
    DBUS_SESSION_BUS_ADDRESS: address,
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    XDG_DATA_HOME: join(home, "data"),
  };
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) child.kill("SIGKILL");
    await rm(home, { recursive: true, force: true });
  };
  try {
    const bus = spawn("dbus-daemon", ["--session", "--nofork", `--address=${address}`], {
      env: { ...process.env, ...env },
      stdio: "ignore",
    });
    children.push(bus);
    await until(() => hasBus(env), "the D-Bus session bus did not start");
    const keyring = spawn("gnome-keyring-daemon", ["--foreground", "--unlock", "--components=secrets"], {
      env: { ...process.env, ...env },
      stdio: ["pipe", "ignore", "ignore"],
    });
    children.push(keyring);
    // The login keyring's password, on stdin: it is created and unlocked with it.
    keyring.stdin?.end("test-keyring-password");
    await until(() => hasSecretService(env), "GNOME Keyring did not register org.freedesktop.secrets");
    return { env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function hasBus(env: Record<string, string>): Promise<boolean> {
  return nameHasOwner(env, "org.freedesktop.DBus");
}

async function hasSecretService(env: Record<string, string>): Promise<boolean> {
  return nameHasOwner(env, "org.freedesktop.secrets");
}

async function nameHasOwner(env: Record<string, string>, name: string): Promise<boolean> {
  try {
    const { stdout } = await run(
      "dbus-send",
      [
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner",
        `string:${name}`,
      ],
      { env: { ...process.env, ...env }, timeout: 5_000 },
    );
    return /boolean true/.test(stdout);
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean>, failure: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${failure} within 10 s`);
}

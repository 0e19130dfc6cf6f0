/**
 * `${VAR}`, `${VAR:-default}` and `${env:VAR}` in config strings, as Claude Code (`${VAR}`, `${VAR:-d}`) and
 * Cursor/VS Code (`${env:VAR}`) write them. `$${` is a literal `${`. An unset variable without a default is an
 * error naming it (a silently empty header would send a broken credential upstream).
 */
export class UnsetVariable extends Error {
  constructor(readonly variable: string) {
    super(`the environment variable ${variable} is not set`);
  }
}

const PATTERN = /\$\$\{|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function expandVariables(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$${") return "${";
    const value = env[name as string];
    if (value !== undefined && value !== "") return value;
    if (fallback !== undefined) return fallback;
    throw new UnsetVariable(name as string);
  });
}

// What the recipe tests read of compose.yaml (no YAML parser in the project): the env file its service requires.

/** The file of compose.yaml's `env_file:` list (short form, first entry), without a leading "./". */
export function composeEnvFile(compose: string): string | undefined {
  return /\n\s+env_file:\n\s+- (\S+)\n/.exec(compose)?.[1]?.replace(/^\.\//, "");
}

/** An env file's variables as compose reads the simple form: KEY=VALUE lines, `#` comments and blank lines skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf("=");
    if (line.trim() === "" || line.trimStart().startsWith("#") || at <= 0) continue;
    out[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return out;
}

// A small Dockerfile reader for the recipe tests: stages, instructions (continuations joined, comments dropped),
// each stage's ENV (KEY=value form) and exec-form CMD. Enough for the project's own Dockerfile, not a full parser.

export interface DockerInstruction {
  name: string;
  args: string;
}

export interface DockerStage {
  from: string;
  name: string | undefined;
  instructions: DockerInstruction[];
  env: Record<string, string>;
  /** CMD in exec form (a JSON array); undefined for none or the shell form. */
  cmd: string[] | undefined;
}

export function parseDockerfile(text: string): DockerStage[] {
  const lines: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (pending === "" && /^\s*#/.test(line)) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const whole = (pending + line.trim()).trim();
    pending = "";
    if (whole) lines.push(whole);
  }
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const at = line.search(/\s/);
    const name = (at === -1 ? line : line.slice(0, at)).toUpperCase();
    const args = at === -1 ? "" : line.slice(at + 1).trim();
    if (name === "FROM") {
      const [from = "", as, stageName] = args.split(/\s+/);
      stages.push({
        from,
        name: as?.toUpperCase() === "AS" ? stageName : undefined,
        instructions: [],
        env: {},
        cmd: undefined,
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue;
    stage.instructions.push({ name, args });
    if (name === "ENV") {
      for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) {
        stage.env[match[1] as string] = match[3] ?? (match[2] as string);
      }
    }
    if (name === "CMD") stage.cmd = args.startsWith("[") ? (JSON.parse(args) as string[]) : undefined;
  }
  return stages;
}

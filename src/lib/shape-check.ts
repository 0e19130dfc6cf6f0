/**
 * A very small structural validator for the store's own JSON records. The store used zod, but zod alone is
 * ~13 MB of memory and ~130 ms at every start of every proxy process (issue 4 targets start time and idle RSS),
 * for four flat record shapes. Objects are loose: unknown fields are kept, so a record written by a later 1.x
 * survives a read-modify-write by this version.
 */
export type Shape =
  | "string"
  | "non-empty string"
  | "number"
  | "integer ≥ 1"
  | "string array"
  | "object"
  | { optional: Shape }
  | { oneOf: readonly string[] }
  | { fields: Record<string, Shape> };

/** Returns up to three problems as "path: expected …" (never the offending values: they may be secrets). */
export function checkShape(value: unknown, shape: Shape, path = ""): string[] {
  const problems: string[] = [];
  visit(value, shape, path, problems);
  return problems.slice(0, 3);
}

function visit(value: unknown, shape: Shape, path: string, problems: string[]): void {
  const at = path || "(record)";
  if (typeof shape === "object" && "optional" in shape) {
    if (value !== undefined) visit(value, shape.optional, path, problems);
    return;
  }
  if (typeof shape === "object" && "oneOf" in shape) {
    if (typeof value !== "string" || !shape.oneOf.includes(value)) {
      problems.push(`${at}: expected one of ${shape.oneOf.map((v) => JSON.stringify(v)).join(", ")}`);
    }
    return;
  }
  if (typeof shape === "object" || shape === "object") {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(`${at}: expected an object`);
      return;
    }
    if (typeof shape === "object") {
      for (const [name, fieldShape] of Object.entries(shape.fields)) {
        visit((value as Record<string, unknown>)[name], fieldShape, path ? `${path}.${name}` : name, problems);
      }
    }
    return;
  }
  const ok =
    shape === "string"
      ? typeof value === "string"
      : shape === "non-empty string"
        ? typeof value === "string" && value.length > 0
        : shape === "number"
          ? typeof value === "number" && Number.isFinite(value)
          : shape === "string array"
            ? Array.isArray(value) && value.every((item) => typeof item === "string")
            : Number.isInteger(value) && (value as number) >= 1;
  if (!ok) problems.push(`${at}: expected ${value === undefined ? `a ${shape}, found nothing` : `a ${shape}`}`);
}

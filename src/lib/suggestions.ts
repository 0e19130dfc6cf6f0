/**
 * How the commands that hints suggest (`mcp-u2m-proxy auth https://…`) are written for this process's user. The CLI
 * sets it once it knows the invocation, so a hint built anywhere (the auth core, a face, an error copied from
 * another) names the same token directory, config and client as the command that is running. Unset (a library
 * user), hints are left as written.
 */
let render: ((hint: string) => string) | undefined;

/** Sets (or, with undefined, clears) the renderer; returns the one it replaced. */
export function setSuggestionRenderer(next: ((hint: string) => string) | undefined): typeof render {
  const previous = render;
  render = next;
  return previous;
}

export function renderSuggestions(hint: string): string {
  return render ? render(hint) : hint;
}

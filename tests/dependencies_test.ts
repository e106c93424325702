/**
 * The project's dependency rules (GUIDE.md: commands -> src; nothing imports a command; no
 * import cycles), checked on the source files' own import statements, `import type`
 * included: a cycle of type imports still ties two modules to each other.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** Every .ts file under `dir` (relative to the project root). */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(join(ROOT, dir))) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...tsFiles(path));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Relative module specifiers of `import`/`export ... from` statements and dynamic imports. */
export function relativeImports(text: string): string[] {
  // Comments name modules too (`{@link import("./x.ts").X}`): they import nothing.
  const source = text.replace(/\/\*[^]*?\*\//g, "").replace(/(^|\s)\/\/.*$/gm, "$1");
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*["'](\.{1,2}\/[^"']+)["']/gms,
    /^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm,
    /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  ];
  for (const p of patterns) for (const m of source.matchAll(p)) specs.push(m[1]);
  return specs;
}

/** The import graph of the product's files: file -> the project files it imports. */
function importGraph(): Map<string, string[]> {
  const files = ["main.ts", ...tsFiles("src"), ...tsFiles("commands")];
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const source = Deno.readTextFileSync(join(ROOT, f));
    graph.set(
      f,
      relativeImports(source).map((s) => relative(ROOT, resolve(ROOT, dirname(f), s))),
    );
  }
  return graph;
}

/** The import cycles of `graph`, each as a path that starts and ends at the same file. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === "open") found.push([...stack.slice(stack.indexOf(g)), g]);
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return found;
}

Deno.test("the cycle finder finds a cycle of two files and one through three", () => {
  assert.deepEqual(
    cycles(new Map([["a", ["b"]], ["b", ["a"]]])),
    [["a", "b", "a"]],
  );
  assert.deepEqual(
    cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])),
    [["a", "b", "c", "a"]],
  );
  assert.deepEqual(cycles(new Map([["a", ["b"]], ["b", []]])), []);
  assert.deepEqual(
    relativeImports(
      'import type { X } from "./service.ts";\nimport {\n  a,\n} from "../b.ts";\n' +
        'export { c } from "./c.ts";\nconst y = await import("./d.ts");\nimport "npm:ws";\n' +
        '/** {@link import("./e.ts").E} */\n// import { f } from "./f.ts";',
    ),
    ["./service.ts", "../b.ts", "./c.ts", "./d.ts"],
  );
});

Deno.test("no import cycles in main.ts, src/ and commands/ (type imports included)", () => {
  const graph = importGraph();
  assert.ok(graph.get("src/serve/service.ts")?.includes("src/serve/http.ts"), "graph read");
  const found = cycles(graph).map((c) => c.join(" -> "));
  assert.deepEqual(found, [], `import cycles:\n${found.join("\n")}`);
});

Deno.test("nothing in src/ imports a command", () => {
  const graph = importGraph();
  const bad = [...graph].filter(([f]) => f.startsWith("src/"))
    .flatMap(([f, deps]) =>
      deps.filter((d) => d.startsWith("commands/")).map((d) => `${f} -> ${d}`)
    );
  assert.deepEqual(bad, []);
});

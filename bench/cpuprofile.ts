/**
 * Summarizes a V8 `.cpuprofile` (from `deno run --cpu-prof`): the functions with the most
 * self time, and the inclusive time of the functions named on the command line.
 *
 * Usage: deno run -A bench/cpuprofile.ts FILE.cpuprofile [TOP] [FUNCTION ...]
 *
 * @module
 */

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function label(n: Node): string {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(src|bench)\//, "$1/").replace(/^.*\//, (m) => m);
  return `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : ""}`.trim();
}

/** Self and inclusive time (ms) per function label. */
export function summarize(p: Profile): {
  totalMs: number;
  self: Map<string, number>;
  inclusive: Map<string, number>;
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfById = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    selfById.set(p.samples[i], (selfById.get(p.samples[i]) ?? 0) + dt);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of selfById) {
    const n = byId.get(id)!;
    const l = label(n);
    self.set(l, (self.get(l) ?? 0) + ms);
    // inclusive: each distinct label on the stack once
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cl = label(byId.get(cur)!);
      if (seen.has(cl)) continue;
      seen.add(cl);
      inclusive.set(cl, (inclusive.get(cl) ?? 0) + ms);
    }
  }
  return { totalMs: (p.endTime - p.startTime) / 1000, self, inclusive };
}

if (import.meta.main) {
  const [file, topArg, ...names] = Deno.args;
  const p = JSON.parse(Deno.readTextFileSync(file)) as Profile;
  const { totalMs, self, inclusive } = summarize(p);
  const top = Number(topArg ?? 30);
  const pct = (ms: number) => `${((100 * ms) / totalMs).toFixed(1).padStart(5)}%`;
  console.log(`profile ${file}: ${totalMs.toFixed(0)} ms`);
  console.log("\nself time:");
  for (const [l, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${l}`);
  }
  console.log("\ninclusive time:");
  const wanted = [...inclusive].filter(([l]) =>
    names.length === 0 ? true : names.some((n) => l.startsWith(n + " "))
  ).sort((a, b) => b[1] - a[1]).slice(0, names.length ? 1000 : top);
  for (const [l, ms] of wanted) console.log(`${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${l}`);
}

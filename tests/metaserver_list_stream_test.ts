/**
 * A LIST body is written one item at a time (src/metaserver/representation.ts,
 * encodeList): the streamed JSON, YAML and Table texts equal the documents encoded whole,
 * for empty lists, lists with a continue token, exact big integers and multi-line and
 * awkward strings.
 *
 * @module
 */

import assert from "node:assert/strict";
import { rowForObject } from "../src/store/meta_v2.ts";
import { lookupResource, type ResourceInfo } from "../src/metaserver/resources.ts";
import {
  type Body,
  encodeDocument,
  encodeList,
  type Representation,
  StoredObject,
} from "../src/metaserver/representation.ts";
import { KubeTableConverter } from "../src/metaserver/tables/table.ts";
import { loadYaml } from "../src/yaml.ts";

const NOW = Date.parse("2024-06-01T12:00:00Z");
const tables = new KubeTableConverter(() => NOW);

function object(i: number, kind: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind,
    metadata: {
      name: `o-${i}`,
      namespace: `ns-${i % 2}`,
      resourceVersion: String(i + 1),
      creationTimestamp: "2024-06-01T11:00:00Z",
      annotations: { multi: "line one\nline two\n  indented\n", quote: "a: b # c", empty: "" },
    },
    data: { "x.yaml": "- a\n- b\n", text: "é😀\u0000end" },
    spec: { containers: [{ name: "c", image: "i" }] },
    status: { phase: "Running" },
  };
}

function items(kind: string, n: number): StoredObject[] {
  const out: StoredObject[] = [];
  for (let i = 0; i < n; i++) {
    const row = rowForObject(object(i, kind));
    // an exact integer beyond float64's
    const value = row.value.replace('"spec":{', '"spec":{"big":123456789012345678901234567890,');
    out.push(new StoredObject({ ...row, value }));
  }
  return out;
}

async function text(b: Body): Promise<string> {
  return typeof b.body === "string" ? b.body : await new Response(b.body).text();
}

/** The list document encoded whole, as before streaming. */
function whole(
  resource: ResourceInfo,
  list: StoredObject[],
  rep: Representation,
  cont?: string,
): string {
  const metadata = cont !== undefined
    ? { continue: cont, resourceVersion: "42" }
    : { resourceVersion: "42" };
  if (rep.type === "table") {
    const t = tables.toTable(list.map((i) => i.object), resource, rep, {
      resourceVersion: "42",
    }) as { metadata: Record<string, string> };
    if (cont !== undefined) t.metadata.continue = cont;
    return JSON.stringify(t) + "\n";
  }
  const doc = {
    apiVersion: "v1",
    items: list.map((i) => i.object),
    kind: `${resource.kind}List`,
    metadata,
  };
  if (rep.type === "yaml") return encodeDocument(doc, rep).body as string;
  return `{"apiVersion":"v1","items":[${
    list.map((i) => i.json).join(",")
  }],"kind":"${`${resource.kind}List`}","metadata":${JSON.stringify(metadata)}}\n`;
}

Deno.test("LIST bodies streamed item by item equal the whole documents (JSON, YAML, Table)", async () => {
  await loadYaml();
  const reps: Representation[] = [
    { type: "json" },
    { type: "yaml" },
    { type: "table", version: "v1", includeObject: "" },
    { type: "table", version: "v1", includeObject: "Object" },
    { type: "table", version: "v1beta1", includeObject: "None" },
  ];
  for (const plural of ["pods", "configmaps"]) {
    const resource = lookupResource("", "v1", plural)!;
    for (const rep of reps) {
      for (const n of [0, 1, 3, 700]) {
        for (const cont of [undefined, "eyJ0b2tlbiI6MX0"]) {
          const label = `${plural} ${JSON.stringify(rep)} ${n} items, continue ${cont}`;
          const expected = whole(resource, items(resource.kind, n), rep, cont);
          const body = encodeList(
            { resource, resourceVersion: "42", items: items(resource.kind, n), continue: cont },
            rep,
            tables,
          );
          assert.ok(typeof body.body !== "string", `${label}: a stream`);
          const actual = await text(body);
          assert.equal(actual, expected, label);
          if (rep.type !== "yaml") JSON.parse(actual);
        }
      }
    }
  }
});

Deno.test("a streamed LIST body makes its items as the client reads", async () => {
  const resource = lookupResource("", "v1", "configmaps")!;
  const list = items("ConfigMap", 2000);
  const body = encodeList({ resource, resourceVersion: "1", items: list }, { type: "json" });
  const reader = (body.body as ReadableStream<Uint8Array>).getReader();
  const first = await reader.read();
  assert.ok(!first.done && first.value.length > 0);
  // items not yet written are still in the page; written ones were released
  const held = (list as (StoredObject | undefined)[]).filter((i) => i !== undefined).length;
  assert.ok(held > 0 && held < 2000, `${held} of 2000 items held after the first chunk`);
  await reader.cancel();
});

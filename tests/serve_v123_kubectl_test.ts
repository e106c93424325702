/**
 * The real kubectl against serve on copies of the real v1.23 databases (the gorm file and
 * the v1.10 file v1.23 migrated), in both modes: every object the reference dump holds in
 * meta_v2 is listed by kubectl, and is the stored object (a migrated file's rows v1.23 never
 * rewrote included: they are read through their v1.10 columns). Skipped without kubectl.
 * In strict mode every read is first an application to the (absent) cloud, answered after
 * upstream's 10 s timeout, so strict lists only the pods.
 */

import assert from "node:assert/strict";
import { ServeProcess } from "./support/serve_process.ts";
import { KUBECTL, Kubectl } from "./support/kubectl.ts";

const V123 = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);

interface DumpRow {
  key: string;
  value: string;
}

/** `/core/v1/<resource>/<ns|null>/<name>` -> [resource, namespace or "", name]. */
function keyParts(key: string): [string, string, string] {
  const [, , , resource, ns, name] = key.split("/");
  return [resource, ns === "null" ? "" : ns, name];
}

for (const name of ["edgecore.db", "upgraded.db"]) {
  for (const compat of ["strict", "fixed"]) {
    Deno.test({
      name:
        `kubectl lists every object of the dump of the v1.23 ${name} (serve --compat ${compat})`,
      ignore: KUBECTL === undefined,
      async fn() {
        const dir = Deno.makeTempDirSync({ prefix: "v123-kubectl-" });
        const path = `${dir}/${name}`;
        Deno.copyFileSync(new URL(name, V123), path);
        Deno.chmodSync(path, 0o644);
        const dump = JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, V123)));
        const rows = dump.meta_v2 as DumpRow[];
        const serve = await ServeProcess.start({ db: path, args: ["--compat", compat] });
        try {
          const kubectl = new Kubectl(`http://${serve.address}`, `${dir}/home`);
          const resources = [...new Set(rows.map((r) => keyParts(r.key)[0]))].sort();
          assert.deepEqual(resources, [
            "configmaps",
            "endpoints",
            "nodes",
            "pods",
            "secrets",
            "services",
          ]);
          for (const resource of compat === "strict" ? ["pods"] : resources) {
            const list = JSON.parse(await kubectl.ok("get", resource, "-A", "-o", "json"));
            const served = new Map<string, unknown>();
            for (const item of list.items as { metadata: { namespace?: string; name: string } }[]) {
              served.set(`${item.metadata.namespace ?? ""}/${item.metadata.name}`, item);
            }
            const expected = rows.filter((r) => keyParts(r.key)[0] === resource);
            assert.deepEqual(
              [...served.keys()].sort(),
              expected.map((r) => keyParts(r.key).slice(1).join("/")).sort(),
              `${resource}: every object of the dump`,
            );
            for (const r of expected) {
              const [, ns, n] = keyParts(r.key);
              assert.deepEqual(served.get(`${ns}/${n}`), JSON.parse(r.value), r.key);
            }
          }
          if (compat === "strict") return;
          // One object by name, as a pod's tooling asks for it.
          const pod = rows.find((r) => keyParts(r.key)[0] === "pods")!;
          const [, ns, n] = keyParts(pod.key);
          const one = JSON.parse(await kubectl.ok("get", "pod", n, "-n", ns, "-o", "json"));
          assert.deepEqual(one, JSON.parse(pod.value));
        } finally {
          await serve.stop();
          Deno.removeSync(dir, { recursive: true });
        }
      },
    });
  }
}

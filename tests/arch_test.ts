/**
 * The processes that tests start (`deno run main.ts ...` through `Deno.execPath()`) run on the
 * architecture of the test runner itself, so that the aarch64 run (`.ci/aarch64.sh`) tests an
 * aarch64 serve and not a native one. `TEST_EXPECT_ARCH` (set by that script) names the
 * architecture the runner must have.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServeProcess } from "./support/serve_process.ts";

/** Kubernetes' name of a Deno architecture, as serve's `/version` reports it. */
function kubePlatform(arch: string): string {
  return `linux/${arch === "x86_64" ? "amd64" : "arm64"}`;
}

Deno.test("the test runner has the architecture TEST_EXPECT_ARCH names", () => {
  const expected = Deno.env.get("TEST_EXPECT_ARCH");
  if (expected === undefined) return; // any architecture will do
  assert.equal(Deno.build.arch, expected, `deno is ${Deno.execPath()}`);
});

Deno.test("a child of Deno.execPath() runs on the test runner's architecture", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "console.log(Deno.build.arch)"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), Deno.build.arch);
});

Deno.test("serve started by the tests reports the test runner's architecture on /version", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arch-" });
  const serve = await ServeProcess.start({ db: `${dir}/e.db` });
  try {
    const res = await fetch(`${serve.baseUrl}/version`);
    const info = await res.json();
    assert.equal(res.status, 200);
    assert.equal(info.platform, kubePlatform(Deno.build.arch));
    const exit = await serve.stop("SIGTERM");
    assert.equal(exit.code, 0, exit.stderr);
  } finally {
    await serve.kill().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

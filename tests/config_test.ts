/**
 * Configuration (spec/config.md, README "Configuration"): defaults, KubeEdge's
 * edgecore.yaml, case-insensitive keys, warnings, type errors, and the precedence
 * flags > environment > file > defaults.
 */
import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  configuredRelease,
  DEFAULT_DB_PATH,
  DEFAULT_LISTEN,
  defaultConfig,
  listenAddress,
  loadConfig,
  type LoadedConfig,
} from "../src/config/config.ts";
import { commandConfig } from "../commands/global.ts";
import { CommandError } from "../src/errors.ts";

/** Runs `fn` with a temporary edgecore.yaml holding `yaml`, removed afterwards. */
async function withFile<T>(yaml: string, fn: (path: string) => T | Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "config_test_" });
  const path = `${dir}/edgecore.yaml`;
  Deno.writeTextFileSync(path, yaml);
  try {
    return await fn(path);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** loadConfig with an explicit (empty unless given) environment. */
function load(
  yaml: string | undefined,
  env: Record<string, string> = {},
  flags = {},
): Promise<LoadedConfig> {
  if (yaml === undefined) return loadConfig({ env, flags });
  return withFile(yaml, (file) => loadConfig({ file, env, flags }));
}

/** Asserts a ConfigError whose one-line message contains every fragment. */
async function assertConfigError(
  fn: () => Promise<unknown>,
  ...fragments: string[]
): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert.equal(e.name, "ConfigError");
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${f}" in: ${e.message}`);
    return true;
  });
}

const mm = (c: Config) => c.modules.metaManager;

Deno.test("defaults: local database, loopback MetaServer address, fixed mode, FULL", async () => {
  const { config, warnings } = await load(undefined);
  assert.deepEqual(warnings, []);
  assert.equal(config.database.dataSource, "./data/edgecore.db");
  assert.equal(DEFAULT_DB_PATH, "./data/edgecore.db");
  assert.equal(config.database.driverName, "sqlite3");
  assert.equal(config.database.aliasName, "default");
  assert.equal(listenAddress(config), "127.0.0.1:10550");
  assert.equal(DEFAULT_LISTEN, "127.0.0.1:10550");
  assert.equal(config.edgecoreMeta.compat, "fixed");
  assert.equal(config.edgecoreMeta.synchronous, "FULL");
  assert.equal(config.edgecoreMeta.listen, "");
  assert.equal(config.edgecoreMeta.journal, "");
  assert.equal(config.edgecoreMeta.logLevel, "info");
  assert.equal(config.edgecoreMeta.maxMessageBytes, 16 * 1024 * 1024);
  assert.equal(config.edgecoreMeta.allowRemote, false);
  assert.deepEqual(mm(config), {
    enable: true,
    contextSendGroup: "hub",
    contextSendModule: "websocket",
    podStatusSyncInterval: 60,
    remoteQueryTimeout: 60,
    metaServer: { enable: true, server: "127.0.0.1:10550" },
  });
  assert.deepEqual(config, defaultConfig());
  // Each call gives a fresh object.
  defaultConfig().database.dataSource = "changed";
  assert.equal(defaultConfig().database.dataSource, "./data/edgecore.db");
});

Deno.test("an empty file keeps every default", async () => {
  for (const yaml of ["", "# only a comment\n", "---\n"]) {
    const { config, warnings } = await load(yaml);
    assert.deepEqual(config, defaultConfig(), JSON.stringify(yaml));
    assert.deepEqual(warnings, []);
  }
});

const SPEC_EXAMPLE = `apiVersion: edgecore.config.kubeedge.io/v1alpha1
kind: EdgeCore
database:
  driverName: sqlite3
  aliasName: default
  dataSource: /var/lib/kubeedge/edgecore.db
modules:
  edged:
    hostnameOverride: edge-node-1
  edgeHub:
    heartbeat: 15
    websocket:
      enable: true
      server: 192.168.1.10:10000
  metaManager:
    enable: true
    contextSendGroup: hub
    contextSendModule: websocket
    podStatusSyncInterval: 60
    remoteQueryTimeout: 60
    metaServer:
      enable: true
      server: 127.0.0.1:10550
`;

Deno.test("the edgecore.yaml of spec/config.md §3 loads without warnings", async () => {
  const { config, warnings } = await load(SPEC_EXAMPLE);
  assert.deepEqual(warnings, []);
  assert.equal(config.database.dataSource, "/var/lib/kubeedge/edgecore.db");
  assert.equal(mm(config).metaServer.enable, true);
  assert.equal(listenAddress(config), "127.0.0.1:10550");
});

/** A whole `edgecore --defaultconfig` of the KubeEdge v1.10 era, with values changed. */
const FULL_KUBEEDGE = `apiVersion: edgecore.config.kubeedge.io/v1alpha1
database:
  aliasName: default
  dataSource: /srv/kubeedge/edgecore.db
  driverName: sqlite3
kind: EdgeCore
modules:
  dbTest:
    enable: false
  deviceTwin:
    enable: true
  edgeHub:
    enable: true
    heartbeat: 15
    httpServer: https://192.168.1.10:10002
    projectID: e632aba927ea4ac2b575ec1603d56f10
    quic:
      enable: false
      handshakeTimeout: 30
      readDeadline: 15
      server: 192.168.1.10:10001
      writeDeadline: 15
    rotateCertificates: true
    tlsCaFile: /etc/kubeedge/ca/rootCA.crt
    tlsCertFile: /etc/kubeedge/certs/server.crt
    tlsPrivateKeyFile: /etc/kubeedge/certs/server.key
    token: ""
    websocket:
      enable: true
      handshakeTimeout: 30
      readDeadline: 15
      server: 192.168.1.10:10000
      writeDeadline: 15
  edgeStream:
    enable: false
    handshakeTimeout: 30
    readDeadline: 15
    server: 192.168.1.10:10004
    tlsTunnelCAFile: /etc/kubeedge/ca/rootCA.crt
    tlsTunnelCertFile: /etc/kubeedge/certs/server.crt
    tlsTunnelPrivateKeyFile: /etc/kubeedge/certs/server.key
    writeDeadline: 15
  edged:
    cgroupDriver: cgroupfs
    cgroupRoot: ""
    cgroupsPerQOS: true
    clusterDNS: ""
    clusterDomain: ""
    cniBinDir: /opt/cni/bin
    cniCacheDirs: /var/lib/cni/cache
    cniConfDir: /etc/cni/net.d
    concurrentConsumers: 5
    devicePluginEnabled: false
    dockerAddress: unix:///var/run/docker.sock
    edgedMemoryCapacity: 7852396000
    enable: true
    enableMetrics: true
    gpuPluginEnabled: false
    hostnameOverride: edge-node-1
    imageGCHighThreshold: 80
    imageGCLowThreshold: 40
    imagePullProgressDeadline: 60
    labels: {}
    maximumDeadContainersPerPod: 1
    networkPluginMTU: 1500
    nodeIP: 192.168.1.20
    nodeStatusUpdateFrequency: 10
    podSandboxImage: kubeedge/pause:3.1
    registerNode: true
    registerNodeNamespace: default
    remoteImageEndpoint: unix:///var/run/dockershim.sock
    remoteRuntimeEndpoint: unix:///var/run/dockershim.sock
    runtimeRequestTimeout: 2
    runtimeType: docker
    taints: []
    volumeStatsAggPeriod: 60000000000
  eventBus:
    enable: true
    eventBusTLS:
      enable: false
      tlsMqttCAFile: /etc/kubeedge/ca/rootCA.crt
      tlsMqttCertFile: /etc/kubeedge/certs/server.crt
      tlsMqttPrivateKeyFile: /etc/kubeedge/certs/server.key
    mqttMode: 2
    mqttQOS: 0
    mqttRetain: false
    mqttServerExternal: tcp://127.0.0.1:1883
    mqttServerInternal: tcp://127.0.0.1:1884
    mqttSessionQueueSize: 100
  metaManager:
    contextSendGroup: hub2
    contextSendModule: websocket2
    enable: true
    metaServer:
      enable: false
      server: 127.0.0.1:10555
    podStatusSyncInterval: 30
    remoteQueryTimeout: 45
  serviceBus:
    enable: false
    port: 9060
    server: 127.0.0.1
    timeout: 60
`;

Deno.test("a full KubeEdge edgecore.yaml (edged, edgeHub, eventBus...) loads without warnings", async () => {
  const { config, warnings } = await load(FULL_KUBEEDGE);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.database, {
    driverName: "sqlite3",
    aliasName: "default",
    dataSource: "/srv/kubeedge/edgecore.db",
  });
  assert.deepEqual(mm(config), {
    enable: true,
    contextSendGroup: "hub2",
    contextSendModule: "websocket2",
    podStatusSyncInterval: 30,
    remoteQueryTimeout: 45,
    metaServer: { enable: false, server: "127.0.0.1:10555" },
  });
  assert.equal(listenAddress(config), "127.0.0.1:10555");
  // Our own section keeps its defaults.
  assert.deepEqual(config.edgecoreMeta, defaultConfig().edgecoreMeta);
});

Deno.test("our edgecoreMeta section", async () => {
  const { config, warnings } = await load(`edgecoreMeta:
  compat: strict
  listen: unix:/run/edgecore-meta.sock
  synchronous: normal
  journal: /var/log/meta.ndjson
  logLevel: debug
  maxMessageBytes: 2048
  busyTimeoutMs: 250
  allowRemote: true
  decodeOnWorker: true
`);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.edgecoreMeta, {
    compat: "strict",
    kubeedge: "",
    listen: "unix:/run/edgecore-meta.sock",
    metaServer: { writes: true },
    nodeName: "",
    synchronous: "NORMAL",
    journal: "/var/log/meta.ndjson",
    logLevel: "debug",
    maxMessageBytes: 2048,
    busyTimeoutMs: 250,
    allowRemote: true,
    decodeOnWorker: true,
  });
  assert.equal(listenAddress(config), "unix:/run/edgecore-meta.sock");
});

Deno.test("keys match case-insensitively (metamanager, MetaManager, METASERVER...)", async () => {
  for (const spelling of ["metamanager", "MetaManager", "METAMANAGER", "metaManager"]) {
    const { config, warnings } = await load(`Database:
  DataSource: /x/${spelling}.db
Modules:
  ${spelling}:
    PodStatusSyncInterval: 7
    remotequerytimeout: 8
    CONTEXTSENDGROUP: g
    MetaServer:
      ENABLE: false
      Server: 127.0.0.1:1234
EdgecoreMeta:
  COMPAT: strict
`);
    assert.deepEqual(warnings, [], spelling);
    assert.equal(config.database.dataSource, `/x/${spelling}.db`);
    assert.equal(mm(config).podStatusSyncInterval, 7, spelling);
    assert.equal(mm(config).remoteQueryTimeout, 8, spelling);
    assert.equal(mm(config).contextSendGroup, "g", spelling);
    assert.deepEqual(mm(config).metaServer, { enable: false, server: "127.0.0.1:1234" });
    assert.equal(config.edgecoreMeta.compat, "strict");
    // Canonical spelling in the result, no stray keys.
    assert.deepEqual(Object.keys(config.modules), ["metaManager"]);
  }
});

Deno.test("absent keys keep their defaults (nested objects are merged)", async () => {
  const { config } = await load(
    "modules:\n  metaManager:\n    metaServer:\n      server: 0.0.0.0:1\n",
  );
  assert.deepEqual(mm(config).metaServer, { enable: true, server: "0.0.0.0:1" });
  assert.equal(mm(config).podStatusSyncInterval, 60);
  assert.equal(config.database.dataSource, "./data/edgecore.db");
});

Deno.test("present keys override even with zero values", async () => {
  const { config } = await load(`modules:
  metaManager:
    enable: false
    contextSendGroup: ""
    remoteQueryTimeout: 0
    metaServer:
      enable: false
`);
  assert.equal(mm(config).enable, false);
  assert.equal(mm(config).contextSendGroup, "");
  assert.equal(mm(config).remoteQueryTimeout, 0);
  assert.equal(mm(config).metaServer.enable, false);
});

Deno.test("unknown keys give warnings naming their path", async () => {
  const { config, warnings } = await load(`modules:
  metaManager:
    bogusKey: 1
    podStatusSyncInterval: 5
    MetaServer:
      tlsCaFile: /x
  fooModule:
    enable: true
database:
  extra: 1
topLevel: true
`);
  assert.equal(mm(config).podStatusSyncInterval, 5);
  assert.equal(warnings.length, 5, warnings.join("\n"));
  const expected = [
    "modules.metaManager.bogusKey",
    "modules.metaManager.metaServer.tlsCaFile",
    "modules.fooModule",
    "database.extra",
    "topLevel",
  ];
  expected.forEach((path, i) => {
    assert.ok(warnings[i].includes(path), `${path} in ${warnings[i]}`);
    assert.ok(warnings[i].includes("edgecore.yaml"), warnings[i]);
  });
});

Deno.test("wrong types are ConfigErrors naming the key path and the expected type", async () => {
  const cases: [string, string, string][] = [
    [
      "modules:\n  metaManager:\n    podStatusSyncInterval: abc\n",
      "modules.metaManager.podStatusSyncInterval",
      "integer",
    ],
    [
      "modules:\n  metaManager:\n    podStatusSyncInterval: 1.5\n",
      "modules.metaManager.podStatusSyncInterval",
      "integer",
    ],
    [
      'modules:\n  metaManager:\n    metaServer:\n      enable: "yes"\n',
      "modules.metaManager.metaServer.enable",
      "boolean",
    ],
    [
      "modules:\n  MetaManager:\n    MetaServer:\n      Enable: 1\n",
      "modules.metaManager.metaServer.enable",
      "boolean",
    ],
    [
      "modules:\n  metaManager:\n    remoteQueryTimeout: [1]\n",
      "modules.metaManager.remoteQueryTimeout",
      "integer",
    ],
    ["database:\n  dataSource: 5\n", "database.dataSource", "string"],
    ["database:\n  dataSource: {a: 1}\n", "database.dataSource", "string"],
    [
      "modules:\n  metaManager:\n    contextSendGroup: true\n",
      "modules.metaManager.contextSendGroup",
      "string",
    ],
    ["edgecoreMeta:\n  allowRemote: 'false'\n", "edgecoreMeta.allowRemote", "boolean"],
    ["modules:\n  metaManager: 5\n", "modules.metaManager", "mapping"],
    ["modules: [a]\n", "modules", "mapping"],
  ];
  for (const [yaml, path, type] of cases) {
    await assertConfigError(() => load(yaml), path, type, "edgecore.yaml");
  }
});

Deno.test("metaServer: null (and other null sections) is an error", async () => {
  await assertConfigError(
    () => load("modules:\n  metaManager:\n    metaServer: null\n"),
    "modules.metaManager.metaServer",
    "null",
  );
  await assertConfigError(() => load("modules:\n  metaManager: ~\n"), "modules.metaManager");
  await assertConfigError(() => load("database: null\n"), "database");
});

Deno.test("invalid values are ConfigErrors", async () => {
  await assertConfigError(
    () => load("modules:\n  metaManager:\n    podStatusSyncInterval: 0\n"),
    "modules.metaManager.podStatusSyncInterval",
    "0",
  );
  await assertConfigError(
    () => load("edgecoreMeta:\n  compat: loose\n"),
    "edgecoreMeta.compat",
    "loose",
  );
  await assertConfigError(
    () => load("edgecoreMeta:\n  synchronous: fast\n"),
    "edgecoreMeta.synchronous",
    "FULL",
  );
  await assertConfigError(() => load("edgecoreMeta:\n  logLevel: loud\n"), "edgecoreMeta.logLevel");
  await assertConfigError(
    () => load("edgecoreMeta:\n  maxMessageBytes: 10\n"),
    "edgecoreMeta.maxMessageBytes",
  );
  await assertConfigError(
    () => load("edgecoreMeta:\n  busyTimeoutMs: -1\n"),
    "edgecoreMeta.busyTimeoutMs",
    "-1",
  );
});

Deno.test("files that cannot be used: missing, not YAML, not a mapping", async () => {
  const missing = "/nonexistent-dir/edgecore.yaml";
  await assertConfigError(
    () => loadConfig({ file: missing, env: {} }),
    "Cannot read config file",
    missing,
  );
  await assertConfigError(() => load("a: [\n"), "Cannot parse config file", "edgecore.yaml");
  await assertConfigError(() => load("- a\n- b\n"), "expected a mapping");
  await assertConfigError(() => load("just a string\n"), "expected a mapping");
});

Deno.test("commandConfig: a missing --config file is a one-line CommandError (exit 1)", async () => {
  const missing = "/nonexistent-dir/edgecore.yaml";
  await assert.rejects(
    () => commandConfig({ config: missing }),
    (e: unknown) => {
      assert.ok(e instanceof CommandError, `${e}`);
      assert.equal(e.exitCode, 1);
      assert.ok(e.message.startsWith(`Cannot read config file ${missing}`), e.message);
      assert.ok(!e.message.includes("\n"));
      return true;
    },
  );
});

Deno.test("commandConfig: --config, --db and --log-level flags apply", async () => {
  const yaml = "database:\n  dataSource: /from/file.db\n" +
    "modules:\n  metaManager:\n    contextSendGroup: fromfile\n";
  await withFile(yaml, async (file) => {
    const { config } = await commandConfig(
      { config: file, db: "/from/flag.db", logLevel: "warn" },
      {
        "edgecoreMeta.listen": "127.0.0.1:9999",
      },
    );
    assert.equal(config.database.dataSource, "/from/flag.db");
    assert.equal(config.edgecoreMeta.logLevel, "warn");
    assert.equal(listenAddress(config), "127.0.0.1:9999");
    // No environment variable sets this key: it comes from the --config file.
    assert.equal(config.modules.metaManager.contextSendGroup, "fromfile");
  });
});

// ---------------------------------------------------------------------------------------
// Precedence: flags > environment > file > defaults

const FILE = `database:
  dataSource: /file.db
modules:
  metaManager:
    podStatusSyncInterval: 11
    remoteQueryTimeout: 12
    metaServer:
      enable: false
edgecoreMeta:
  compat: strict
  synchronous: NORMAL
  logLevel: warn
  listen: 127.0.0.1:1111
  journal: /file.ndjson
`;

const ENV = {
  EDGECORE_META_DB: "/env.db",
  EDGECORE_META_COMPAT: "fixed",
  EDGECORE_META_LISTEN: "unix:/env.sock",
  EDGECORE_META_LOG_LEVEL: "error",
  EDGECORE_META_SYNCHRONOUS: "extra",
  EDGECORE_META_JOURNAL: "/env.ndjson",
  EDGECORE_META_POD_STATUS_SYNC_INTERVAL: "21",
  EDGECORE_META_REMOTE_QUERY_TIMEOUT: "22",
  EDGECORE_META_METASERVER_ENABLE: "true",
};

const FLAGS = {
  "database.dataSource": "/flag.db",
  "edgecoreMeta.compat": "strict",
  "edgecoreMeta.listen": "127.0.0.1:3333",
  "edgecoreMeta.logLevel": "debug",
  "modules.metaManager.podStatusSyncInterval": 31,
  "edgecoreMeta.journal": undefined, // an unset flag does not count
};

Deno.test("precedence: file over defaults", async () => {
  const { config } = await load(FILE);
  assert.equal(config.database.dataSource, "/file.db");
  assert.equal(mm(config).podStatusSyncInterval, 11);
  assert.equal(mm(config).remoteQueryTimeout, 12);
  assert.equal(mm(config).metaServer.enable, false);
  assert.equal(config.edgecoreMeta.compat, "strict");
  assert.equal(config.edgecoreMeta.synchronous, "NORMAL");
  assert.equal(config.edgecoreMeta.logLevel, "warn");
  assert.equal(config.edgecoreMeta.journal, "/file.ndjson");
  assert.equal(listenAddress(config), "127.0.0.1:1111");
});

Deno.test("precedence: environment over file", async () => {
  const { config, warnings } = await load(FILE, ENV);
  assert.deepEqual(warnings, []);
  assert.equal(config.database.dataSource, "/env.db");
  assert.equal(mm(config).podStatusSyncInterval, 21);
  assert.equal(mm(config).remoteQueryTimeout, 22);
  assert.equal(mm(config).metaServer.enable, true);
  assert.equal(config.edgecoreMeta.compat, "fixed");
  assert.equal(config.edgecoreMeta.synchronous, "EXTRA");
  assert.equal(config.edgecoreMeta.logLevel, "error");
  assert.equal(config.edgecoreMeta.journal, "/env.ndjson");
  assert.equal(listenAddress(config), "unix:/env.sock");
});

Deno.test("precedence: flags over environment over file", async () => {
  const { config } = await load(FILE, ENV, FLAGS);
  assert.equal(config.database.dataSource, "/flag.db");
  assert.equal(config.edgecoreMeta.compat, "strict");
  assert.equal(listenAddress(config), "127.0.0.1:3333");
  assert.equal(config.edgecoreMeta.logLevel, "debug");
  assert.equal(mm(config).podStatusSyncInterval, 31);
  // Not given as flags: the environment still wins over the file.
  assert.equal(config.edgecoreMeta.journal, "/env.ndjson");
  assert.equal(config.edgecoreMeta.synchronous, "EXTRA");
  assert.equal(mm(config).remoteQueryTimeout, 22);
});

Deno.test("precedence: environment and flags over defaults without a file", async () => {
  const { config } = await load(undefined, { EDGECORE_META_DB: "/only-env.db" });
  assert.equal(config.database.dataSource, "/only-env.db");
  assert.equal(mm(config).podStatusSyncInterval, 60);
  const flagged = await load(undefined, { EDGECORE_META_DB: "/only-env.db" }, {
    "database.dataSource": "/only-flag.db",
  });
  assert.equal(flagged.config.database.dataSource, "/only-flag.db");
  // Unrelated variables are ignored.
  const other = await load(undefined, { EDGECORE_META_UNKNOWN: "x", PATH: "/bin" });
  assert.deepEqual(other.config, defaultConfig());
  assert.deepEqual(other.warnings, []);
});

Deno.test("environment booleans and integers", async () => {
  for (
    const [raw, value] of [["true", true], ["1", true], ["YES", true], ["false", false], [
      "0",
      false,
    ], ["No", false]] as const
  ) {
    const { config } = await load(undefined, { EDGECORE_META_METASERVER_ENABLE: raw });
    assert.equal(mm(config).metaServer.enable, value, raw);
  }
  const { config } = await load(undefined, { EDGECORE_META_REMOTE_QUERY_TIMEOUT: " 90 " });
  assert.equal(mm(config).remoteQueryTimeout, 90);
});

Deno.test("invalid environment values are errors naming the variable", async () => {
  const cases: [Record<string, string>, string][] = [
    [{ EDGECORE_META_POD_STATUS_SYNC_INTERVAL: "abc" }, "EDGECORE_META_POD_STATUS_SYNC_INTERVAL"],
    [{ EDGECORE_META_POD_STATUS_SYNC_INTERVAL: "" }, "EDGECORE_META_POD_STATUS_SYNC_INTERVAL"],
    [{ EDGECORE_META_REMOTE_QUERY_TIMEOUT: "1.5" }, "EDGECORE_META_REMOTE_QUERY_TIMEOUT"],
    [{ EDGECORE_META_METASERVER_ENABLE: "maybe" }, "EDGECORE_META_METASERVER_ENABLE"],
  ];
  for (const [env, name] of cases) {
    await assertConfigError(() => load(FILE, env), name, JSON.stringify(Object.values(env)[0]));
  }
  // Out-of-range and enum values name the key path and the value.
  await assertConfigError(
    () => load(undefined, { EDGECORE_META_POD_STATUS_SYNC_INTERVAL: "0" }),
    "modules.metaManager.podStatusSyncInterval",
  );
  await assertConfigError(
    () => load(undefined, { EDGECORE_META_SYNCHRONOUS: "fast" }),
    "edgecoreMeta.synchronous",
    '"fast"',
  );
  await assertConfigError(
    () => load(undefined, { EDGECORE_META_COMPAT: "bogus" }),
    "edgecoreMeta.compat",
    '"bogus"',
  );
  await assertConfigError(
    () => load(undefined, { EDGECORE_META_LOG_LEVEL: "loud" }),
    "edgecoreMeta.logLevel",
    '"loud"',
  );
});

Deno.test({
  name: "invalid enum values from the environment name the variable (or their source)",
  async fn() {
    const envs: Record<string, string>[] = [
      { EDGECORE_META_SYNCHRONOUS: "fast" },
      { EDGECORE_META_COMPAT: "bogus" },
      { EDGECORE_META_LOG_LEVEL: "loud" },
      { EDGECORE_META_POD_STATUS_SYNC_INTERVAL: "0" },
    ];
    for (const env of envs) {
      await assert.rejects(() => load(undefined, env), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, new RegExp(`${Object.keys(env)[0]}|the environment`));
        return true;
      });
    }
  },
});

Deno.test("loadConfig does not modify its inputs", async () => {
  const env = { ...ENV };
  const flags = { ...FLAGS };
  await load(FILE, env, flags);
  assert.deepEqual(env, ENV);
  assert.deepEqual(flags, FLAGS);
});

Deno.test("config: edgecoreMeta.kubeedge from file, environment and flags; bad values named", async () => {
  assert.equal((await load(undefined)).config.edgecoreMeta.kubeedge, "");
  assert.equal(configuredRelease((await load(undefined)).config), undefined);
  const file = 'edgecoreMeta:\n  kubeedge: "v1.23"\n';
  assert.equal((await load(file)).config.edgecoreMeta.kubeedge, "1.23");
  assert.equal(
    (await load(file, { EDGECORE_META_KUBEEDGE: "1.10" })).config.edgecoreMeta.kubeedge,
    "1.10",
  );
  const flagged = await load(file, { EDGECORE_META_KUBEEDGE: "1.10" }, {
    "edgecoreMeta.kubeedge": "1.23.1",
  });
  assert.equal(configuredRelease(flagged.config), "1.23");
  await assertConfigError(
    () => load("edgecoreMeta:\n  kubeedge: 1.10\n"),
    "edgecoreMeta.kubeedge",
    "quoted string",
  );
  await assertConfigError(
    () => load(undefined, { EDGECORE_META_KUBEEDGE: "1.22" }),
    "edgecoreMeta.kubeedge",
    "EDGECORE_META_KUBEEDGE",
    '"1.22"',
    "expected 1.10 or 1.23",
  );
});

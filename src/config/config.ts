/**
 * Configuration: KubeEdge's edgecore.yaml keys (spec/config.md) plus our own section
 * `edgecoreMeta`, with precedence flags > environment (EDGECORE_META_*) > file >
 * built-in defaults. Keys match case-insensitively, as in KubeEdge.
 *
 * @module
 */

import { loadYaml } from "../yaml.ts";
import { type CompatMode, parseCompatMode } from "../metamanager/compat.ts";
import { type KubeEdgeRelease, parseKubeEdgeRelease } from "../store/schema.ts";
import type { Synchronous } from "../store/db.ts";
import { type LogLevel, parseLogLevel } from "../logger.ts";

/** The MetaServer section of modules.metaManager. */
export interface MetaServerConfig {
  enable: boolean;
  /** host:port of the MetaServer (also our HTTP endpoint unless edgecoreMeta.listen is set). */
  server: string;
}

/** modules.metaManager. */
export interface MetaManagerConfig {
  enable: boolean;
  contextSendGroup: string;
  contextSendModule: string;
  /** Seconds between meta-internal-sync triggers. */
  podStatusSyncInterval: number;
  /** Seconds a remote query waits for the cloud. */
  remoteQueryTimeout: number;
  metaServer: MetaServerConfig;
}

/** database. */
export interface DatabaseConfig {
  driverName: string;
  aliasName: string;
  /** SQLite file path. */
  dataSource: string;
}

/** Our own keys (section `edgecoreMeta`). */
export interface EdgecoreMetaConfig {
  /** strict = KubeEdge v1.10 exactly; fixed = without its known bugs. */
  compat: CompatMode;
  /**
   * The KubeEdge release to be compatible with (`1.10` or `1.23`); "" = the release whose
   * schema the database has, 1.10 for a new database.
   */
  kubeedge: "" | KubeEdgeRelease;
  /** HTTP listen address: host:port or unix:PATH (default: metaServer.server). */
  listen: string;
  /** SQLite synchronous level. */
  synchronous: Synchronous;
  /** NDJSON journal of every message received ("" = none). */
  journal: string;
  logLevel: LogLevel;
  /** Largest accepted WebSocket frame or HTTP request body, in bytes. */
  maxMessageBytes: number;
  /**
   * How long serve and `sync --db` wait for a lock another process holds on the database
   * (SQLite's busy timeout), in milliseconds, before they report it.
   */
  busyTimeoutMs: number;
  /** Allow binding a non-loopback address. */
  allowRemote: boolean;
  /**
   * Decode a backlog of frames on a worker thread (src/metamanager/frame_decoder.ts). Off by
   * default: on the 2-core bench machine it cost serve more CPU than it saved
   * (bench/PROFILE.md); for a node whose other cores are idle.
   */
  decodeOnWorker: boolean;
  /** This node's name in applications sent to the cloud ("" = the host name, lowercase). */
  nodeName: string;
  /** Our MetaServer settings. */
  metaServer: {
    /**
     * Forward create/update/patch/delete to the cloud as applications (spec/metaserver.md
     * §6); false: every write gets 405 MethodNotAllowed.
     */
    writes: boolean;
  };
}

/** The whole configuration. */
export interface Config {
  database: DatabaseConfig;
  modules: { metaManager: MetaManagerConfig };
  edgecoreMeta: EdgecoreMetaConfig;
}

/** KubeEdge's own default database path. */
export const KUBEEDGE_DB_PATH = "/var/lib/kubeedge/edgecore.db";
/** Our embedded default database path (relative to the working directory). */
export const DEFAULT_DB_PATH = "./data/edgecore.db";
/** Default MetaServer / HTTP address. */
export const DEFAULT_LISTEN = "127.0.0.1:10550";

/** Built-in defaults: a local database file, loopback only, fixed mode, MetaServer on. */
export function defaultConfig(): Config {
  return {
    database: { driverName: "sqlite3", aliasName: "default", dataSource: DEFAULT_DB_PATH },
    modules: {
      metaManager: {
        enable: true,
        contextSendGroup: "hub",
        contextSendModule: "websocket",
        podStatusSyncInterval: 60,
        remoteQueryTimeout: 60,
        metaServer: { enable: true, server: DEFAULT_LISTEN },
      },
    },
    edgecoreMeta: {
      compat: "fixed",
      kubeedge: "",
      listen: "",
      synchronous: "FULL",
      journal: "",
      logLevel: "info",
      maxMessageBytes: 16 * 1024 * 1024,
      busyTimeoutMs: 5000,
      allowRemote: false,
      decodeOnWorker: false,
      nodeName: "",
      metaServer: { writes: true },
    },
  };
}

/** A configuration value that cannot be used; names the key path and what was expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Top-level and module keys of KubeEdge's edgecore.yaml that we accept and ignore. */
const FOREIGN_TOP = new Set(["apiversion", "kind"]);
const FOREIGN_MODULES = new Set([
  "edged",
  "edgehub",
  "eventbus",
  "servicebus",
  "devicetwin",
  "dbtest",
  "edgestream",
  "edgemesh",
  "taskmanager",
]);

type Kind = "string" | "bool" | "int";
type Check = (value: unknown, path: string) => unknown;

function expect(kind: Kind, value: unknown, path: string, source: string): unknown {
  if (kind === "string" && typeof value === "string") return value;
  if (kind === "bool" && typeof value === "boolean") return value;
  if (kind === "int" && typeof value === "number" && Number.isInteger(value)) return value;
  const want = kind === "int" ? "an integer" : kind === "bool" ? "a boolean" : "a string";
  throw new ConfigError(
    `Invalid ${path} in ${source}: expected ${want}, got ${JSON.stringify(value)}`,
  );
}

const CHECKS: Record<string, Check> = {
  "modules.metaManager.podStatusSyncInterval": (v, p) => {
    if ((v as number) < 1) throw new ConfigError(`Invalid ${p}: expected seconds ≥ 1, got ${v}`);
    return v;
  },
  "edgecoreMeta.compat": (v, p) => wrap(p, () => parseCompatMode(v as string)),
  "edgecoreMeta.kubeedge": (v, p) =>
    v === "" ? "" : wrap(p, () => parseKubeEdgeRelease(v as string)),
  "edgecoreMeta.logLevel": (v, p) => wrap(p, () => parseLogLevel(v as string)),
  "edgecoreMeta.synchronous": (v, p) => {
    const s = String(v).toUpperCase();
    if (!["OFF", "NORMAL", "FULL", "EXTRA"].includes(s)) {
      throw new ConfigError(
        `Invalid ${p}: expected OFF, NORMAL, FULL or EXTRA, got ${JSON.stringify(v)}`,
      );
    }
    return s;
  },
  "edgecoreMeta.busyTimeoutMs": (v, p) => {
    if ((v as number) < 0) {
      throw new ConfigError(`Invalid ${p}: expected milliseconds ≥ 0, got ${v}`);
    }
    return v;
  },
  "edgecoreMeta.maxMessageBytes": (v, p) => {
    if ((v as number) < 1024) {
      throw new ConfigError(`Invalid ${p}: expected bytes ≥ 1024, got ${v}`);
    }
    return v;
  },
};

function wrap(path: string, fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    throw new ConfigError(`Invalid ${path}: ${(e as Error).message}`);
  }
}

function kindOf(v: unknown): Kind | "object" {
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return "int";
  if (typeof v === "string") return "string";
  return "object";
}

/**
 * Overlays `src` onto `target` (which holds defaults), matching keys case-insensitively
 * and checking each value's type. Unknown keys are reported in `warnings`.
 */
function overlay(
  target: Record<string, unknown>,
  src: unknown,
  path: string,
  source: string,
  warnings: string[],
): void {
  if (src === null || src === undefined) return;
  if (typeof src !== "object" || Array.isArray(src)) {
    throw new ConfigError(`Invalid ${path || "document"} in ${source}: expected a mapping`);
  }
  const byLower = new Map(Object.keys(target).map((k) => [k.toLowerCase(), k]));
  for (const [rawKey, value] of Object.entries(src as Record<string, unknown>)) {
    const lower = rawKey.toLowerCase();
    const key = byLower.get(lower);
    const here = path ? `${path}.${key ?? rawKey}` : key ?? rawKey;
    if (key === undefined) {
      if (path === "" && FOREIGN_TOP.has(lower)) continue;
      if (path === "modules" && FOREIGN_MODULES.has(lower)) continue;
      warnings.push(`unknown key ${here} in ${source} (ignored)`);
      continue;
    }
    const current = target[key];
    const kind = kindOf(current);
    if (kind === "object") {
      if (value === null) {
        throw new ConfigError(`Invalid ${here} in ${source}: expected a mapping, got null`);
      }
      overlay(current as Record<string, unknown>, value, here, source, warnings);
      continue;
    }
    if (here === "edgecoreMeta.kubeedge" && typeof value === "number") {
      throw new ConfigError(
        `Invalid ${here} in ${source}: write the release as a quoted string ("1.10" or ` +
          `"1.23"); YAML reads ${value} as a number`,
      );
    }
    let v = expect(kind, value, here, source);
    const check = CHECKS[here];
    if (check) v = check(v, `${here} in ${source}`);
    target[key] = v;
  }
}

/** Environment variables and the keys they set. */
export const ENVIRONMENT: Record<string, [path: string, kind: Kind]> = {
  EDGECORE_META_DB: ["database.dataSource", "string"],
  EDGECORE_META_COMPAT: ["edgecoreMeta.compat", "string"],
  EDGECORE_META_KUBEEDGE: ["edgecoreMeta.kubeedge", "string"],
  EDGECORE_META_LISTEN: ["edgecoreMeta.listen", "string"],
  EDGECORE_META_LOG_LEVEL: ["edgecoreMeta.logLevel", "string"],
  EDGECORE_META_SYNCHRONOUS: ["edgecoreMeta.synchronous", "string"],
  EDGECORE_META_JOURNAL: ["edgecoreMeta.journal", "string"],
  EDGECORE_META_BUSY_TIMEOUT_MS: ["edgecoreMeta.busyTimeoutMs", "int"],
  EDGECORE_META_POD_STATUS_SYNC_INTERVAL: ["modules.metaManager.podStatusSyncInterval", "int"],
  EDGECORE_META_REMOTE_QUERY_TIMEOUT: ["modules.metaManager.remoteQueryTimeout", "int"],
  EDGECORE_META_METASERVER_ENABLE: ["modules.metaManager.metaServer.enable", "bool"],
  EDGECORE_META_METASERVER_WRITES: ["edgecoreMeta.metaServer.writes", "bool"],
  EDGECORE_META_NODE_NAME: ["edgecoreMeta.nodeName", "string"],
  EDGECORE_META_DECODE_ON_WORKER: ["edgecoreMeta.decodeOnWorker", "bool"],
};

/** Builds a nested object from dotted paths. */
function nest(entries: [string, unknown][]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, value] of entries) {
    const parts = path.split(".");
    let node = root;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = value;
  }
  return root;
}

function envValue(name: string, raw: string, kind: Kind): unknown {
  if (kind === "string") return raw;
  if (kind === "bool") {
    if (/^(true|1|yes)$/i.test(raw)) return true;
    if (/^(false|0|no)$/i.test(raw)) return false;
    throw new ConfigError(`Invalid ${name}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n)) {
    throw new ConfigError(`Invalid ${name}: expected an integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Where configuration comes from. */
export interface ConfigSources {
  /** Path of an edgecore.yaml (required to exist when given). */
  file?: string;
  /** Environment (default: Deno.env). */
  env?: Record<string, string>;
  /** Values from command-line flags, as dotted key paths (`database.dataSource`). */
  flags?: Record<string, unknown>;
}

/** A loaded configuration and the warnings met while loading it. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

/**
 * Loads configuration: defaults, then the file, then the environment, then flags.
 * @throws {ConfigError} naming the key path and the expected type
 */
export async function loadConfig(sources: ConfigSources = {}): Promise<LoadedConfig> {
  const config = defaultConfig();
  const warnings: string[] = [];
  const target = config as unknown as Record<string, unknown>;
  if (sources.file !== undefined) {
    let text: string;
    try {
      text = Deno.readTextFileSync(sources.file);
    } catch (e) {
      throw new ConfigError(`Cannot read config file ${sources.file}: ${(e as Error).message}`);
    }
    const { parse } = await loadYaml();
    let doc: unknown;
    try {
      doc = parse(text, { version: "1.1" }); // KubeEdge reads YAML 1.1 (yes/no are booleans)
    } catch (e) {
      throw new ConfigError(
        `Cannot parse config file ${sources.file}: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    overlay(target, doc, "", sources.file, warnings);
  }
  const env = sources.env ?? Deno.env.toObject();
  for (const [name, [path, kind]] of Object.entries(ENVIRONMENT)) {
    if (env[name] === undefined) continue;
    const value = envValue(name, env[name], kind);
    overlay(target, nest([[path, value]]), "", `environment variable ${name}`, warnings);
  }
  const flags = Object.entries(sources.flags ?? {}).filter(([, v]) => v !== undefined);
  overlay(target, nest(flags), "", "the command line", warnings);
  return { config, warnings };
}

/** The configured KubeEdge release (undefined: detect it from the database). */
export function configuredRelease(config: Config): KubeEdgeRelease | undefined {
  return config.edgecoreMeta.kubeedge === "" ? undefined : config.edgecoreMeta.kubeedge;
}

/** The HTTP address serve listens on: edgecoreMeta.listen, else metaServer.server. */
export function listenAddress(config: Config): string {
  return config.edgecoreMeta.listen || config.modules.metaManager.metaServer.server;
}

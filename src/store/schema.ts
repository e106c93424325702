/**
 * The one schema module: the three shapes a real node's `edgecore.db` can have, how to tell
 * them apart, the DDL a new database gets for each KubeEdge release, and every column name
 * and statement that differs between them. Nothing else names a `meta_v2` column.
 *
 * - **beego** (KubeEdge v1.10 to v1.22, spec/storage.md §2): `meta_v2.groupversionresource`
 *   and `meta_v2.resourceversion`, written with `INSERT OR REPLACE`.
 * - **gorm** (KubeEdge v1.23, spec/v1.23.md §5.2): `meta_v2.group_version_resource` and
 *   `meta_v2.resource_version`, written with `INSERT … ON CONFLICT (key) DO UPDATE`.
 * - **migrated** (a beego file after v1.23's AutoMigrate, spec/v1.23.md §5.4): both column
 *   sets. v1.23 writes only its own columns (the old ones keep their stale values, or their
 *   defaults `''`/`0` on new rows); rows v1.10 wrote and v1.23 never rewrote hold NULL in the
 *   v1.23 columns.
 *
 * Writes follow the file's shape: run as v1.10, no gorm column is ever added to a beego
 * file and no beego column to a gorm file; run as v1.23 (asked for, not detected), a beego
 * file is first migrated as v1.23's AutoMigrate does ({@link migrateBeegoFile}).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { wholeColumn } from "./whole_text.ts";

/** A KubeEdge release this program can be compatible with. */
export type KubeEdgeRelease = "1.10" | "1.23";

/** The releases, in order. */
export const KUBEEDGE_RELEASES: readonly KubeEdgeRelease[] = ["1.10", "1.23"];

/**
 * Parses a release name: `1.10` or `1.23`, with or without a leading `v` (a patch level,
 * `v1.23.1`, names its minor release).
 * @throws {Error} naming the value and the releases supported
 */
export function parseKubeEdgeRelease(value: string): KubeEdgeRelease {
  const m = /^v?(1\.(?:10|23))(?:\.\d+)?$/.exec(value.trim());
  if (m !== null) return m[1] as KubeEdgeRelease;
  throw new Error(
    `Unsupported KubeEdge release ${JSON.stringify(value)}: expected 1.10 or 1.23`,
  );
}

/**
 * The release a run is compatible with: the configured one, else the one whose schema the
 * database has, else 1.10 (a new database).
 */
export function chooseRelease(
  configured: KubeEdgeRelease | undefined,
  shape: SchemaShape | undefined,
): KubeEdgeRelease {
  return configured ?? (shape === undefined ? "1.10" : releaseOfShape(shape));
}

/** The shape of a database's `meta_v2` table. */
export type SchemaShape = "beego" | "gorm" | "migrated";

/** DDL of `meta`, exactly as beego (v1.10-v1.22) issues it (comments dropped). */
export const META_DDL = "CREATE TABLE IF NOT EXISTS `meta` (\n" +
  "    `key` varchar(256) NOT NULL PRIMARY KEY,\n" +
  "    `type` varchar(32) NOT NULL DEFAULT '' ,\n" +
  "    `value` text\n" +
  ");";

/** DDL of `meta_v2`, exactly as beego (v1.10-v1.22) issues it (comments dropped). */
export const META_V2_DDL = "CREATE TABLE IF NOT EXISTS `meta_v2` (\n" +
  "    `key` varchar(256) NOT NULL PRIMARY KEY,\n" +
  "    `groupversionresource` varchar(256) NOT NULL DEFAULT '' ,\n" +
  "    `namespace` varchar(256) NOT NULL DEFAULT '' ,\n" +
  "    `name` varchar(256) NOT NULL DEFAULT '' ,\n" +
  "    `resourceversion` bigint unsigned NOT NULL DEFAULT 0 ,\n" +
  "    `value` text\n" +
  ");";

/** DDL of `meta` as gorm's AutoMigrate creates it in v1.23 (spec/v1.23.md §5.2). */
export const META_DDL_GORM =
  "CREATE TABLE `meta` (`key` text,`type` text,`value` text,PRIMARY KEY (`key`))";

/** DDL of `meta_v2` as gorm's AutoMigrate creates it in v1.23 (spec/v1.23.md §5.2). */
export const META_V2_DDL_GORM =
  "CREATE TABLE `meta_v2` (`key` text,`group_version_resource` text,`namespace` text,`name` text,`resource_version` integer,`value` text,PRIMARY KEY (`key`))";

/** Columns of `meta` (the same in every shape). */
const META_COLUMNS = ["key", "type", "value"];
/** Columns of `meta_v2` every shape has. */
const META_V2_COMMON = ["key", "namespace", "name", "value"];
/** The GVR and revision columns of each release. */
const BEEGO_COLUMNS = { gvr: "groupversionresource", rv: "resourceversion" } as const;
const GORM_COLUMNS = { gvr: "group_version_resource", rv: "resource_version" } as const;

/** The KubeEdge release whose code wrote (or migrated to) a shape. */
export function releaseOfShape(shape: SchemaShape): KubeEdgeRelease {
  return shape === "beego" ? "1.10" : "1.23";
}

/** The shape a new database gets when `release` creates it. */
export function shapeOfRelease(release: KubeEdgeRelease): SchemaShape {
  return release === "1.10" ? "beego" : "gorm";
}

/** A one-line description of a shape for people (inspect's summary). */
export function describeShape(shape: SchemaShape): string {
  switch (shape) {
    case "beego":
      return "KubeEdge v1.10-v1.22 (beego schema)";
    case "gorm":
      return "KubeEdge v1.23 (gorm schema)";
    case "migrated":
      return "KubeEdge v1.23 (beego schema migrated by gorm: both meta_v2 column sets)";
  }
}

/** Why a database's tables are not a KubeEdge schema (the caller adds the path). */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

function columnsOf(sqlite: DatabaseSync, table: string): string[] {
  const rows = sqlite.prepare("SELECT name FROM pragma_table_info(?)").all(table) as {
    name: string;
  }[];
  return rows.map((r) => r.name);
}

function tableNames(sqlite: DatabaseSync): Set<string> {
  const rows = sqlite.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table'",
  ).all() as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

/**
 * Checks the `meta` and `meta_v2` tables present and tells the shape of `meta_v2`
 * (undefined when the file has no `meta_v2` table).
 * @throws {SchemaError} naming the table, the missing columns and the columns found
 */
export function detectShape(sqlite: DatabaseSync): SchemaShape | undefined {
  const tables = tableNames(sqlite);
  if (tables.has("meta")) {
    const present = columnsOf(sqlite, "meta");
    const missing = META_COLUMNS.filter((c) => !present.includes(c));
    if (missing.length > 0) {
      throw new SchemaError(
        `table meta lacks column(s) ${missing.join(", ")} (not a KubeEdge schema; found ${
          present.join(", ")
        })`,
      );
    }
  }
  if (!tables.has("meta_v2")) return undefined;
  const present = columnsOf(sqlite, "meta_v2");
  const has = (c: string) => present.includes(c);
  const beego = has(BEEGO_COLUMNS.gvr) && has(BEEGO_COLUMNS.rv);
  const gorm = has(GORM_COLUMNS.gvr) && has(GORM_COLUMNS.rv);
  const missingCommon = META_V2_COMMON.filter((c) => !has(c));
  if (missingCommon.length > 0 || (!beego && !gorm)) {
    const missing = [
      ...missingCommon,
      ...(!beego && !gorm
        ? [
          `${BEEGO_COLUMNS.gvr} and ${BEEGO_COLUMNS.rv} (v1.10-v1.22) or ${GORM_COLUMNS.gvr} and ${GORM_COLUMNS.rv} (v1.23)`,
        ]
        : []),
    ];
    throw new SchemaError(
      `table meta_v2 lacks column(s) ${missing.join(", ")} (not a KubeEdge schema; found ${
        present.join(", ")
      })`,
    );
  }
  return beego && gorm ? "migrated" : beego ? "beego" : "gorm";
}

/**
 * Creates the tables `meta` and `meta_v2` that are missing, with the schema of `release`
 * (or, when the file already has one of them, of the release that wrote it).
 * @returns the shape of `meta_v2` afterwards
 */
export function createTables(
  sqlite: DatabaseSync,
  release: KubeEdgeRelease,
  existing: SchemaShape | undefined,
): SchemaShape {
  const tables = tableNames(sqlite);
  let shape = existing;
  if (shape === undefined && tables.has("meta")) {
    // Only meta exists: its DDL tells which release created it (gorm's has no varchar).
    const row = sqlite.prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
    )
      .get() as { sql: string } | undefined;
    shape = row !== undefined && /varchar\(32\)/.test(row.sql) ? "beego" : "gorm";
  }
  shape ??= shapeOfRelease(release);
  if (release === "1.23" && shape === "beego" && tables.has("meta_v2")) {
    migrateBeegoFile(sqlite);
    return "migrated";
  }
  const gorm = shape !== "beego";
  if (!tables.has("meta")) sqlite.exec(gorm ? META_DDL_GORM : META_DDL);
  if (!tables.has("meta_v2")) sqlite.exec(gorm ? META_V2_DDL_GORM : META_V2_DDL);
  return shape;
}

/**
 * v1.23's AutoMigrate of the MetaManager's tables on a beego (v1.10-v1.22) file, as a node
 * upgraded to v1.23 does at its first start (spec/v1.23.md §5.4; statement log
 * `upgrade.sql.log` of the oracle): `meta` rebuilt with gorm's column definitions (`type`
 * becomes `text`; the key keeps its definition), `meta_v2` given `group_version_resource`
 * and `resource_version` and rebuilt with `namespace` and `name` as `text`; the v1.10
 * columns stay with their data, and the v1.23 columns of the existing rows are NULL. The
 * statements are gorm's (create `<t>__temp`, copy, drop, rename; `ADD` for the last column),
 * so SQLite leaves the same `sqlite_master` text as on a real node; they run in one
 * transaction (gorm: one per rebuild), so a failed migration leaves the file as it was.
 * The device tables belong to DeviceTwin, which this program does not run: left alone.
 */
export function migrateBeegoFile(sqlite: DatabaseSync): void {
  const metaSql = (sqlite.prepare(
    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
  ).get() as { sql: string } | undefined)?.sql;
  const v2Old = ["key", "groupversionresource", "namespace", "name", "resourceversion", "value"];
  const v2All = [...v2Old, GORM_COLUMNS.gvr];
  const cols = (c: string[]) => c.map(q).join(",");
  const statements = [
    // gorm alters `meta` only where a column's definition differs (beego's `type varchar(32)`)
    ...(metaSql !== undefined && /`type` varchar\(32\)/.test(metaSql)
      ? [
        "CREATE TABLE `meta__temp`  (`key` varchar(256) NOT NULL PRIMARY KEY,`type` text,`value` text)",
        "INSERT INTO `meta__temp`(`key`,`type`,`value`) SELECT `key`,`type`,`value` FROM `meta`",
        "DROP TABLE `meta`",
        "ALTER TABLE `meta__temp` RENAME TO `meta`",
      ]
      : []),
    `ALTER TABLE \`meta_v2\` ADD ${q(GORM_COLUMNS.gvr)} text`,
    "CREATE TABLE `meta_v2__temp`  (`key` varchar(256) NOT NULL PRIMARY KEY," +
    "`groupversionresource` varchar(256) NOT NULL DEFAULT '',`namespace` text,`name` text," +
    "`resourceversion` bigint unsigned NOT NULL DEFAULT 0,`value` text,`group_version_resource` text)",
    `INSERT INTO \`meta_v2__temp\`(${cols(v2All)}) SELECT ${cols(v2All)} FROM \`meta_v2\``,
    "DROP TABLE `meta_v2`",
    "ALTER TABLE `meta_v2__temp` RENAME TO `meta_v2`",
    `ALTER TABLE \`meta_v2\` ADD ${q(GORM_COLUMNS.rv)} integer`,
  ];
  sqlite.exec("BEGIN IMMEDIATE");
  try {
    for (const sql of statements) sqlite.exec(sql);
    sqlite.exec("COMMIT");
  } catch (e) {
    sqlite.exec("ROLLBACK");
    throw e;
  }
}

/** SQL of the statements on `meta_v2` for one shape. */
export interface MetaV2Statements {
  /** Insert or replace one row: parameters key, gvr, namespace, name, rv, value. */
  upsert: string;
  /** Delete by key: parameter key. */
  deleteByKey: string;
  /** The highest revision (column `rv`), no row when empty. */
  maxRevision: string;
  /**
   * `SELECT key, gvr, namespace, name, rv, value FROM meta_v2` (output columns named
   * `key`, `gvr`, `namespace`, `name`, `rv`, `value`); add {@link MetaV2Statements.where}.
   */
  select: string;
  /** SQL expressions for WHERE clauses on the GVR and the revision as this program reads them. */
  gvrExpr: string;
  rvExpr: string;
  /**
   * The dump's select (same output names): the data columns of the release that owns the
   * shape, as stored (SQL NULL kept; for a migrated file the v1.23 columns).
   */
  dumpSelect: string;
}

function q(c: string): string {
  return "`" + c + "`";
}

/**
 * The statements on `meta_v2` for `shape`. For a migrated file this program reads the
 * v1.23 columns and falls back on the v1.10 ones for rows v1.23 never rewrote (upstream
 * v1.23's MetaServer does not see those rows: spec/v1.23.md §5.4), and writes only the
 * v1.23 columns, as v1.23 does.
 */
export function metaV2Statements(shape: SchemaShape): MetaV2Statements {
  const cols = shape === "beego" ? BEEGO_COLUMNS : GORM_COLUMNS;
  const gvrExpr = shape === "migrated"
    ? `COALESCE(${q(GORM_COLUMNS.gvr)}, ${q(BEEGO_COLUMNS.gvr)})`
    : q(cols.gvr);
  const rvExpr = shape === "migrated"
    ? `COALESCE(${q(GORM_COLUMNS.rv)}, ${q(BEEGO_COLUMNS.rv)})`
    : q(cols.rv);
  const insertColumns = [q("key"), q(cols.gvr), q("namespace"), q("name"), q(cols.rv), q("value")]
    .join(",");
  const upsert = shape === "beego"
    ? "INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace,name,resourceversion,value) VALUES (?,?,?,?,?,?)"
    : `INSERT INTO \`meta_v2\` (${insertColumns}) VALUES (?,?,?,?,?,?) ON CONFLICT (\`key\`) DO UPDATE SET ` +
      [cols.gvr, "namespace", "name", cols.rv, "value"].map((c) => `${q(c)}=\`excluded\`.${q(c)}`)
        .join(",");
  const selectOf = (gvr: string, rv: string) =>
    // the key columns read whole, NULs included (whole_text.ts); a value is Go-marshalled
    // JSON, whose strings escape NUL
    `SELECT ${wholeColumn("`key`", "key")}, ${wholeColumn(gvr, "gvr")}, ${
      wholeColumn("`namespace`", "namespace")
    }, ${wholeColumn("`name`", "name")}, ${rv} AS rv, \`value\` AS \`value\` FROM \`meta_v2\``;
  return {
    upsert,
    deleteByKey: "DELETE FROM `meta_v2` WHERE `key` = ?",
    maxRevision: `SELECT ${rvExpr} AS rv FROM \`meta_v2\` ORDER BY ${rvExpr} DESC LIMIT 1`,
    select: selectOf(gvrExpr, rvExpr),
    gvrExpr,
    rvExpr,
    dumpSelect: selectOf(q(cols.gvr), q(cols.rv)),
  };
}

/**
 * Options shared by every subcommand, and turning them into a configuration.
 *
 * @module
 */

import { ConfigError, loadConfig, type LoadedConfig } from "../src/config/config.ts";
import { CommandError } from "../src/errors.ts";

/** Global options (given before or after the subcommand). */
export interface GlobalOptions {
  config?: string;
  db?: string;
  logLevel?: string;
}

/**
 * Loads the configuration for a command: `--config` (or EDGECORE_META_CONFIG), the
 * environment, then flags (`--db`, `--log-level` and the command's own, given as dotted
 * key paths). Warnings go to stderr.
 * @throws {CommandError} for an unreadable file or an invalid value
 */
export async function commandConfig(
  global: GlobalOptions,
  flags: Record<string, unknown> = {},
): Promise<LoadedConfig> {
  try {
    const loaded = await loadConfig({
      file: global.config ?? Deno.env.get("EDGECORE_META_CONFIG"),
      flags: {
        "database.dataSource": global.db,
        "edgecoreMeta.logLevel": global.logLevel,
        ...flags,
      },
    });
    for (const w of loaded.warnings) console.error(`edgecore-meta: warning: ${w}`);
    return loaded;
  } catch (e) {
    if (e instanceof ConfigError) throw new CommandError(e.message);
    throw e;
  }
}

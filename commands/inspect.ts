/**
 * `edgecore-meta inspect` (placeholder until implemented).
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { CommandError } from "../src/errors.ts";

/** The `inspect` subcommand. */
export function inspectCommand() {
  return new Command("inspect")
    .description("not implemented yet")
    .action(() => {
      throw new CommandError("inspect is not implemented yet");
    });
}

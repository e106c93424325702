/**
 * Options shared by every subcommand, and reading them.
 *
 * @module
 */

/** Global options (given before or after the subcommand). */
export interface GlobalOptions {
  config?: string;
  db?: string;
  logLevel?: string;
}

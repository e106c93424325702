/**
 * Errors that carry the process exit code the CLI should end with.
 *
 * @module
 */

/** A command failed (exit 1). The message is printed as one line. */
export class CommandError extends Error {
  /** @param exitCode process exit code (1 = failure, 2 = usage error) */
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "CommandError";
  }
}

/** A bad option value or argument (exit 2). */
export class UsageError extends CommandError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

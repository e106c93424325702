/**
 * The YAML library (npm:yaml), loaded on first use. Importing it costs serve about
 * 4.5 MB of resident memory, which a service that reads no config file and is asked for
 * no YAML (serve on its embedded default) never needs to pay.
 *
 * @module
 */

/** The YAML library's API. */
export type Yaml = typeof import("yaml");

let yaml: Yaml | undefined;

/** Loads the YAML library (once) and returns it. */
export async function loadYaml(): Promise<Yaml> {
  yaml ??= await import("yaml");
  return yaml;
}

/**
 * The YAML library, for synchronous code that runs after {@link loadYaml} resolved.
 * @throws when it has not been loaded yet (a missing `await loadYaml()` upstream)
 */
export function loadedYaml(): Yaml {
  if (yaml === undefined) throw new Error("Cannot use YAML: loadYaml() has not completed");
  return yaml;
}

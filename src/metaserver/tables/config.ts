/**
 * Configuration printers of kube-apiserver v1.32 (printers.go): configmaps, secrets and
 * serviceaccounts.
 *
 * @module
 */

import { AGE_COLUMN, type Cell, col, NAME_COLUMN, type Obj, type Printer } from "./columns.ts";
import { DOC } from "./descriptions.ts";
import { age, arr, nameOf, size, str } from "./format.ts";

/** configmaps: DATA counts `data` and `binaryData` keys. */
export const CONFIG_MAPS: Printer = {
  columns: [NAME_COLUMN, col("Data", "string", DOC["ConfigMap.data"]), AGE_COLUMN],
  cells(cm: Obj, now: number): Cell[] {
    return [nameOf(cm), size(cm.data) + size(cm.binaryData), age(cm, now)];
  },
};

/** secrets: TYPE (defaulted to Opaque) and the number of `data` keys. */
export const SECRETS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Type", "string", DOC["Secret.type"]),
    col("Data", "string", DOC["Secret.data"]),
    AGE_COLUMN,
  ],
  cells(secret: Obj, now: number): Cell[] {
    return [nameOf(secret), str(secret.type) || "Opaque", size(secret.data), age(secret, now)];
  },
};

/** serviceaccounts: the number of `secrets`. */
export const SERVICE_ACCOUNTS: Printer = {
  columns: [NAME_COLUMN, col("Secrets", "string", DOC["ServiceAccount.secrets"]), AGE_COLUMN],
  cells(sa: Obj, now: number): Cell[] {
    return [nameOf(sa), arr(sa.secrets).length, age(sa, now)];
  },
};

/**
 * Why a server (or an offline command on its data folder) refuses to start. Both are thrown before anything is
 * served; `sigstack serve` maps them to its exit codes (client/commands/serve.ts).
 */

/** A setting given wrong (flag, SIGSTACK_* variable, configuration file): the message names it and its source. Exit 2. */
export class ConfigError extends Error {}

/**
 * The data folder does not hold what its own records (meta.json, the CA chain) say it must: a missing, emptied or
 * unreadable database or key. Never repaired by starting afresh (a new key or an empty log would be a fork of the
 * one verifiers trust): the message names the file and how to restore it. Exit 1.
 */
export class DataFolderError extends Error {}

/** How a damaged data folder is mended: from a backup, never by starting afresh. */
export { RESTORE_ADVICE } from '../log/published-size.ts';

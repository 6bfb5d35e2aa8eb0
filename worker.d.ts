// Types for require('pm-native/worker'): the worker side of a Pool.

/**
 * Runs `fn(task)` for every task the pool sends and returns its result (or error) to the pool.
 * `fn` may be async. Call it once, at start-up. Throws when the process has no IPC channel.
 */
export declare function handle<Task = any, Result = any>(fn: (task: Task) => Result | Promise<Result>): void;

// Types for the hand-written entry (index.js); the native functions' types are generated.
export * from './binding';

/** Absolute path of the native `pm` binary (the CLI and the daemon). */
export declare const binPath: string;

// Types for the hand-written entry (index.js): fork(), Pool, and pm2's programmatic API. The
// native functions' own types are generated into binding.d.ts.
/// <reference types="node" />

import { EventEmitter } from 'events';
import { Readable } from 'stream';

export { version, protocolVersion } from './binding';

/** Absolute path of the native `pm` binary (the CLI and the daemon). */
export declare const binPath: string;

// ---------------------------------------------------------------------------------------------
// fork()

/** Any value JSON can carry: what crosses the IPC channel (serialization: 'json'). */
export type Serializable = string | number | boolean | null | Serializable[] | { [key: string]: Serializable } | object;

export interface ForkOptions {
  /** Working directory of the child; the module path resolves against it. */
  cwd?: string;
  /** The child's environment (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The Node binary (default: process.execPath). */
  execPath?: string;
  /** Node flags (default: process.execArgv without -e/-p). */
  execArgv?: string[];
  /** Pipe the child's stdout/stderr to `child.stdout` / `child.stderr` instead of sharing ours. */
  silent?: boolean;
  /** Only 'json' is supported. */
  serialization?: 'json';
  /**
   * When a child that exited on its own is started again: 'never' (default, like
   * child_process), 'on-failure' (non-zero code or a signal), 'always'.
   */
  restart?: 'never' | 'on-failure' | 'always';
  /** Unstable restarts in a row (runs shorter than minUptime) before giving up (default 16). */
  maxRestarts?: number;
  /** Milliseconds a run must last to count as stable (default 1000). */
  minUptime?: number;
  /** Milliseconds between an exit and the restart (default 0). */
  restartDelay?: number;
  /** Exponential backoff base in ms (×1.5 per unstable restart, capped at 15 s), as pm2's. */
  expBackoffRestartDelay?: number;
  /** stop(): milliseconds between killSignal and SIGKILL (default 1600). */
  killTimeout?: number;
  /** stop(): the first signal sent to the process group (default 'SIGINT'). */
  killSignal?: NodeJS.Signals | string;
  /**
   * Messages held for the next child while a crashed one restarts (default 1024). Beyond it
   * send() fails with ERR_IPC_QUEUE_FULL.
   */
  maxQueue?: number;
}

export interface RestartInfo {
  /** Milliseconds until the next child starts. */
  delay: number;
  /** Restarts so far, this one included. */
  restarts: number;
}

/** Errors carry Node's codes: ERR_IPC_CHANNEL_CLOSED, ERR_IPC_QUEUE_FULL, ENOENT, ... */
export interface ForkError extends Error {
  code: string;
}

/** A supervised child, shaped like a ChildProcess. */
export declare class SupervisedChild extends EventEmitter {
  /** The current child's pid; undefined while it restarts and after the end. */
  pid: number | undefined;
  /** False once the channel is closed for good (exit, disconnect()). Stays true during restarts. */
  connected: boolean;
  exitCode: number | null;
  signalCode: NodeJS.Signals | null;
  killed: boolean;
  /** Restarts so far. */
  restarts: number;
  stdin: null;
  stdout: Readable | null;
  stderr: Readable | null;
  spawnfile: string;
  spawnargs: string[];
  /**
   * Sends a message (JSON). Returns false when the caller should slow down (backpressure, or the
   * message could not be sent); the callback runs once it is written, or with the error.
   */
  send(message: Serializable, callback?: (error: Error | null) => void): boolean;
  send(message: Serializable, sendHandle?: null, callback?: (error: Error | null) => void): boolean;
  send(message: Serializable, sendHandle: null | undefined, options: object | undefined, callback?: (error: Error | null) => void): boolean;
  /** Closes the channel; the child is not restarted once it exits. */
  disconnect(): void;
  /** Signals the current child (not its group). The restart policy still applies. */
  kill(signal?: NodeJS.Signals | number): boolean;
  /** Stops for good: killSignal to the group, SIGKILL after killTimeout, whole tree gone. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ref(): this;
  unref(): this;

  on(event: 'message', listener: (message: any) => void): this;
  on(event: 'spawn', listener: () => void): this;
  on(event: 'restart', listener: (code: number | null, signal: NodeJS.Signals | null, info: RestartInfo) => void): this;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'disconnect', listener: () => void): this;
  on(event: 'error', listener: (error: ForkError) => void): this;
  on(event: 'internalMessage', listener: (message: any) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'message', listener: (message: any) => void): this;
  once(event: 'spawn', listener: () => void): this;
  once(event: 'restart', listener: (code: number | null, signal: NodeJS.Signals | null, info: RestartInfo) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'disconnect', listener: () => void): this;
  once(event: 'error', listener: (error: ForkError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** child_process.fork's signature; the child is spawned and supervised natively. */
export declare function fork(modulePath: string | URL, args?: readonly string[], options?: ForkOptions): SupervisedChild;
export declare function fork(modulePath: string | URL, options?: ForkOptions): SupervisedChild;

// ---------------------------------------------------------------------------------------------
// Pool

export interface PoolOptions extends Omit<ForkOptions, 'restart' | 'maxRestarts' | 'minUptime' | 'maxQueue'> {
  /** Workers: 'cpu' = cores (default), 'io' = 2 × cores, 'mixed' = 1.5 × cores, or a number. */
  size?: 'cpu' | 'io' | 'mixed' | number;
  /** Tasks waiting for a worker before run() rejects with ERR_POOL_QUEUE_FULL (default 1024 × size). */
  maxQueue?: number;
  /** Times a task is re-run after its worker died under it (default 1; 0 rejects at once). */
  retry?: number | boolean;
  /** Tasks in flight per worker (default 1). */
  concurrency?: number;
  /** Arguments for the worker script. */
  args?: string[];
  /**
   * Also take tasks from this queue (a name, or its options with `name` and `concurrency`):
   * each job's data is a task, acked once the worker returned, retried then dead-lettered when
   * it throws. Default concurrency: size × concurrency.
   */
  queue?: string | (QueueOptions & { name: string; concurrency?: number; maxAttempts?: number });
}

/** A pool of worker processes running require('pm-native/worker').handle(fn). */
export declare class Pool<Task = any, Result = any> extends EventEmitter {
  constructor(filename: string, options?: PoolOptions);
  /** The number of workers. */
  readonly size: number;
  readonly maxQueue: number;
  readonly retry: number;
  readonly concurrency: number;
  /** Tasks waiting for a worker. */
  readonly queueSize: number;
  /** Tasks finished (resolved or rejected by the worker). */
  readonly completed: number;
  /**
   * Runs a task on a worker. Rejects with the worker's error, ERR_WORKER_EXITED (its worker died,
   * retries used up), ERR_POOL_QUEUE_FULL, ERR_POOL_CLOSED or ERR_WORKER_INIT.
   */
  run(task: Task): Promise<Result>;
  /** Refuses new tasks, lets queued and running ones finish, then stops the workers. */
  close(): Promise<void>;
  on(event: 'error', listener: (error: ForkError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

// ---------------------------------------------------------------------------------------------
// Message queues

export interface QueueOptions {
  /** The daemon's home (default PM_HOME, PM2_HOME, ~/.pm); local transport only. */
  home?: string;
  /** Use this Redis server as the transport instead of the local daemon. */
  redis?: string;
  /** Redis only: 'reliable' (default; envelopes with ids) or 'list' (plain JSON, interoperates with `LPUSH name JSON`). */
  mode?: 'reliable' | 'list';
  /** Redis only: how long the first connection may take before push() rejects (ms, default 2000). */
  connectTimeout?: number;
  /** Redis only: extra ioredis options. */
  redisOptions?: Record<string, unknown>;
  /** Jobs the queue holds at most (ready, delayed, in flight); a push beyond it rejects with ERR_QUEUE_FULL (default 100000). */
  maxLength?: number;
  /** Bytes of JSON per job at most (default 1 MiB); more rejects with ERR_QUEUE_PAYLOAD. */
  maxPayload?: number;
  /** Local only: ms a job may stay unacked before it is delivered again (default 30000). */
  visibilityTimeout?: number;
}

export interface PushOptions {
  /** Larger is delivered first (local); on Redis, > 0 jumps to the head of the queue. Default 0. */
  priority?: number;
  /** Milliseconds before the job may be delivered. Default 0. */
  delay?: number;
}

export interface NackOptions {
  /** Put the job back (the default), after `delay` ms. */
  requeue?: boolean;
  /** Move the job to the queue `<name>.dead`. */
  deadLetter?: boolean;
  delay?: number;
}

export interface Job<T = any> {
  readonly id: number | string;
  readonly data: T;
  readonly queue: string;
  readonly priority: number;
  /** 1 on the first delivery; more when it came back (nack, timeout, a consumer that died). */
  readonly attempts: number;
  /** Done. Resolves false when this consumer no longer held the job (it will be delivered again). */
  ack(): Promise<boolean>;
  nack(options?: NackOptions): Promise<boolean>;
}

export interface ConsumeOptions {
  /** Jobs held at once (default 1). */
  concurrency?: number;
  /** Local only: overrides the queue's visibilityTimeout. */
  visibilityTimeout?: number;
}

export interface ProcessOptions<T = any> extends ConsumeOptions {
  /** Failures after which a job goes to the dead-letter queue (default 5). */
  maxAttempts?: number;
  onError?: (error: unknown, job: Job<T>) => void;
}

export interface Consumer<T = any> extends AsyncIterableIterator<Job<T>> {
  /** Stops consuming; jobs delivered and not settled go back to the queue. */
  close(): Promise<void>;
  /** process() only: resolves once closed and the running handlers have finished. */
  done?: Promise<void>;
}

export interface QueueStats {
  name: string;
  ready: number;
  delayed: number;
  in_flight: number;
  consumers: number;
  pushed?: number;
  acked?: number;
  nacked?: number;
  redelivered?: number;
  acked_per_sec?: number;
  pushed_per_sec?: number;
}

export declare class Queue<T = any> {
  constructor(name: string, options?: QueueOptions);
  readonly name: string;
  /** Resolves with the job's id once the job is stored (on disk for the local transport). */
  push(data: T, options?: PushOptions): Promise<number | string>;
  consume(options?: ConsumeOptions): Consumer<T>;
  process(handler: (data: T, job: Job<T>) => unknown, options?: ProcessOptions<T>): Consumer<T>;
  stats(): Promise<QueueStats>;
  peek(count?: number): Promise<Array<{ id: number | string; data: T }>>;
  /** Drops the waiting and delayed jobs; resolves with how many. */
  purge(): Promise<number>;
  close(): Promise<void>;
}

/** A named queue: brokered by the local daemon, or by Redis with `{ redis: url }`. */
export declare function queue<T = any>(name: string, options?: QueueOptions): Queue<T>;

// ---------------------------------------------------------------------------------------------
// pm2's programmatic API

/** An app as pm2 describes it (ecosystem file fields). */
export interface StartOptions {
  name?: string;
  script?: string;
  args?: string | string[];
  interpreter?: string;
  interpreter_args?: string | string[];
  node_args?: string | string[];
  cwd?: string;
  output?: string;
  error?: string;
  out_file?: string;
  error_file?: string;
  log_file?: string;
  log_date_format?: string;
  pid?: string;
  pid_file?: string;
  min_uptime?: number | string;
  max_restarts?: number;
  max_memory_restart?: number | string;
  kill_timeout?: number;
  kill_signal?: string;
  restart_delay?: number;
  exp_backoff_restart_delay?: number;
  exec_mode?: 'fork' | 'cluster' | 'fork_mode' | 'cluster_mode' | string;
  instances?: number | string;
  merge_logs?: boolean;
  watch?: boolean | string[];
  ignore_watch?: string[];
  autorestart?: boolean;
  cron?: string;
  cron_restart?: string;
  execute_command?: boolean;
  namespace?: string;
  wait_ready?: boolean;
  listen_timeout?: number;
  shutdown_with_message?: boolean;
  stop_exit_codes?: number[];
  env?: { [key: string]: string | number | boolean };
  /** pm-native: one probe as both liveness and readiness (or `liveness` / `readiness` apart). */
  health?: HealthProbe;
  liveness?: HealthProbe;
  readiness?: HealthProbe;
  /** pm-native: ready once the app sends READY=1 on its NOTIFY_SOCKET (false: no socket). */
  notify?: boolean;
  /** pm-native: restart when WATCHDOG=1 pings stop for this long (bare numbers are seconds). */
  watchdog_sec?: number | string;
  /** pm-native, Node apps: restart when the event loop is blocked this long (`"5s"`). */
  max_event_loop_lag?: number | string;
  /** pm-native: restart when the app writes nothing this long (bare numbers are seconds). */
  no_output_timeout?: number | string;
  /** pm-native: start after these apps are started, healthy or completed. */
  depends_on?: Array<string | { name: string; condition?: 'started' | 'healthy' | 'completed' }>;
  /** API options: start again even when the script already runs; apps to pick from a file. */
  force?: boolean;
  only?: string;
  [key: string]: any;
}

/** A health probe (pm-native); durations are ms or strings such as `"500ms"`, `"5s"`. */
export interface HealthProbe {
  http?: string | { url?: string; host?: string; port?: number | string; path?: string; status?: number | string | Array<number | string> };
  tcp?: number | string | { host?: string; port: number | string };
  exec?: string;
  interval?: number | string;
  timeout?: number | string;
  initial_delay?: number | string;
  failure_threshold?: number;
  success_threshold?: number;
}

/** A process in pm2's jlist shape. */
export interface ProcessDescription {
  name: string;
  pid: number;
  pm_id: number;
  monit: { memory: number; cpu: number };
  pm2_env: {
    status: 'online' | 'stopping' | 'stopped' | 'launching' | 'errored' | 'one-launch-status' | 'waiting restart';
    exec_mode: 'fork_mode' | 'cluster_mode';
    restart_time: number;
    unstable_restarts: number;
    pm_uptime: number;
    created_at: number;
    pm_exec_path: string;
    pm_cwd: string;
    pm_out_log_path: string;
    pm_err_log_path: string;
    namespace: string;
    instances: number | string;
    /** pm-native: why the last restart happened. */
    restart_reason?: 'exit' | 'memory' | 'cron' | 'watch' | 'health' | 'watchdog' | 'hang' | 'no_output' | 'manual';
    /** pm-native: last probe results and notify state, for apps that have them. */
    health?: { status?: 'healthy' | 'unhealthy' | 'starting'; ready: boolean; [key: string]: any };
    [key: string]: any;
  };
  [key: string]: any;
}

/** A bus packet: who sent it, what, and when (ms since the epoch). */
export interface BusPacket<T = any> {
  process: { pm_id: number; name: string; namespace?: string; status?: string; restart_time?: number; [key: string]: any };
  data: T;
  at: number;
}

/** One process's answer to `trigger()`: pm2's `axm:reply` packet. */
export type TriggerReply = BusPacket<{ action_name: string; return: any; at: number }>;

export interface ProcessEventPacket {
  event: string;
  process: { pm_id: number; name: string; namespace?: string; status?: string; restart_time?: number; [key: string]: any };
  at: number;
}

/** pm2's event bus: exact topics, or patterns where each `*` is passed to the listener first. */
export declare class Bus {
  on(topic: 'process:event', listener: (packet: ProcessEventPacket) => void): this;
  on(topic: 'log:out' | 'log:err', listener: (packet: BusPacket<string>) => void): this;
  on(topic: 'process:msg', listener: (packet: BusPacket) => void): this;
  /** An app's uncaught exception: `data` holds the error's own properties (message, stack, ...). */
  on(topic: 'process:exception', listener: (packet: BusPacket<{ message?: string; stack?: string; [key: string]: any }>) => void): this;
  /** The daemon is stopping (killDaemon), sent once every app has stopped. */
  on(topic: 'pm2:kill', listener: (packet: { status: string; msg: string }) => void): this;
  on(topic: string, listener: (...args: any[]) => void): this;
  once(topic: string, listener: (...args: any[]) => void): this;
  off(topic: string): this;
  removeAllListeners(): this;
  close(): void;
}

/**
 * Why the daemon refused a request: `message` is pm2's wording, `code` what to branch on.
 * `not_found`: a target matched no process; `no_process`: `all` while nothing runs;
 * `unknown_id`: no process has that pm_id; `already_running`: start without force;
 * `invalid_input`: refused as given; `failed`: the work itself failed.
 */
export interface DaemonError extends Error {
  code: 'not_found' | 'no_process' | 'unknown_id' | 'already_running' | 'invalid_input' | 'failed';
}

export type ErrCallback = (err: Error | null, data?: any) => void;
export type ErrProcCallback = (err: Error | null, procs: ProcessDescription[]) => void;

/** A packet for sendDataToProcessId; the app receives it whole in process.on('message'). */
export interface DataPacket {
  id?: number;
  type: string;
  data: any;
  topic: string | boolean;
  [key: string]: any;
}

export declare class PM2 {
  /** `pm2_home` (or `home`): the daemon's home; default PM_HOME, PM2_HOME, ~/.pm. */
  constructor(options?: { pm2_home?: string; home?: string });
  connect(callback: (err: Error | null, meta: { new_pm2_instance: boolean }) => void): void;
  connect(noDaemonMode: boolean, callback: (err: Error | null, meta: { new_pm2_instance: boolean }) => void): void;
  connect(): Promise<{ new_pm2_instance: boolean }>;
  disconnect(callback?: ErrCallback): void;
  disconnect(): Promise<{}>;
  close(callback?: ErrCallback): void;
  start(options: StartOptions | StartOptions[] | { apps: StartOptions[] }, callback: ErrProcCallback): void;
  start(scriptOrConfigFile: string, callback: ErrProcCallback): void;
  start(scriptOrConfigFile: string | StartOptions, options: StartOptions, callback: ErrProcCallback): void;
  start(scriptOrConfig: string | StartOptions | StartOptions[] | { apps: StartOptions[] }, options?: StartOptions): Promise<ProcessDescription[]>;
  stop(process: string | number | Array<string | number>, callback: ErrProcCallback): void;
  stop(process: string | number | Array<string | number>): Promise<ProcessDescription[]>;
  restart(process: string | number | Array<string | number>, callback: ErrProcCallback): void;
  restart(process: string | number | Array<string | number>, options: { updateEnv?: boolean }, callback: ErrProcCallback): void;
  restart(process: string | number | Array<string | number>, options?: { updateEnv?: boolean }): Promise<ProcessDescription[]>;
  reload(process: string | number | Array<string | number>, callback: ErrProcCallback): void;
  reload(process: string | number | Array<string | number>, options: { updateEnv?: boolean }, callback: ErrProcCallback): void;
  reload(process: string | number | Array<string | number>, options?: { updateEnv?: boolean }): Promise<ProcessDescription[]>;
  delete(process: string | number | Array<string | number>, callback: ErrProcCallback): void;
  delete(process: string | number | Array<string | number>): Promise<ProcessDescription[]>;
  reset(process: string | number, callback: ErrProcCallback): void;
  reset(process: string | number): Promise<ProcessDescription[]>;
  list(callback: ErrProcCallback): void;
  list(): Promise<ProcessDescription[]>;
  describe(process: string | number, callback: ErrProcCallback): void;
  describe(process: string | number): Promise<ProcessDescription[]>;
  flush(process: string | number | undefined, callback: ErrProcCallback): void;
  flush(process?: string | number): Promise<ProcessDescription[]>;
  reloadLogs(callback: ErrCallback): void;
  reloadLogs(): Promise<{}>;
  sendSignalToProcessName(signal: string | number, process: string, callback: ErrProcCallback): void;
  sendSignalToProcessName(signal: string | number, process: string): Promise<ProcessDescription[]>;
  sendSignalToProcessId(signal: string | number, process: number, callback: ErrProcCallback): void;
  sendSignalToProcessId(signal: string | number, process: number): Promise<ProcessDescription[]>;
  sendDataToProcessId(id: number, packet: DataPacket, callback: (err: Error | null, res: { success: boolean; data: DataPacket }) => void): void;
  sendDataToProcessId(packet: DataPacket & { id: number }, callback: (err: Error | null, res: { success: boolean; data: DataPacket }) => void): void;
  sendDataToProcessId(id: number, packet: DataPacket): Promise<{ success: boolean; data: DataPacket }>;
  sendDataToProcessId(packet: DataPacket & { id: number }): Promise<{ success: boolean; data: DataPacket }>;
  launchBus(callback: (err: Error | null, bus: Bus) => void): void;
  launchBus(): Promise<Bus>;
  killDaemon(callback: ErrCallback): void;
  killDaemon(): Promise<{}>;
  kill(callback: ErrCallback): void;
  /** pm2 save: writes $PM_HOME/dump.pm2 (the previous one becomes dump.pm2.bak). */
  dump(callback: (err: Error | null, res: { success: boolean }) => void): void;
  dump(force: boolean, callback: (err: Error | null, res: { success: boolean }) => void): void;
  dump(force?: boolean): Promise<{ success: boolean }>;
  /** { msg: 'pong' }; starts the daemon when none runs. */
  ping(callback: (err: Error | null, res: { msg: string }) => void): void;
  ping(): Promise<{ msg: string }>;
  /** `count`: the number of instances, or '+N' / '-N'. Errors: 'App not found', 'Same process number'. */
  scale(name: string, count: number | string, callback: (err: Error | null, res: { success: boolean }) => void): void;
  scale(name: string, count: number | string): Promise<{ success: boolean }>;
  sendLineToStdin(pmId: string | number, line: string, callback: ErrProcCallback): void;
  sendLineToStdin(pmId: string | number, line: string, separator: string | null, callback: ErrProcCallback): void;
  sendLineToStdin(pmId: string | number, line: string, separator?: string | null): Promise<ProcessDescription[]>;
  /** The pm_ids of the processes with this name (or script path); `details` by pm_id. */
  getProcessIdByName(name: string | number, callback: (err: Error | null, ids: number[], details: Record<number, ProcessDescription>) => void): void;
  getProcessIdByName(name: string | number): Promise<number[]>;
  /** The pids of the processes called `name`, or of all. */
  getPID(callback: (err: Error | null, pids: number[]) => void): void;
  getPID(name: string | null, callback: (err: Error | null, pids: number[]) => void): void;
  getPID(name?: string | null): Promise<number[]>;
  /** Calls an action the app registered with @pm2/io's io.action(); each process's reply. Fails with 'Unknown process' when none has it. */
  trigger(process: string | number, action: string, callback: (err: Error | null, replies: TriggerReply[]) => void): void;
  trigger(process: string | number, action: string, params: any, callback: (err: Error | null, replies: TriggerReply[]) => void): void;
  trigger(process: string | number, action: string, params?: any): Promise<TriggerReply[]>;
  /** Shows a module_conf.json value (`pm get`); `output` is what the CLI printed. */
  get(key: string | null, callback: (err: Error | null, res: { success: boolean; output: string }) => void): void;
  get(key?: string | null): Promise<{ success: boolean; output: string }>;
  set(key: string, value: string | number | boolean, callback: (err: Error | null, res: { success: boolean }) => void): void;
  set(key: string, value: string | number | boolean): Promise<{ success: boolean }>;
  /** Empties dump.pm2. */
  clearDump(callback: (err: Error | null) => void): void;
  clearDump(): Promise<void>;
  /** Starts the apps saved by dump(); answers with the process list afterwards. */
  resurrect(callback: ErrProcCallback): void;
  resurrect(): Promise<ProcessDescription[]>;
  /** Installs the boot script; needs root (else 'You have to run this with elevated rights'). */
  startup(callback: (err: Error | null, res: StartupResult) => void): void;
  startup(platform: string | null, callback: (err: Error | null, res: StartupResult) => void): void;
  startup(platform: string | null, options: StartupOptions, callback: (err: Error | null, res: StartupResult) => void): void;
  startup(platform?: string | null, options?: StartupOptions): Promise<StartupResult>;
  /** Saves the list, restarts the daemon on the installed binary and resurrects. */
  update(callback: (err: Error | null, res: { success: boolean }) => void): void;
  update(): Promise<{ success: boolean }>;
}

export interface StartupOptions {
  user?: string;
  hp?: string;
  serviceName?: string;
  waitIp?: boolean;
}

export interface StartupResult {
  success: boolean;
  platform: string | null;
  /** What `pm startup` printed. */
  output: string;
}

/** pm2's name for the API class: `new (require('pm-native').custom)({ pm2_home })`. */
export declare const custom: typeof PM2;

// The pm2 API at the top level, bound to a default client, as require('pm2') offers it.
export declare const connect: PM2['connect'];
export declare const disconnect: PM2['disconnect'];
export declare const close: PM2['close'];
export declare const start: PM2['start'];
export declare const stop: PM2['stop'];
export declare const restart: PM2['restart'];
export declare const reload: PM2['reload'];
declare const _delete: PM2['delete'];
export { _delete as delete };
export declare const reset: PM2['reset'];
export declare const list: PM2['list'];
export declare const describe: PM2['describe'];
export declare const flush: PM2['flush'];
export declare const reloadLogs: PM2['reloadLogs'];
export declare const sendSignalToProcessName: PM2['sendSignalToProcessName'];
export declare const sendSignalToProcessId: PM2['sendSignalToProcessId'];
export declare const sendDataToProcessId: PM2['sendDataToProcessId'];
export declare const launchBus: PM2['launchBus'];
export declare const killDaemon: PM2['killDaemon'];
export declare const kill: PM2['kill'];
export declare const dump: PM2['dump'];
export declare const ping: PM2['ping'];
export declare const scale: PM2['scale'];
export declare const sendLineToStdin: PM2['sendLineToStdin'];
export declare const getProcessIdByName: PM2['getProcessIdByName'];
export declare const getPID: PM2['getPID'];
export declare const trigger: PM2['trigger'];
export declare const get: PM2['get'];
export declare const set: PM2['set'];
export declare const clearDump: PM2['clearDump'];
export declare const resurrect: PM2['resurrect'];
export declare const startup: PM2['startup'];
export declare const update: PM2['update'];

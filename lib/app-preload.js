'use strict';
// Loaded with `--require` into every Node app the daemon starts (the daemon embeds this file and
// writes it to its home). It reports uncaught exceptions on the bus (`process:exception`, as
// pm2's container does) and does two things for zero-downtime reloads (and, when the app sets
// max_event_loop_lag, sends the daemon heartbeats, and gives probed servers a private socket
// of their own; see below):
//
// 1. Fork mode: a server's listen() asks the daemon for the listening socket, in Node's own
//    cluster protocol (queryServer / listening / close), instead of binding it. The daemon binds
//    each app's address once and hands the same socket to every instance, so during a reload the
//    new instance listens while the old one still serves, and the accept queue never closes.
//    The app still runs as a cluster primary (`cluster.isPrimary` stays true): only the listen
//    goes through the daemon. Not routed (bound directly, as pm2 does): `exclusive: true`,
//    port 0, `listen({fd})` and listen on an existing handle.
// 2. Both modes: when the daemon retires the process (`disconnect`), HTTP servers drain instead
//    of dropping idle keep-alive connections (Node's server.close() destroys them, and a client
//    that had just sent its next request on one gets ECONNRESET). They stop accepting, answer
//    each further request with `Connection: close`, and end a connection only once it has been
//    idle for IDLE_GRACE_MS.
//
// It does nothing in processes the daemon did not start itself (an app's own children inherit
// execArgv): the daemon's pid must be the parent's.

(function pmNativePreload() {
  if (typeof process.send !== 'function' || process.env.PM_NATIVE_DAEMON_PID !== String(process.ppid)) return;

  // max_event_loop_lag: beat from the event loop; a blocked loop cannot, and the daemon
  // restarts the app once beats stop for longer than the bound. The first beat goes before
  // the app's own code runs, so a loop blocked from the start is caught too.
  const beatMs = Number(process.env.PM_NATIVE_HEARTBEAT_MS);
  if (beatMs > 0) {
    const beat = () => {
      if (process.connected) process.send('pm-native:beat');
    };
    beat();
    setInterval(beat, beatMs).unref();
  }

  const net = require('net');
  const path = require('path');

  const IDLE_GRACE_MS = 250;
  const SWEEP_MS = 50;
  const HOLD_MS = 1000;
  const UV_ECONNRESET = -104;
  // Not NODE_UNIQUE_ID: a cluster worker deletes it before preloads run.
  const isClusterWorker = process.env.exec_mode === 'cluster_mode';
  const app = process.env.name || '';
  const TRACK = Symbol('pm-native.connections');

  let draining = false;
  let cluster; // loaded at the first listen(): idle apps do not pay for it

  // --- draining HTTP servers -------------------------------------------------------------

  /** Retiring: set by the daemon's `disconnect` (fork mode) or Node's own (cluster worker). */
  function retiring() {
    if (draining) return true;
    if (!isClusterWorker) return false;
    cluster = cluster || require('cluster');
    return Boolean(cluster.worker && cluster.worker.exitedAfterDisconnect);
  }

  /** HTTP(S) servers only: they are the ones that keep connections alive between requests. */
  function instrument(server) {
    if (server[TRACK] || typeof server.closeIdleConnections !== 'function') return;
    const conns = new Set();
    server[TRACK] = conns;
    // TLS servers: the TLS socket is the one that carries the HTTP state.
    const event = typeof server.addContext === 'function' ? 'secureConnection' : 'connection';
    server.on(event, (socket) => {
      conns.add(socket);
      socket.once('close', () => conns.delete(socket));
    });
    server.prependListener('request', (req, res) => {
      if (draining) res.shouldKeepAlive = false;
    });
    const close = server.close;
    server.close = function pmClose(cb) {
      if (!retiring()) return close.apply(this, arguments);
      draining = true;
      sweep(this);
      // Only stop accepting: net's close waits for the connections, which the sweep ends.
      return net.Server.prototype.close.call(this, cb);
    };
  }

  /** Ends each connection once it has been idle (no request in progress) for IDLE_GRACE_MS. */
  function sweep(server) {
    const conns = server[TRACK];
    if (conns.size === 0) return;
    const idleSince = new Map();
    const timer = setInterval(() => {
      const now = Date.now();
      for (const s of conns) {
        if (s._httpMessage || s.destroyed) {
          idleSince.delete(s);
          continue;
        }
        const since = idleSince.get(s);
        if (since === undefined) idleSince.set(s, now);
        else if (now - since >= IDLE_GRACE_MS) s.destroy();
      }
      if (conns.size === 0) clearInterval(timer);
    }, SWEEP_MS);
    // The open connections keep the process alive; the sweep alone must not.
    timer.unref();
  }

  // --- fork mode: listening sockets from the daemon --------------------------------------

  let seq = 0;
  const callbacks = new Map();
  const indexes = new Map();
  const servers = new Set(); // every fork-mode server that listened, for the drain

  /** Sends to the daemon; false when there is no channel (then `cb` is never called). */
  function send(message, cb) {
    if (!process.connected) return false;
    const msg = { cmd: 'NODE_CLUSTER', ...message, seq };
    if (cb) callbacks.set(seq, cb);
    seq += 1;
    process.send(msg);
    return true;
  }

  if (!isClusterWorker) {
    process.on('internalMessage', (msg, handle) => {
      if (!msg || msg.cmd !== 'NODE_CLUSTER') return;
      if (msg.ack !== undefined) {
        const cb = callbacks.get(msg.ack);
        callbacks.delete(msg.ack);
        if (cb) cb(msg, handle);
      } else if (msg.act === 'disconnect') {
        drainAll();
      }
    });
  }

  /** Stops every server, lets connections finish, then tells the daemon it may stop us. */
  function drainAll() {
    if (draining) return;
    draining = true;
    let waiting = 1;
    const done = () => {
      if (--waiting !== 0) return;
      send({ act: 'drained' });
      // The daemon now stops us as pm2 would (kill_signal, or the shutdown message). An app
      // whose server was all that kept it alive would otherwise exit first, skipping its own
      // SIGINT handler; the hold is short, so an app whose handler waits for its loop to
      // empty still exits well within kill_timeout.
      setTimeout(() => {}, HOLD_MS);
    };
    for (const s of servers) {
      if (!s.listening) continue;
      waiting++;
      s.close(done);
    }
    done();
  }

  /** Node's cluster child `_getServer`, answering from the daemon (shared handles only). */
  function getServer(obj, options, cb) {
    let address = options.address;
    if (options.port < 0 && typeof address === 'string') address = path.resolve(address);
    const indexesKey = [address, options.port, options.addressType, options.fd].join(':');
    let indexSet = indexes.get(indexesKey);
    if (indexSet === undefined) {
      indexSet = { nextIndex: 0, set: new Set() };
      indexes.set(indexesKey, indexSet);
    }
    const index = indexSet.nextIndex++;
    indexSet.set.add(index);
    // `pmApp` keys the socket per app: two apps on one port conflict, as without the daemon.
    const message = { act: 'queryServer', index, data: null, ...options, address, pmApp: app };
    if (obj._getServerData) message.data = obj._getServerData();
    // Nothing else may hold the loop open while the answer is on its way. If the channel
    // closes meanwhile (the daemon died), the listen fails with ECONNRESET instead of waiting
    // for ever. (Polled: a 'disconnect' listener would keep every app's channel referenced.)
    const id = seq;
    const keepAlive = setInterval(() => {
      const cb = callbacks.get(id);
      if (process.connected || !cb) return;
      callbacks.delete(id);
      cb({ errno: UV_ECONNRESET }, null);
    }, 250);
    const asked = send(message, (reply, handle) => {
      clearInterval(keepAlive);
      if (typeof obj._setServerData === 'function') obj._setServerData(reply.data);
      if (!handle) {
        removeIndex(indexesKey, index);
        return cb(reply.errno || -22, null);
      }
      const key = reply.key;
      const close = handle.close;
      handle.close = function pmHandleClose() {
        send({ act: 'close', key });
        removeIndex(indexesKey, index);
        return close.apply(handle, arguments);
      };
      cb(reply.errno, handle);
    });
    if (!asked) {
      clearInterval(keepAlive);
      removeIndex(indexesKey, index);
      // Asynchronously, as Node reports a failed bind.
      return process.nextTick(cb, UV_ECONNRESET, null);
    }
    obj.once('listening', () => {
      if (!indexes.has(indexesKey)) return;
      const a = obj.address();
      send({ ...message, act: 'listening', port: (a && a.port) || options.port });
    });
  }

  function removeIndex(indexesKey, index) {
    const set = indexes.get(indexesKey);
    if (!set) return;
    set.set.delete(index);
    if (set.set.size === 0) indexes.delete(indexesKey);
  }

  /** Whether these listen() arguments name an address the daemon can share. */
  function shareable(opts, first) {
    if (!opts || opts.exclusive) return false;
    if (opts.fd != null || opts.handle != null || (first && typeof first === 'object' && ('_handle' in first || typeof first.getAsyncId === 'function'))) return false;
    if (typeof opts.path === 'string') return true;
    const port = Number(opts.port);
    return opts.port !== undefined && opts.port !== null && opts.port !== '' && Number.isInteger(port) && port > 0;
  }

  /**
   * listen() with Node's cluster path taken, so the socket comes from getServer. With a host,
   * Node resolves it first (dns.lookup, even for an IP) and listens in the lookup's callback:
   * that one lookup is wrapped so its callback runs on the cluster path too.
   */
  function listenShared(server, origListen, args) {
    cluster = cluster || require('cluster');
    if (cluster._getServer !== getServer) cluster._getServer = getServer;
    const onClusterPath = (fn, self, fnArgs) => {
      const wasPrimary = cluster.isPrimary;
      cluster.isPrimary = false;
      try {
        return fn.apply(self, fnArgs);
      } finally {
        cluster.isPrimary = wasPrimary;
      }
    };
    const dns = require('dns');
    const lookup = dns.lookup;
    dns.lookup = function pmLookup(...lookupArgs) {
      dns.lookup = lookup;
      const cb = lookupArgs.pop();
      return lookup.call(this, ...lookupArgs, function pmLookedUp(...r) {
        return onClusterPath(cb, this, r);
      });
    };
    try {
      return onClusterPath(origListen, server, args);
    } finally {
      dns.lookup = lookup;
    }
  }

  // --- 4. probes of a shared port ---------------------------------------------------------
  // The instances of an app share its listening socket, so a daemon's probe of that port may be
  // answered by any of them (the old one, during a reload). For each server listening on a
  // probed port (PM_NATIVE_PROBE_PORTS: numbers, or names of variables holding one), a private
  // socket is opened whose connections go to that server, and named to the daemon, whose probes
  // of this process then dial it. It is an abstract unix socket: no file to clean up, and no TCP
  // port taken from the range other apps may be about to bind. Only for servers reachable on
  // loopback already.

  const TWIN = Symbol('pm-native.probe-twin');
  const probePorts = new Set(
    String(process.env.PM_NATIVE_PROBE_PORTS || '')
      .split(',')
      .filter(Boolean)
      .map((p) => Number(/^[0-9]+$/.test(p) ? p : process.env[p]))
      .filter((n) => Number.isInteger(n) && n > 0),
  );
  const onLoopback = (a) => a === '0.0.0.0' || a === '::' || a === '::1' || /^(::ffff:)?127\./.test(a);

  function twin(server) {
    if (server[TWIN] !== undefined) return;
    server[TWIN] = null;
    server.once('listening', () => {
      const a = server.address();
      if (!a || typeof a !== 'object' || !probePorts.has(a.port) || !onLoopback(a.address)) return;
      // The daemon dials only names of this process (the prefix up to the pid is checked).
      const name = `pm-native-probe:${process.pid}:${a.port}`;
      const announce = (via) => {
        if (process.connected) process.send({ 'pm-native': 'probe-port', port: a.port, via });
      };
      const side = net.createServer((socket) => {
        if (!server.listening) return socket.destroy();
        server.emit('connection', socket);
      });
      side[TWIN] = null;
      server[TWIN] = side;
      side.on('error', () => announce(null));
      // exclusive: bound here, not asked of the daemon (fork mode) or the primary (a worker).
      side.listen({ path: `\0${name}`, exclusive: true }, () => announce(name));
      side.unref();
      server.once('close', () => {
        side.close();
        server[TWIN] = undefined; // a later listen() gets a twin again
      });
    });
  }

  const origListen = net.Server.prototype.listen;
  net.Server.prototype.listen = function listen(...args) {
    instrument(this);
    if (probePorts.size) twin(this);
    // A cluster worker's servers are closed by Node's own disconnect, not by drainAll.
    if (isClusterWorker) return origListen.apply(this, args);
    if (!servers.has(this)) {
      servers.add(this);
      this.once('close', () => servers.delete(this));
    }
    // Without a channel (closed by the app) there is no daemon to ask: bind as Node would.
    if (draining || !process.connected) return origListen.apply(this, args);
    let opts;
    try {
      [opts] = net._normalizeArgs(args);
    } catch {
      return origListen.apply(this, args);
    }
    if (!shareable(opts, args[0])) return origListen.apply(this, args);
    return listenShared(this, origListen, args);
  };

  // 3. Code metrics (lib/app-metrics.js, written beside this file): required off the start-up
  //    path, and not at all with PM_NATIVE_APP_METRICS=false.
  if (process.env.PM_NATIVE_APP_METRICS !== 'false') {
    setImmediate(() => {
      try {
        require(path.join(__dirname, 'app-metrics.js'));
      } catch {
        // A home without the file (an older daemon wrote it): no code metrics.
      }
    }).unref();
  }

  // --- uncaught exceptions on the bus ----------------------------------------------------
  // pm2's process container sends `process:exception` with the error's own properties, and the
  // daemon puts any `{ type, data }` message on the bus under its type. The monitor event leaves
  // Node's own handling (print the stack, exit 1, or the app's own handler) as it was. A write
  // on an idle IPC pipe goes out at once, so the message leaves before the process exits.
  process.on('uncaughtExceptionMonitor', (err) => {
    if (!process.connected) return;
    let data;
    if (err !== null && typeof err === 'object') {
      data = {};
      for (const key of Object.getOwnPropertyNames(err)) data[key] = err[key];
    } else if (err) {
      data = { message: String(err) };
    } else {
      data = { message: 'No error but uncaughtException was caught!' };
    }
    try {
      process.send({ type: 'process:exception', data });
    } catch {
      // The channel closed under us: the exit is still reported as a process:event.
    }
  });
})();

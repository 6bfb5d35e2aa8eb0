'use strict';
// The event bus pm2.launchBus() hands out, with pm2's (axon sub-emitter) semantics:
// `bus.on('process:msg', (packet) => ...)` for an exact topic, and `bus.on('log:*', (type,
// packet) => ...)` where each `*` matches one or more characters and is passed first.

class Bus {
  constructor() {
    this._listeners = [];
    this._subscription = null;
  }

  /** Subscribes `fn` to `topic` (a name, or a pattern with `*`). */
  on(topic, fn) {
    const re = new RegExp(`^${String(topic).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '(.+)')}$`);
    this._listeners.push({ topic, re, fn });
    return this;
  }

  /** Like on(), for the first matching event only. */
  once(topic, fn) {
    const wrapped = (...args) => {
      this._listeners = this._listeners.filter((l) => l.fn !== wrapped);
      fn.apply(this, args);
    };
    return this.on(topic, wrapped);
  }

  /** Removes every listener of `topic` (pm2's sub-emitter has no per-function removal). */
  off(topic) {
    this._listeners = this._listeners.filter((l) => l.topic !== topic);
    return this;
  }

  removeAllListeners() {
    this._listeners = [];
    return this;
  }

  /** One event from the daemon. */
  _dispatch(channel, data) {
    for (const l of this._listeners.slice()) {
      const m = l.re.exec(channel);
      if (m) l.fn.apply(this, [...m.slice(1), data]);
    }
  }

  /** Ends the subscription; the process may then exit. */
  close() {
    if (this._subscription) this._subscription.close();
    this._subscription = null;
  }
}

module.exports = { Bus };

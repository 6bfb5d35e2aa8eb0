'use strict';
// Which platform package holds this machine's prebuilt `pm` binary and Node addon, named as
// napi-rs names them (`pm-native-linux-x64-gnu`, ...). Shared by the bin/pm launcher and the
// postinstall step of a registry install; nothing here may need more than Node itself.
const fs = require('fs');

/** Whether this Linux runs on musl libc (the same checks as the loader napi-rs generates). */
function isMusl() {
  if (process.platform !== 'linux') return false;
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    /* no ldd script: ask Node */
  }
  try {
    process.report.excludeNetwork = true;
    const report = process.report.getReport();
    if (report.header && report.header.glibcVersionRuntime) return false;
    return (report.sharedObjects || []).some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'));
  } catch {
    return false;
  }
}

/** The napi-rs platform suffix of this machine: `linux-x64-gnu`, `linux-arm64-musl`, ... */
function platformKey() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return base;
  if (process.arch === 'arm') return `${base}-${isMusl() ? 'musleabihf' : 'gnueabihf'}`;
  return `${base}-${isMusl() ? 'musl' : 'gnu'}`;
}

/** The platform package for this machine. */
function packageName() {
  return `pm-native-${platformKey()}`;
}

/** Absolute path of the platform package's `pm` binary, or null when it is not installed. */
function binaryPath() {
  try {
    return require.resolve(`${packageName()}/pm`);
  } catch {
    return null;
  }
}

/** The one line to print when no platform package fits this machine. */
function missingMessage() {
  return (
    `pm-native: no prebuilt binary for ${process.platform}-${process.arch} ` +
    `(install ${packageName()} or build from source with a Rust toolchain)`
  );
}

module.exports = { isMusl, platformKey, packageName, binaryPath, missingMessage };

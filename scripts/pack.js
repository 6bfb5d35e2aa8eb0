#!/usr/bin/env node
// Packs what gets published, the napi-rs way: one tarball per platform package
// (npm/<platform>/: the Node addon and the native `pm`) and the platform-neutral main package,
// whose bin/pm is the JS launcher (scripts/pm-launcher.js; its postinstall swaps in the native
// binary) and whose optionalDependencies name the platform packages, as `napi prepublish`
// writes them at publish time. Each is packed from a staging copy, so the checkout's bin/pm
// (the native binary the tests run) is never swapped out under them.
//
//   node scripts/pack.js [--pack-destination DIR]     (npm run package)
//
// prints the tarballs' paths, one a line. A platform's artefacts come from npm/<platform>/
// (where `napi artifacts` puts a CI build's) or, for this machine's platform, from the local
// build (the .node next to package.json, bin/pm).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { platformKey } = require('./platform.js');

const root = path.join(__dirname, '..');

if (process.argv.includes('--prepack')) {
  // `npm pack` / `npm publish` in the checkout would ship this machine's binary as the
  // platform-neutral package's bin and no platform package.
  if (process.env.npm_command === 'pack' || process.env.npm_command === 'publish') {
    console.error('pm-native: pack with `npm run package` (scripts/pack.js), which also packs the platform packages');
    process.exit(1);
  }
  process.exit(0);
}

const destArg = process.argv.indexOf('--pack-destination');
const dest = path.resolve(destArg > 0 ? process.argv[destArg + 1] : '.');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function isElf(file) {
  try {
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  }
}

/** Runs `npm pack` in `dir` (scripts off: the staging copy is already what ships). */
function npmPack(dir) {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return path.join(dest, JSON.parse(out)[0].filename);
}

function copy(from, to, mode) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  if (mode) fs.chmodSync(to, mode);
}

const stageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-native-pack-'));
const tarballs = [];
try {
  fs.mkdirSync(dest, { recursive: true });
  const { parseTriple } = require('@napi-rs/cli');
  const optionalDependencies = {};

  for (const triple of pkg.napi.targets) {
    const key = parseTriple(triple).platformArchABI;
    const dir = path.join(root, 'npm', key);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    if (meta.version !== pkg.version) {
      throw new Error(`npm/${key}/package.json is version ${meta.version}, pm-native is ${pkg.version} (run \`napi version\`)`);
    }
    const addon = `${pkg.napi.binaryName}.${key}.node`;
    const local = key === platformKey();
    const find = (name, built) =>
      [path.join(dir, name), local && built].find((f) => f && fs.existsSync(f) && (name !== 'pm' || isElf(f)));
    const addonFile = find(addon, path.join(root, addon));
    const pmFile = find('pm', path.join(root, 'bin', 'pm'));
    if (!addonFile || !pmFile) {
      throw new Error(`no ${!addonFile ? addon : 'pm binary'} for ${key}: build it there and put it in npm/${key}/`);
    }
    const stage = path.join(stageRoot, key);
    copy(path.join(dir, 'package.json'), path.join(stage, 'package.json'));
    if (fs.existsSync(path.join(dir, 'README.md'))) copy(path.join(dir, 'README.md'), path.join(stage, 'README.md'));
    copy(addonFile, path.join(stage, addon));
    copy(pmFile, path.join(stage, 'pm'), 0o755);
    tarballs.push(npmPack(stage));
    optionalDependencies[meta.name] = meta.version;
  }

  // The main package: npm's own file list for it, with the launcher as bin/pm.
  const listed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: root, encoding: 'utf8' }),
  )[0].files.map((f) => f.path);
  const stage = path.join(stageRoot, 'main');
  for (const rel of listed) {
    if (rel === 'package.json' || /^bin\/pm(-runtime|-docker)?$/.test(rel) || rel.endsWith('.node')) continue;
    copy(path.join(root, rel), path.join(stage, rel));
  }
  for (const name of ['pm', 'pm-runtime', 'pm-docker']) {
    copy(path.join(__dirname, 'pm-launcher.js'), path.join(stage, 'bin', name), 0o755);
  }
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify({ ...pkg, optionalDependencies }, null, 2)}\n`);
  tarballs.push(npmPack(stage));
} finally {
  fs.rmSync(stageRoot, { recursive: true, force: true });
}
for (const t of tarballs) console.log(t);

'use strict';
// index.d.ts and worker.d.ts cover the public API: a user-style sample must type-check, and a
// wrong call must not.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT } = require('./library-helpers');

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PROJECT = path.join(__dirname, 'types');

function tsc(project) {
  return spawnSync(process.execPath, [TSC, '--noEmit', '-p', project], { encoding: 'utf8', timeout: 120000 });
}

test('tsc --noEmit -p __test__/types: the sample compiles against index.d.ts', () => {
  const r = tsc(PROJECT);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the types catch misuse (a wrong call fails to compile)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-types-'));
  try {
    const config = JSON.parse(fs.readFileSync(path.join(PROJECT, 'tsconfig.json'), 'utf8'));
    config.compilerOptions.typeRoots = [path.join(ROOT, 'node_modules', '@types')];
    config.compilerOptions.paths = {
      'pm-native': [path.join(ROOT, 'index.d.ts')],
      'pm-native/worker': [path.join(ROOT, 'worker.d.ts')],
    };
    config.files = ['bad.ts'];
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
    fs.writeFileSync(
      path.join(dir, 'bad.ts'),
      "import { fork, Pool } from 'pm-native';\nfork('w.js', { restart: 'sometimes' });\nnew Pool('w.js', { size: 'huge' });\n",
    );
    const r = tsc(dir);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /bad\.ts\(2,/);
    assert.match(r.stdout, /bad\.ts\(3,/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

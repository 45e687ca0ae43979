'use strict'
// index.d.ts seen by TypeScript: test/types/usage.ts (right calls, and wrong ones marked with
// @ts-expect-error) must type-check with tsc --strict.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

test('index.d.ts: right calls type-check, misspelt signals, a bridge network and wrong types do not', () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const file = path.join(__dirname, 'types', 'usage.ts')
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs', '--types', 'node', file], {
    encoding: 'utf8',
    timeout: 120000,
  })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

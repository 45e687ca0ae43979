'use strict'
// The programs in examples/node run and print what they promise.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')
require('./helpers.js')

const dir = path.join(__dirname, '..', '..', 'examples', 'node')

test('examples/node/hello.mjs', () => {
  const out = execFileSync(process.execPath, [path.join(dir, 'hello.mjs')], { encoding: 'utf8', timeout: 30000 })
  assert.match(out, /^exit 0\nhello from demo\n/)
  assert.match(out, /^\s+1 sh$/m)
  assert.match(out, /signal: 'SIGKILL'/)
})

test('examples/node/sandbox.js', () => {
  const out = execFileSync(process.execPath, [path.join(dir, 'sandbox.js')], { encoding: 'utf8', timeout: 30000 })
  assert.match(out, /\[out\] uid 65534 on rc-[0-9a-f]{12}/)
  assert.match(out, /\[out\] lo\n/)
  assert.match(out, /\[err\] bye/)
  assert.match(out, /^cpu \d+\.\d ms, peak memory \d+\.\d MiB, oom kills 0$/m)
  assert.match(out, /exit \{ code: 0, signal: null, oomKilled: false \}/)
})

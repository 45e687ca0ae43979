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

test("the README's code blocks run as written (as ES modules, 'rcontainer' being this package)", async () => {
  const fs = require('node:fs')
  const os = require('node:os')
  const { pathToFileURL } = require('node:url')
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.ok(blocks.length >= 3, 'README blocks')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcontainer-readme-'))
  try {
    // The images' block finds 'busybox' in a store of its own: tests/images/make-image.sh's
    // busybox, imported (offline; Docker Hub's would be pulled).
    const layout = path.join(dir, 'busybox')
    execFileSync(path.join(__dirname, '..', '..', 'tests', 'images', 'make-image.sh'), [layout, '--no-check'], { timeout: 300000 })
    const store = path.join(dir, 'store')
    await require('..').importImage(layout, { store })
    const outs = blocks.map((code, i) => {
      const file = path.join(dir, `block${i}.mjs`)
      fs.writeFileSync(file, code.replaceAll("from 'rcontainer'", `from '${pathToFileURL(path.join(__dirname, '..', 'index.mjs')).href}'`))
      return execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60000, env: { ...process.env, RCONTAINER_STORE: store } })
    })
    // The sandbox service: nobody without network, two answers and a killed `yes`.
    assert.match(outs[0], /^0 65534\nlo\n/)
    assert.match(outs[0], /\[ 0, null, false, false \],\s*\[ 0, null, false, false \],\s*\[ null, 'SIGKILL', true, true \]/)
    assert.match(outs[1], /stdout: 'hi\\ndemo\\n'/)
    assert.match(outs[1], /24 80/)
    // Images: pid 1 writing on its own root, the store's list, a read-only root.
    assert.match(outs[2], /^1\nhi\n\n\[ 'busybox:latest' \]\n/)
    assert.match(outs[2], /code: 1,[\s\S]*stdout: 'demo\\n',\s*stderr: 'touch: \/x: Read-only file system\\n'/)
    assert.deepEqual(fs.readdirSync(path.join(store, 'containers')), [])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

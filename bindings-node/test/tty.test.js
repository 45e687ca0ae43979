'use strict'
// Terminals: a container created with `tty: true`, and a process exec'd with `tty: true`, get a
// pty of the container's own devpts; the caller holds its master (`.pty`, a duplex stream),
// types into it, reads the output and resizes it (`.resize()`, seen by `stty size` inside).
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const tty = require('node:tty')
const { stateRoot, stateDirs, removeRoot } = require('./helpers.js')
const { Container, run } = require('..')

const root = stateRoot('tty')
after(() => {
  assert.deepEqual(stateDirs(root), [], 'every container was deleted')
  removeRoot(root)
})

function expectCode(fn, code, pattern) {
  let err
  try {
    fn()
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof Error, `expected an Error with code ${code}`)
  assert.equal(err.code, code, err.message)
  if (pattern) assert.match(err.message, pattern)
  return err
}

/** Collects what a pty stream gives; `until(needle)` resolves once it was seen, `ended` at 'end'. */
function collect(stream) {
  const s = { text: '' }
  stream.setEncoding('utf8')
  stream.on('data', (d) => (s.text += d))
  s.ended = new Promise((resolve, reject) => {
    stream.on('end', resolve)
    stream.on('error', reject)
  })
  s.until = async (needle) => {
    const deadline = Date.now() + 20000
    while (!s.text.includes(needle)) {
      if (Date.now() > deadline) throw new Error(`never saw ${JSON.stringify(needle)}: ${JSON.stringify(s.text)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return s
}

test('a container with a terminal: its output, typed input and a resize', async () => {
  const script = 'tty; stty size; read line; echo got:$line; stty size; exit 4'
  const c = Container.create({ args: ['sh', '-c', script], tty: true, ttySize: { rows: 24, cols: 81 }, root })
  try {
    assert.ok(c.pty instanceof tty.ReadStream, 'a duplex tty stream over the master')
    assert.equal(c.pty, c.pty, 'the same stream every time')
    assert.equal(c.stdout, null)
    const out = collect(c.pty)
    c.start()
    await out.until('24 81')
    assert.match(out.text, /\/dev\/pts\/0/)
    c.resize(30, 100)
    c.pty.write('hello\n')
    await out.ended
    assert.match(out.text, /got:hello/)
    assert.match(out.text, /30 100/)
    assert.equal((await c.wait()).code, 4)
  } finally {
    c.delete({ force: true })
  }
})

test('exec with a terminal', async () => {
  const c = Container.create({ args: ['sleep', '600'], root })
  try {
    c.start()
    assert.equal(c.pty, null)
    expectCode(() => c.resize(24, 80), 'ENOTSUP', /no terminal/)
    const p = c.exec(['sh', '-c', 'tty; stty size; read line; echo got:$line; stty size'], { tty: true, ttySize: { rows: 10, cols: 40 } })
    assert.equal(p.stdout, null)
    const out = collect(p.pty)
    await out.until('10 40')
    assert.match(out.text, /\/dev\/pts\//)
    p.resize(12, 50)
    p.pty.write('typed\n')
    await out.ended
    assert.match(out.text, /got:typed/)
    assert.match(out.text, /12 50/)
    assert.equal((await p.wait()).code, 0)
    const q = c.exec(['true'])
    expectCode(() => q.resize(24, 80), 'ENOTSUP', /no terminal/)
    await q.wait()
  } finally {
    c.delete({ force: true })
  }
})

test('terminal options are checked', async () => {
  expectCode(() => Container.create({ args: ['true'], tty: true, stdio: 'pipe', root }), 'EINVAL', /options\.stdio cannot be given with options\.tty/)
  expectCode(() => Container.create({ args: ['true'], ttySize: { rows: 24, cols: 80 }, root }), 'EINVAL', /options\.ttySize needs options\.tty/)
  expectCode(() => Container.create({ args: ['true'], tty: true, ttySize: { rows: 0, cols: 80 }, root }), 'EINVAL', /ttySize/)
  expectCode(() => Container.create({ args: ['true'], tty: 'yes', root }), 'EINVAL', /options\.tty must be a boolean/)
  await assert.rejects(run(['true'], { tty: true, root }), (e) => e.code === 'EINVAL' && /terminal/.test(e.message))
  const c = Container.create({ args: ['sleep', '600'], tty: true, root })
  try {
    expectCode(() => c.resize(0, 80), 'EINVAL', /1\.\.65535/)
    expectCode(() => c.resize(24, 70000), 'EINVAL', /1\.\.65535/)
    c.resize(24, 80)
  } finally {
    c.delete({ force: true })
  }
})

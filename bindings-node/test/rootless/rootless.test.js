'use strict'
// Rootless (issue 17): the package used by an ordinary user. tests/rootless/run.sh runs this file
// as a user of its own (only the user's own uid mapped; no cgroup an ordinary user may create on
// this host).
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const rc = require(process.env.RCONTAINER_NODE_PACKAGE || '../..')

// As root (the root suite's `node --test test/` finds this file too) every test here skips.
const skip = process.getuid() === 0 ? 'ordinary-user tests: tests/rootless/run.sh runs them as a user of its own' : false
const rootless = (name, fn) => test(name, { skip }, fn)

const stateRoot = () => path.join(process.env.XDG_RUNTIME_DIR || `/tmp/rcontainer-${process.getuid()}`, 'rcontainer')
const left = () => fs.readdirSync(stateRoot()).filter((n) => !n.startsWith('.'))

rootless('run: PID 1, root inside, the caller outside', async () => {
  const r = await rc.run(['sh', '-c', 'echo $$ $(id -u); cat /proc/self/uid_map'], { capture: true })
  assert.strictEqual(r.code, 0)
  const [first, second] = r.stdout.split('\n')
  assert.strictEqual(first, '1 0')
  assert.deepStrictEqual(second.trim().split(/\s+/), ['0', String(process.getuid()), '1'])
})

rootless('the default state root is the user\'s own, 0700, and empty after a run', async () => {
  await rc.run(['true'])
  const st = fs.statSync(stateRoot())
  assert.strictEqual(st.uid, process.getuid())
  assert.strictEqual(st.mode & 0o777, 0o700)
  assert.deepStrictEqual(left(), [])
})

rootless('create, start, kill, wait, delete', async () => {
  const c = rc.Container.create({ args: ['sleep', '60'], id: 'rl-node-life' })
  try {
    assert.strictEqual(c.state, 'created')
    c.start()
    assert.strictEqual(c.state, 'running')
    c.kill('SIGKILL')
    const st = await c.wait()
    assert.strictEqual(st.signal, 'SIGKILL')
  } finally {
    c.delete({ force: true })
  }
  assert.deepStrictEqual(left(), [])
})

rootless('a limit is refused, saying why', async () => {
  await assert.rejects(rc.run(['true'], { memory: '64M' }), /delegated/)
  assert.deepStrictEqual(left(), [])
})

rootless('network none: only lo', async () => {
  const r = await rc.run(['cat', '/proc/net/dev'], { capture: true })
  const names = r.stdout.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0].trim())
  assert.deepStrictEqual(names, ['lo'])
})

rootless('no_new_privs and seccomp hold', async () => {
  const r = await rc.run(['sh', '-c', 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'], { capture: true })
  assert.deepStrictEqual(r.stdout.trim().split(/\s+/), ['NoNewPrivs:', '1', 'Seccomp:', '2'])
})

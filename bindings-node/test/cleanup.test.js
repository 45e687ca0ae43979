'use strict'
// A container whose JS object is garbage-collected, or that still runs when Node exits, is killed
// and leaves no state behind. Each case runs in a child Node process.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { stateRoot, stateDirs, alive, removeRoot } = require('./helpers.js')

const root = stateRoot('cleanup')
after(() => removeRoot(root))
const pkg = path.join(__dirname, '..')

function child(code, args = []) {
  const r = spawnSync(process.execPath, [...args, '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, RC_ROOT: root, RC_PKG: pkg },
    timeout: 30000,
    killSignal: 'SIGTERM', // the module's SIGTERM handler cleans up even then
  })
  assert.equal(r.error, undefined)
  return r
}

async function gone(pid) {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50))
  return !alive(pid)
}

test('process.exit() with a running container kills and deletes it', async () => {
  const r = child(`
    const { Container } = require(process.env.RC_PKG)
    const c = Container.create({ args: ['sleep', '600'], root: process.env.RC_ROOT })
    c.start()
    console.log(c.pid)
    process.exit(7)
  `)
  assert.equal(r.status, 7, r.stderr)
  const pid = Number(r.stdout.trim())
  assert.ok(pid > 1)
  assert.ok(await gone(pid), `container init ${pid} still alive`)
  assert.deepEqual(stateDirs(root), [])
})

test('a natural exit with created and running containers cleans up', async () => {
  const r = child(`
    const { Container } = require(process.env.RC_PKG)
    const a = Container.create({ args: ['sleep', '600'], root: process.env.RC_ROOT })
    const b = Container.create({ args: ['sleep', '600'], root: process.env.RC_ROOT })
    b.start()
    console.log(a.pid, b.pid)
    globalThis.keep = [a, b]
  `)
  assert.equal(r.status, 0, r.stderr)
  const pids = r.stdout.trim().split(' ').map(Number)
  for (const pid of pids) assert.ok(await gone(pid), `container init ${pid} still alive`)
  assert.deepEqual(stateDirs(root), [])
})

test('an uncaught exception still cleans up', async () => {
  const r = child(`
    const { Container } = require(process.env.RC_PKG)
    const c = Container.create({ args: ['sleep', '600'], root: process.env.RC_ROOT })
    c.start()
    console.log(c.pid)
    throw new Error('boom')
  `)
  assert.equal(r.status, 1)
  const pid = Number(r.stdout.trim())
  assert.ok(await gone(pid), `container init ${pid} still alive`)
  assert.deepEqual(stateDirs(root), [])
})

test('a pending wait() keeps Node alive, as a child process does', async () => {
  const r = child(`
    const { Container } = require(process.env.RC_PKG)
    const c = Container.create({ args: ['sleep', '0.3'], root: process.env.RC_ROOT })
    c.start()
    c.wait().then((s) => { console.log(JSON.stringify(s)); c.delete() })
  `)
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), { code: 0, signal: null, oomKilled: false })
  assert.deepEqual(stateDirs(root), [])
})

test('SIGTERM / SIGINT to Node (no handler of its own) kills and deletes the containers, then Node dies of the signal', async () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const r = child(`
      const { Container } = require(process.env.RC_PKG)
      const c = Container.create({ args: ['sleep', '600'], root: process.env.RC_ROOT })
      c.start()
      console.log(c.pid)
      setInterval(() => {}, 1000)
      setTimeout(() => process.kill(process.pid, '${sig}'), 50)
    `)
    assert.equal(r.signal, sig, r.stderr)
    const pid = Number(r.stdout.trim())
    assert.ok(await gone(pid), `container init ${pid} still alive`)
    assert.deepEqual(stateDirs(root), [])
  }
})

test('a garbage-collected container is killed and deleted while Node keeps running', async () => {
  const r = child(
    `
    const fs = require('fs')
    const { Container } = require(process.env.RC_PKG)
    let pid, id
    ;(function () {
      const c = Container.create({ args: ['sleep', '600'], root: process.env.RC_ROOT })
      c.start()
      pid = c.pid
      id = c.id
    })()
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
    ;(async () => {
      for (let i = 0; i < 50; i++) {
        global.gc()
        await sleep(20)
        if (!fs.existsSync(process.env.RC_ROOT + '/' + id)) break
      }
      const stat = (() => { try { return fs.readFileSync('/proc/' + pid + '/stat', 'utf8') } catch { return '' } })()
      const running = stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
      console.log(JSON.stringify({ pid, stateDir: fs.existsSync(process.env.RC_ROOT + '/' + id), running }))
      // Keep Node alive a little: the cleanup must not have waited for the exit hook.
      await sleep(50)
    })()
  `,
    ['--expose-gc'],
  )
  assert.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim())
  assert.equal(out.stateDir, false, 'state dir removed after GC')
  assert.equal(out.running, false, 'container killed after GC')
  assert.ok(await gone(out.pid))
  assert.deepEqual(stateDirs(root), [])
})

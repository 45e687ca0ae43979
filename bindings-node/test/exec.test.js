'use strict'
// container.exec(): a command run inside a live container, as `docker exec` does. Its output,
// exit status, kill, timeout, streams, the container's defaults, and the errors of a paused,
// stopped or deleted container.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { stateRoot, stateDirs, removeRoot, alive } = require('./helpers.js')
const { Container, Process } = require('..')

const root = stateRoot('exec')
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

/** Runs `body(c)` with a running container (sleep) whose own process has FOO and cwd /tmp. */
async function withBox(body) {
  const c = Container.create({ args: ['sleep', '600'], env: { FOO: 'from-the-container' }, cwd: '/tmp', hostname: 'execbox', root })
  try {
    c.start()
    await body(c)
  } finally {
    c.delete({ force: true })
  }
}

async function readAll(stream) {
  let text = ''
  for await (const chunk of stream) text += chunk
  return text
}

test('exec: captured output, exit status and the container\'s defaults', () =>
  withBox(async (c) => {
    const p = c.exec(['sh', '-c', 'echo $FOO:$BAR:$(pwd):$(id -u):$(hostname):$$; echo err >&2; exit 3'], { env: { BAR: 'bar' }, capture: true })
    assert.ok(p instanceof Process)
    assert.ok(p.pid > 0)
    const r = await p.wait()
    const [foo, bar, cwd, uid, host, pid] = r.stdout.trim().split(':')
    assert.deepEqual([foo, bar, cwd, uid, host], ['from-the-container', 'bar', '/tmp', '0', 'execbox'])
    assert.ok(Number(pid) > 1 && Number(pid) < 100, `not in the container's pid namespace: ${pid}`)
    assert.deepEqual({ ...r, stdout: null }, { code: 3, signal: null, oomKilled: false, stdout: null, stderr: 'err\n', stdoutTruncated: false, stderrTruncated: false })
    assert.deepEqual(await p.wait(), r, 'every wait() resolves with the same result')
    assert.equal(c.state, 'running', 'the container is untouched')
  }))

test('exec: env, cwd and user override the container\'s; input and Buffers', () =>
  withBox(async (c) => {
    const r = await c.exec(['sh', '-c', 'echo $FOO; pwd; id -u; id -g'], { env: ['FOO=mine'], cwd: '/', user: '65534:65534', capture: true }).wait()
    assert.deepEqual(r.stdout.split('\n'), ['mine', '/', '65534', '65534', ''])
    const b = await c.exec(['cat'], { input: 'typed in\n', capture: true, encoding: 'buffer' }).wait()
    assert.ok(Buffer.isBuffer(b.stdout))
    assert.equal(b.stdout.toString(), 'typed in\n')
    assert.equal(b.code, 0)
  }))

test('exec: stdio pipes as streams', () =>
  withBox(async (c) => {
    const p = c.exec(['sh', '-c', 'cat; echo done >&2'], { stdio: ['pipe', 'pipe', 'pipe'] })
    p.stdin.end('through a pipe\n')
    const [out, err, r] = await Promise.all([readAll(p.stdout), readAll(p.stderr), p.wait()])
    assert.equal(out, 'through a pipe\n')
    assert.equal(err, 'done\n')
    assert.equal(r.code, 0)
    assert.equal(r.stdout, null, 'not captured: read from the stream')
    const q = c.exec(['true'])
    assert.equal(q.stdin, null)
    assert.equal(q.stdout, null)
    assert.equal(q.pty, null)
    await q.wait()
  }))

test('exec: kill, SIGTERM by default, and a timeout', () =>
  withBox(async (c) => {
    const p = c.exec(['sleep', '600'])
    assert.ok(alive(p.pid))
    p.kill('SIGKILL')
    const r = await p.wait()
    assert.deepEqual(r, { code: null, signal: 'SIGKILL', oomKilled: false, stdout: null, stderr: null, stdoutTruncated: false, stderrTruncated: false })
    assert.ok(!alive(p.pid))
    expectCode(() => p.kill(), 'ESTATE')
    expectCode(() => c.exec(['true']).kill('SIGBOGUS'), 'EINVAL', /SIGBOGUS/)

    const t = c.exec(['sh', '-c', "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise((resolve) => t.stdout.once('data', resolve))
    t.kill()
    assert.equal((await t.wait()).code, 7)
    t.stdout.destroy()

    const slow = c.exec(['sh', '-c', 'echo partial; exec sleep 600'], { capture: true, timeout: 300 })
    await assert.rejects(slow.wait(), (e) => {
      assert.equal(e.code, 'ETIMEDOUT')
      assert.match(e.message, /timed out after 300 ms \(the process was killed\)/)
      assert.equal(e.stdout, 'partial\n')
      assert.equal(e.result.signal, 'SIGKILL')
      return true
    })
  }))

test('exec: into a created container', async () => {
  const c = Container.create({ args: ['sleep', '600'], root })
  try {
    const r = await c.exec(['sh', '-c', 'echo $$'], { capture: true }).wait()
    assert.ok(Number(r.stdout) > 1)
    assert.equal(c.state, 'created')
  } finally {
    c.delete({ force: true })
  }
})

test('exec: errors are thrown with a code', () =>
  withBox(async (c) => {
    const e = expectCode(() => c.exec(['/no/such/command']), 'ENOENT', /\/no\/such\/command/)
    assert.equal(e.errno, 2)
    expectCode(() => c.exec([]), 'EINVAL', /args must not be empty/)
    expectCode(() => c.exec('ls'), 'EINVAL', /args must be an array of strings/)
    expectCode(() => c.exec(['true'], { bogus: 1 }), 'EINVAL', /unknown option "bogus"/)
    expectCode(() => c.exec(['true'], { cwd: 'relative' }), 'EINVAL', /cwd/)
    expectCode(() => c.exec(['true'], { env: { 'A=B': 'x' } }), 'EINVAL', /A=B/)
    expectCode(() => c.exec(['true'], { tty: true, capture: true }), 'EINVAL', /tty/)
    expectCode(() => c.exec(['true'], { tty: true, stdio: 'pipe' }), 'EINVAL', /tty/)
    expectCode(() => c.exec(['true'], { timeout: -1 }), 'EINVAL', /timeout/)
  }))

test('exec: a paused, stopped or deleted container refuses it', async () => {
  const c = Container.create({ args: ['sleep', '600'], root })
  try {
    c.start()
    c.pause()
    expectCode(() => c.exec(['true']), 'ESTATE', /paused/)
    c.resume()
    c.kill('SIGKILL')
    await c.wait()
    expectCode(() => c.exec(['true']), 'ESTATE', /stopped/)
  } finally {
    c.delete({ force: true })
  }
  expectCode(() => c.exec(['true']), 'ESTATE', /deleted/)
})

test('exec: deleting the container ends its processes; waiting for it does not hang on them', async () => {
  const c = Container.create({ args: ['sh', '-c', 'sleep 0.3'], root })
  c.start()
  const p = c.exec(['sleep', '600'])
  // The init ends first: the kernel kills the exec'd process, which the library reaps, so
  // the container's wait resolves although nobody waited for the process yet.
  assert.equal((await c.wait()).code, 0)
  assert.equal((await p.wait()).signal, 'SIGKILL')
  c.delete()
  const d = Container.create({ args: ['sleep', '600'], root })
  d.start()
  const q = d.exec(['sleep', '600'])
  d.delete({ force: true })
  assert.equal((await q.wait()).signal, 'SIGKILL')
})

'use strict'
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { stateRoot, stateDirs, removeRoot } = require('./helpers.js')
const { Container, run, version } = require('..')

const root = stateRoot('lifecycle')
after(() => {
  assert.deepEqual(stateDirs(root), [], 'every container was deleted')
  removeRoot(root)
})

test('version', () => {
  assert.match(version(), /^\d+\.\d+\.\d+/)
})

test('run captures stdout, stderr and the exit code', async () => {
  const r = await run(['sh', '-c', 'echo out; echo err >&2; exit 3'], { capture: true, root })
  assert.deepEqual(r, { code: 3, signal: null, oomKilled: false, stdout: 'out\n', stderr: 'err\n', stdoutTruncated: false, stderrTruncated: false })
})

test('run without capture inherits stdout and returns null output', async () => {
  const r = await run(['true'], { root })
  assert.equal(r.code, 0)
  assert.equal(r.stdout, null)
  assert.equal(r.stderr, null)
})

test('run: hostname, env, cwd, user and isolation defaults', async () => {
  const r = await run(['sh', '-c', 'hostname; echo "$FOO $BAR"; pwd; id -u; id -g; echo $$; ls /sys/class/net'], {
    capture: true,
    root,
    hostname: 'box',
    env: { FOO: 'foo', BAR: 'bar baz' },
    cwd: '/tmp',
    user: '1000:1001',
  })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), ['box', 'foo bar baz', '/tmp', '1000', '1001', '1', 'lo'])
})

test('run: env as an array, network host, namespaces object', async () => {
  const r = await run(['sh', '-c', 'echo $A; ls /sys/class/net | wc -l; echo $$'], {
    capture: true,
    root,
    env: ['A=1'],
    network: 'host',
    namespaces: { pid: false },
  })
  assert.equal(r.code, 0, r.stderr)
  const [a, nics, pid] = r.stdout.trim().split('\n')
  assert.equal(a, '1')
  assert.ok(Number(nics) >= 1)
  assert.notEqual(pid, '1', 'no pid namespace: not pid 1')
})

test('run: bind mounts, read-only and read-write', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcontainer-node-mnt-'))
  try {
    fs.writeFileSync(path.join(dir, 'in.txt'), 'hello')
    const r = await run(['sh', '-c', 'cat /data/in.txt; echo x > /data/out.txt; echo y > /ro/f || echo readonly'], {
      capture: true,
      root,
      mounts: [
        { source: dir, destination: '/data' },
        { source: dir, destination: '/ro', readonly: true },
      ],
    })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^hello/)
    assert.match(r.stdout, /readonly/)
    assert.equal(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'), 'x\n')
    // A misspelt key must not give a writable mount the caller thought read-only.
    for (const [bad, named] of [
      [{ source: dir, destination: '/ro', readOnly: true }, /options\.mounts\[0\]\.readOnly.*unknown key/],
      [{ source: dir, destination: '/ro', readonly: 'yes' }, /options\.mounts\[0\]\.readonly/],
      [{ destination: '/d' }, /options\.mounts\[0\]\.source/],
    ]) {
      await assert.rejects(run(['true'], { root, mounts: [bad] }), { code: 'EINVAL', message: named })
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('run: input to stdin, Buffer output', async () => {
  const r = await run(['sh', '-c', 'tr a-z A-Z'], { capture: true, root, input: 'hello', encoding: 'buffer' })
  assert.ok(Buffer.isBuffer(r.stdout))
  assert.equal(r.stdout.toString(), 'HELLO')
})

test('run: resource options are accepted (memory as number or string, cpus, pids)', async () => {
  const r = await run(['true'], { root, memory: '64M', cpus: 0.5, pids: 64 })
  assert.equal(r.code, 0)
  const r2 = await run(['true'], { root, memory: 128 * 1024 * 1024 })
  assert.equal(r2.code, 0)
})

test("run: Docker's security defaults (capabilities, no_new_privileges, seccomp filter)", async () => {
  const r = await run(['sh', '-c', 'grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; unshare -U true && echo unshared'], { capture: true, root })
  assert.match(r.stdout, /^CapBnd:\s+00000000a80425fb$/m, 'Docker\'s 14 default capabilities')
  assert.match(r.stdout, /^NoNewPrivs:\s+1$/m)
  assert.match(r.stdout, /^Seccomp:\s+2$/m, 'a seccomp filter is installed')
  // Docker's profile refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN.
  assert.doesNotMatch(r.stdout, /unshared/)
})

test('run: a user namespace with uidMap', async () => {
  const r = await run(['sh', '-c', 'id -u; cat /proc/self/uid_map'], { capture: true, root, uidMap: '0:100000:65536' })
  assert.equal(r.code, 0, r.stderr)
  const [uid, map] = r.stdout.trim().split('\n')
  assert.equal(uid, '0')
  assert.match(map, /^\s*0\s+100000\s+65536$/)
})

test('run and Container.create with a whole OCI spec object (relative root path, bundle)', async () => {
  // A tiny root filesystem: the host's /usr read-only (Debian's /bin, /lib* are symlinks into it).
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'rcontainer-node-bundle-'))
  try {
    const rootfs = path.join(bundle, 'rootfs')
    for (const d of ['usr', 'proc', 'dev', 'tmp']) fs.mkdirSync(path.join(rootfs, d), { recursive: true })
    for (const l of ['bin', 'sbin', 'lib', 'lib64']) {
      const target = fs.lstatSync('/' + l, { throwIfNoEntry: false })
      if (target && target.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync('/' + l), path.join(rootfs, l))
    }
    const spec = {
      ociVersion: '1.0.2',
      process: { args: ['sh', '-c', 'echo from-spec; hostname'], cwd: '/', env: ['PATH=/usr/bin:/bin'], user: { uid: 0, gid: 0 } },
      root: { path: 'rootfs', readonly: true },
      hostname: 'specbox',
      mounts: [
        { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] },
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
      ],
      linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }] },
    }
    // args given to run() replace the spec's
    await assert.rejects(run([], { capture: true, root, spec, bundle }), { code: 'EINVAL', message: /args = \[\]: must not be empty/ })
    const r = await run(['echo', 'replaced'], { capture: true, root, spec, bundle })
    assert.equal(r.stdout, 'replaced\n', r.stderr)

    const c = Container.create({ spec, bundle, root, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    c.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    const ended = new Promise((resolve) => c.stdout.on('end', resolve))
    c.start()
    assert.deepEqual(await c.wait(), { code: 0, signal: null, oomKilled: false })
    await ended
    assert.equal(out, 'from-spec\nspecbox\n')
    c.delete()
  } finally {
    fs.rmSync(bundle, { recursive: true, force: true })
  }
})

test('Container: create, start, wait, state, pid, id, kill', async () => {
  const c = Container.create({ args: ['sleep', '60'], root, id: 'node-lifecycle-1' })
  try {
    assert.equal(c.id, 'node-lifecycle-1')
    assert.ok(c.pid > 1)
    assert.equal(c.state, 'created')
    assert.ok(fs.existsSync(path.join(root, c.id)))
    c.start()
    assert.equal(c.state, 'running')
    const waiting = c.wait()
    c.kill('SIGKILL')
    assert.deepEqual(await waiting, { code: null, signal: 'SIGKILL', oomKilled: false })
    assert.equal(c.state, 'stopped')
    assert.deepEqual(await c.wait(), { code: null, signal: 'SIGKILL', oomKilled: false }, 'wait again: same result')
  } finally {
    c.delete({ force: true })
  }
  assert.equal(c.state, 'deleted')
  assert.ok(!fs.existsSync(path.join(root, c.id)))
  c.delete() // twice is harmless
})

test('Container: kill by number and by short name; a handler in the container sees it', async () => {
  const c = Container.create({ args: ['sh', '-c', 'trap "exit 42" TERM; while :; do sleep 0.05; done'], root })
  c.start()
  await new Promise((r) => setTimeout(r, 200))
  c.kill('term')
  assert.equal((await c.wait()).code, 42)
  c.delete()
  const d = Container.create({ args: ['sleep', '60'], root })
  d.start()
  d.kill(9)
  assert.equal((await d.wait()).signal, 'SIGKILL')
  d.delete()
})

test('Container: delete({force}) of a created (never started) container', async () => {
  const c = Container.create({ args: ['true'], root })
  assert.equal(c.state, 'created')
  c.delete({ force: true })
  assert.equal(c.state, 'deleted')
})

test('Container: stdio pipes are streams', async () => {
  const c = Container.create({ args: ['sh', '-c', 'read x; echo "got $x"; echo oops >&2'], root, stdio: ['pipe', 'pipe', 'pipe'] })
  assert.ok(c.stdout === c.stdout, 'the same stream each time')
  const chunks = { out: '', err: '' }
  c.stdout.setEncoding('utf8').on('data', (d) => (chunks.out += d))
  c.stderr.setEncoding('utf8').on('data', (d) => (chunks.err += d))
  const done = Promise.all([new Promise((r) => c.stdout.on('end', r)), new Promise((r) => c.stderr.on('end', r))])
  c.start()
  c.stdin.end('line\n')
  assert.equal((await c.wait()).code, 0)
  await done
  assert.deepEqual(chunks, { out: 'got line\n', err: 'oops\n' })
  c.delete()
  const d = Container.create({ args: ['true'], root })
  assert.equal(d.stdout, null)
  d.delete({ force: true })
})

test('the default state root works', async () => {
  const r = await run(['true'])
  assert.equal(r.code, 0)
})

test('wait() resolves once the piped output being read has ended (as child_process "close")', async () => {
  // Before, wait() could resolve before libuv had read the last bytes: 2 of 40 came out short.
  let short = 0
  for (let i = 0; i < 30; i++) {
    const c = Container.create({ args: ['sh', '-c', 'echo hi; echo err >&2'], stdio: ['ignore', 'pipe', 'pipe'], root })
    let out = ''
    let err = ''
    c.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    c.stderr.setEncoding('utf8').on('data', (d) => (err += d))
    c.start()
    assert.equal((await c.wait()).code, 0)
    if (out !== 'hi\n' || err !== 'err\n') short++
    c.delete()
  }
  const box = Container.create({ args: ['sleep', '60'], root })
  box.start()
  try {
    for (let i = 0; i < 30; i++) {
      const p = box.exec(['sh', '-c', 'echo hi'], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      p.stdout.setEncoding('utf8').on('data', (d) => (out += d))
      await p.wait()
      if (out !== 'hi\n') short++
    }
    // A piped stream nobody reads is not waited for.
    const quiet = Container.create({ args: ['echo', 'unread'], stdio: ['ignore', 'pipe', 'inherit'], root })
    assert.ok(quiet.stdout)
    quiet.start()
    assert.equal((await quiet.wait()).code, 0)
    quiet.stdout.destroy()
    quiet.delete()
  } finally {
    box.kill('KILL')
    await box.wait()
    box.delete()
  }
  assert.equal(short, 0, `${short} of 60 waits resolved before their output had been read`)
})

test('wait({ timeout, signal }) kills the process and rejects once it has ended', async () => {
  const c = Container.create({ args: ['sleep', '60'], root })
  c.start()
  const t0 = Date.now()
  await assert.rejects(c.wait({ timeout: 200 }), (e) => {
    assert.equal(e.code, 'ETIMEDOUT')
    assert.deepEqual(e.result, { code: null, signal: 'SIGKILL', oomKilled: false, timedOut: true })
    return true
  })
  assert.ok(Date.now() - t0 < 5000)
  assert.equal(c.state, 'stopped')
  c.delete()

  const box = Container.create({ args: ['sleep', '60'], root })
  box.start()
  try {
    const p = box.exec(['sleep', '60'])
    const ac = new AbortController()
    setTimeout(() => ac.abort(new Error('user left')), 100)
    await assert.rejects(p.wait({ signal: ac.signal }), (e) => {
      assert.equal(e.name, 'AbortError')
      assert.equal(e.code, 'ABORT_ERR')
      assert.equal(e.cause.message, 'user left')
      assert.equal(e.result.signal, 'SIGKILL')
      return true
    })
    // An already aborted signal kills at once; a process that ends in time resolves as usual.
    const q = box.exec(['sleep', '60'])
    await assert.rejects(q.wait({ signal: AbortSignal.abort() }), { name: 'AbortError' })
    const ok = box.exec(['true'])
    assert.equal((await ok.wait({ timeout: 10000 })).code, 0)
    await assert.rejects(ok.wait({ timout: 5 }), { code: 'EINVAL', message: /unknown option "timout"/ })
    await assert.rejects(ok.wait({ timeout: -1 }), { code: 'EINVAL', message: /options\.timeout/ })
    await assert.rejects(ok.wait({ signal: 'stop' }), { code: 'EINVAL', message: /AbortSignal/ })
  } finally {
    box.kill('SIGKILL')
    await box.wait()
    box.delete()
  }
})

test('user by name, as docker run -u: from the container\'s /etc/passwd and /etc/group', async () => {
  const r = await run(['sh', '-c', 'id -u; id -g'], { root, capture: true, user: 'nobody' })
  assert.deepEqual(r.stdout.split(/\s+/).filter(Boolean), ['65534', '65534'], r.stderr)
  const g = await run(['id', '-g'], { root, capture: true, user: 'nobody:daemon' })
  assert.equal(g.stdout.trim(), '1', g.stderr)
})

test('wait({ timeout }) is bounded even when a background process holds the output pipe', async () => {
  // No pid namespace: the background sleep outlives sh and keeps stdout open.
  const c = Container.create({ args: ['sh', '-c', 'sleep 30 & echo started'], namespaces: ['mount'], stdio: ['ignore', 'pipe', 'inherit'], root })
  let out = ''
  c.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  c.start()
  const t0 = Date.now()
  const st = await c.wait({ timeout: 1500 })
  assert.ok(Date.now() - t0 < 10000, 'wait() was not bounded')
  assert.equal(st.code, 0, 'sh ended by itself: its status, not a timeout')
  assert.equal(out, 'started\n')
  c.stdout.destroy()
  c.delete({ force: true }) // also ends the background sleep left in its cgroup
  await assert.rejects(c.wait({ timeout: 2 ** 31 }), { code: 'EINVAL', message: /2147483647/ })
})

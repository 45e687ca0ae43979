'use strict'
// Escapes towards the host that go through the Node host itself: its terminal and its binary.
// The terminal: a Node process whose controlling terminal is a pty (made by a small Python
// harness: Node has no pty module) calls run() with stdio: 'inherit'; the container tries to push
// a command line into that terminal's input with TIOCSTI. The input queue must stay empty, and
// the container's output must still reach the terminal.
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { stateRoot, removeRoot } = require('./helpers')

const INJECT = `
import fcntl, termios
for fd in (0, 1, 2):
    for steal in (False, True):
        try:
            if steal:
                fcntl.ioctl(fd, termios.TIOCSCTTY, 1)
            for c in b"echo INJECTED\\n":
                fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
            print("fd", fd, "steal", steal, "INJECTED-OK", flush=True)
        except OSError as e:
            print("fd", fd, "steal", steal, "refused", e.errno, flush=True)
`

// Runs argv on a new pty (its stdio and controlling terminal); prints what the pty showed,
// then PENDING <bytes left in the terminal's input queue> RC <exit status>.
const HARNESS = `
import os, sys, fcntl, termios, struct, select, subprocess
master, slave = os.openpty()
def pre():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
p = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, preexec_fn=pre)
out = b''
while True:
    r, _, _ = select.select([master], [], [], 0.1)
    if r:
        try:
            out += os.read(master, 4096)
        except OSError:
            break
    elif p.poll() is not None:
        break
p.wait()
pending = struct.unpack('i', fcntl.ioctl(slave, termios.FIONREAD, b'\\0\\0\\0\\0'))[0]
sys.stdout.write(out.decode(errors='replace'))
print('PENDING', pending, 'RC', p.returncode)
`

test("run() with stdio 'inherit' does not hand the caller's terminal to the container", () => {
  const root = stateRoot('tty')
  try {
    const script = `
      const { run } = require(${JSON.stringify(path.join(__dirname, '..'))})
      ;(async () => {
        const r = await run(['python3', '-c', ${JSON.stringify(INJECT)}], { root: ${JSON.stringify(root)}, stdio: 'inherit' })
        console.log('code ' + r.code)
        const r7 = await run(['sh', '-c', 'exit 7'], { root: ${JSON.stringify(root)}, stdio: 'inherit' })
        console.log('exit7 ' + r7.code)
      })()`
    const res = spawnSync('python3', ['-c', HARNESS, process.execPath, '-e', script], { encoding: 'utf8', timeout: 60000 })
    const out = res.stdout + res.stderr
    assert.match(out, /fd 0 steal False/, `the injection did not run:\n${out}`)
    assert.doesNotMatch(out, /INJECTED-OK/, `TIOCSTI reached the caller's terminal:\n${out}`)
    assert.match(out, /PENDING 0 RC 0/, `input was pushed into the caller's terminal:\n${out}`)
    assert.match(out, /exit7 7/, out)
  } finally {
    removeRoot(root)
  }
})

test('a container cannot run the host node through /proc/self/exe', async () => {
  const { run } = require('..')
  const root = stateRoot('exe')
  try {
    const r = await run(['/proc/self/exe', '-e', "console.log('HOST NODE RAN')"], { root, capture: true })
    assert.doesNotMatch(r.stdout, /HOST NODE RAN/)
    assert.strictEqual(r.code, 127)
  } finally {
    removeRoot(root)
  }
})

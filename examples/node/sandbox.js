// A code sandbox: run untrusted shell code under the sandbox preset (no network, a read-only
// root, no capabilities, nobody's uid, limits) with a timeout; stream its output line by line
// while the event loop stays free.
//   node examples/node/sandbox.js 'for i in 1 2 3; do echo $i; sleep 0.1; done'   (as root)
'use strict'
const readline = require('node:readline')
const { Container } = require('../../bindings-node')

async function sandbox(code, { timeoutMs = 5000 } = {}) {
  const c = Container.create({
    args: ['sh', '-c', code],
    sandbox: true, // nobody, no capabilities, read-only root and a 64 MiB /tmp, only lo, 64 processes
    memory: '128M', // options given with the preset win
    cpus: 0.5,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    readline.createInterface({ input: c.stdout }).on('line', (l) => console.log(`[out] ${l}`))
    readline.createInterface({ input: c.stderr }).on('line', (l) => console.log(`[err] ${l}`))
    c.start()
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs)
    const status = await c.wait()
    clearTimeout(timer)
    const st = c.stats() // the cgroup's accounting stays readable until delete()
    console.log(`cpu ${(st.cpuUsageNs / 1e6).toFixed(1)} ms, peak memory ${(st.memoryPeak / 1048576).toFixed(1)} MiB, oom kills ${st.oomKills}`)
    return status
  } finally {
    c.delete({ force: true })
  }
}

sandbox(process.argv[2] || 'echo "uid $(id -u) on $(hostname)"; ls /sys/class/net; echo bye >&2').then(
  (status) => console.log('exit', status),
  (err) => {
    console.error(`${err.code}: ${err.message}`)
    process.exitCode = 1
  },
)

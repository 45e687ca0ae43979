'use strict'
// The Node rows of bench/bindings.sh: rcontainer's run() with capture next to child_process.spawn
// of `unshare -fp --mount-proc` doing the same (`sh -c 'echo hi'`), sequential (interleaved in
// rounds) and 50 at once, and the peak memory of capturing `yes` for 2 s.
// usage: node bindings_node.js STATE_ROOT [SEQUENTIAL=200] [CONCURRENT=50]
const { spawn, execFileSync } = require('node:child_process')
const path = require('node:path')
const { run } = require(path.join(__dirname, '..', 'bindings-node'))

const root = process.argv[2]
const seq = Number(process.argv[3] || 200)
const conc = Number(process.argv[4] || 50)
const CMD = ['sh', '-c', 'echo hi']

async function rc() {
  const r = await run(CMD, { capture: true, root })
  if (r.stdout !== 'hi\n') throw new Error(JSON.stringify(r))
}
async function rcSame() {
  // What unshare -fp --mount-proc makes: pid and mount namespaces only (and the default root).
  const r = await run(CMD, { capture: true, root, namespaces: ['pid', 'mount'] })
  if (r.stdout !== 'hi\n') throw new Error(JSON.stringify(r))
}
function sp() {
  return new Promise((resolve, reject) => {
    const p = spawn('unshare', ['-fp', '--mount-proc', ...CMD])
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.resume()
    p.on('close', (code) => (code === 0 && out === 'hi\n' ? resolve() : reject(new Error(`unshare: ${code} ${out}`))))
  })
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length

async function main() {
  await rc()
  await rcSame()
  await sp()
  const t = { 'rcontainer run()': [], 'run() (pid+mount ns)': [], 'child_process.spawn(unshare)': [] }
  for (let r = 0; r < 4; r++) {
    for (let i = 0; i < seq / 4; i++) {
      let s = performance.now()
      await rc()
      t['rcontainer run()'].push(performance.now() - s)
      s = performance.now()
      await rcSame()
      t['run() (pid+mount ns)'].push(performance.now() - s)
      s = performance.now()
      await sp()
      t['child_process.spawn(unshare)'].push(performance.now() - s)
    }
  }
  console.log(`node, ${seq} sequential runs with capture, per container:`)
  for (const [k, v] of Object.entries(t)) console.log(`  ${k.padEnd(30)} median ${median(v).toFixed(2).padStart(7)} ms  mean ${mean(v).toFixed(2).padStart(7)} ms`)
  const base = median(t['child_process.spawn(unshare)'])
  console.log(`  ratio rcontainer / unshare: ${(median(t['rcontainer run()']) / base).toFixed(2)} (default container), ${(median(t['run() (pid+mount ns)']) / base).toFixed(2)} (the same namespaces)`)
  const w = { 'rcontainer run()': [], 'child_process.spawn(unshare)': [] }
  for (let r = 0; r < 3; r++) {
    for (const [k, f] of [['rcontainer run()', rc], ['child_process.spawn(unshare)', sp]]) {
      const s = performance.now()
      await Promise.all(Array.from({ length: conc }, f))
      w[k].push(performance.now() - s)
    }
  }
  console.log(`node, ${conc} at once (Promise.all), wall time per container (median of 3):`)
  for (const [k, v] of Object.entries(w)) console.log(`  ${k.padEnd(30)} ${(median(v) / conc).toFixed(2).padStart(7)} ms  (${median(v).toFixed(0)} ms in all)`)
  const peak = execFileSync(process.execPath, ['-e', `
    const { run } = require(${JSON.stringify(path.join(__dirname, '..', 'bindings-node'))})
    run(['yes'], { capture: true, timeout: 2000, root: ${JSON.stringify(root)} }).catch((e) => console.log(e.stdout.length, Math.round(process.resourceUsage().maxRSS / 1024)))`], { encoding: 'utf8' }).trim().split(' ')
  console.log(`node, capturing yes for 2 s: ${Number(peak[0]) >> 20} MiB kept, peak RSS ${peak[1]} MiB`)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})

'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

if (process.getuid() !== 0) {
  // Real containers need root; say so instead of passing silently.
  console.error('rcontainer tests create real namespaces and mounts: run them as root')
  process.exit(1)
}

/** A fresh state root for one test file, so "nothing left behind" can be checked exactly. */
function stateRoot(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rcontainer-node-${name}-`))
  // The embedded default root lives under the state root: a user namespace's root must reach it.
  fs.chmodSync(dir, 0o711)
  return dir
}

/** Container state dirs under a root (the shared default-root skeleton is a dot entry). */
function stateDirs(root) {
  return fs.readdirSync(root).filter((n) => !n.startsWith('.'))
}

function alive(pid) {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return e.code !== 'ESRCH'
  }
  // A zombie still answers kill(0): look at its state.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

function removeRoot(root) {
  fs.rmSync(root, { recursive: true, force: true })
}

/** Cgroup directories (any hierarchy) left for containers whose id starts with `prefix`. */
function leftoverCgroups(prefix) {
  const out = []
  const walk = (dir, depth) => {
    let entries
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue
      const p = path.join(dir, e.name)
      if (e.name.startsWith(`rcontainer-${prefix}`)) out.push(p)
      else if (depth < 6) walk(p, depth + 1)
    }
  }
  walk('/sys/fs/cgroup', 0)
  return out
}

module.exports = { stateRoot, stateDirs, alive, removeRoot, leftoverCgroups }

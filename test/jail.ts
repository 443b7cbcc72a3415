// A jail for the lifecycle tests: a temporary root, recording stand-ins on PATH (test/standins.ts), a
// Consul agent stand-in that knows a leader, and a loopback MYIP of its own for the patroni stand-in's REST API.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Test } from 'tap'
import { statePaths, type StartOptions } from '../cook/lifecycle.js'
import { StepLog } from '../cook/log.js'
import { validate, type RawParams } from '../cook/params.js'
import { basicEnv, tempDir } from './helpers.js'
import { consulStandIn, listenPatroni, standIns, type ConsulStandIn, type StandIns } from './standins.js'

export const SECRETS = {
  ADMPASS: `adm'in "pa$$ word" \`x\``,
  KEKPASS: 'kek-S3cret-$(id)-&-#',
  CONSULTOKEN: '6f1b2c3d-aaaa-bbbb-cccc-0123456789ab',
}

let nextHost = 1
/** Loopback addresses no other test process uses: test files run in parallel and Patroni's port is fixed. */
const NET = `127.${(process.pid >> 8) & 255}.${process.pid & 255}`

export interface Jail {
  root: string
  s: StandIns
  consul: ConsulStandIn
  out: string[]
  raw: Record<string, string>
  opts: (extra?: Partial<StartOptions>) => StartOptions
  params: (over?: Record<string, string>) => ReturnType<typeof validate>
  logText: () => string
}

/** A jail root, stand-ins, and a Consul stand-in that knows a leader; MYIP is a loopback address of its own. */
export async function jail(t: Test, over: Record<string, string> = {}): Promise<Jail> {
  const root = tempDir(t, 'cook-jail-')
  const s = standIns(tempDir(t, 'cook-standins-'), { root })
  const consul = await consulStandIn()
  t.teardown(async () => {
    s.killAll()
    await consul.close()
  })
  const myip = `${NET}.${nextHost++}`
  listenPatroni(s, myip)
  const out: string[] = []
  const raw = { ...basicEnv(), CONSULACL: 'on', ...SECRETS, MYIP: myip, ...over }
  const log = new StepLog({ out: (l) => out.push(l), file: statePaths(root).cookLog })
  return {
    root,
    s,
    consul,
    out,
    raw,
    opts: (extra = {}) => ({
      sys: s.sys,
      log,
      root,
      owners: 'record',
      consulHttp: consul.url,
      pollMs: 50,
      timeouts: { consulLeaderMs: 5000, patroniLiveMs: 10_000, clusterExistsMs: 5000 },
      ...extra,
    }),
    params: (o = {}) => validate({ ...raw, ...o } as RawParams, { allowLoopback: true }),
    logText: () => readFileSync(statePaths(root).cookLog, 'utf8'),
  }
}

/** Every file under the root with a hash of its content, its mode and mtime: what "no change" compares. */
export function snapshot(root: string, skip = [statePaths('/').cookLog]): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name)
      const st = statSync(full)
      const rel = `/${relative(root, full)}`
      if (skip.includes(rel)) continue
      if (st.isDirectory()) {
        out[rel] = `dir ${st.mode.toString(8)}`
        walk(full)
      } else
        out[rel] =
          `${createHash('sha256').update(readFileSync(full)).digest('hex')} ${st.mode.toString(8)} ${st.mtimeMs}`
    }
  }
  walk(root)
  return out
}

/** The calls that change something: sysrc writes and service actions other than status. */
export const actions = (calls: string[]) =>
  calls.filter((c) => !c.startsWith('sysrc -q -n ') && !/^service \S+ (one)?status$/.test(c))

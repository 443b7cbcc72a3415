// Reads nomad/*.hcl with a real HCL2 parser (@cdktf/hcl2json) and expands the job's one dynamic
// "group" block for each member of a variables file, the way `nomad job run -var-file` would for the
// few expression forms the job uses. Any other expression is an error, not a guess.
import { readFileSync } from 'node:fs'
import { parse } from '@cdktf/hcl2json'

export const JOB_FILE = new URL('../nomad/patroni-postgresql.nomad.hcl', import.meta.url)
export const VARS_FILE = new URL('../nomad/cluster.vars.hcl.example', import.meta.url)

export type Body = Record<string, unknown>

export function asBody(v: unknown, what: string): Body {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} is not a block body`)
  return v as Body
}

/** hcl2json writes every block as a list of bodies; these are that list (empty when absent). */
export function blocks(parent: Body, name: string): Body[] {
  const list = parent[name]
  if (list === undefined) return []
  if (!Array.isArray(list)) throw new Error(`${name} is not a block`)
  return list.map((b, i) => asBody(b, `${name}[${i}]`))
}

/** The one block of this type. */
export function block(parent: Body, name: string): Body {
  const list = blocks(parent, name)
  if (list.length !== 1) throw new Error(`want exactly one ${name} block, found ${list.length}`)
  return list[0] as Body
}

/** Labelled blocks (job "x", task "y"): label -> body. */
export function labelled(parent: Body, name: string): Record<string, Body> {
  const out: Record<string, Body> = {}
  for (const [label, list] of Object.entries(asBody(parent[name] ?? {}, name))) {
    if (!Array.isArray(list) || list.length !== 1) throw new Error(`${name} "${label}" is declared twice`)
    out[label] = asBody(list[0], `${name} "${label}"`)
  }
  return out
}

export interface JobFile {
  text: string
  json: Body
  /** The job's id (its label) and body. */
  id: string
  job: Body
  /** The content of `dynamic "group"`, its for_each and labels. */
  dynamicGroup: Body
  group: Body
  taskName: string
  task: Body
  /** Declared variables: name -> default (undefined when the variable has none). */
  variables: Record<string, { default: unknown; hasDefault: boolean }>
}

export async function loadJob(): Promise<JobFile> {
  const text = readFileSync(JOB_FILE, 'utf8')
  const json = asBody(await parse('patroni-postgresql.nomad.hcl', text), 'file')
  const jobs = Object.entries(labelled(json, 'job'))
  if (jobs.length !== 1) throw new Error(`want one job, found ${jobs.length}`)
  const [id, job] = jobs[0] as [string, Body]
  const dyn = blocks(asBody(job.dynamic ?? {}, 'dynamic'), 'group')
  if (dyn.length !== 1) throw new Error(`want one dynamic "group" block, found ${dyn.length}`)
  const dynamicGroup = dyn[0] as Body
  const group = block(dynamicGroup, 'content')
  const tasks = Object.entries(labelled(group, 'task'))
  if (tasks.length !== 1) throw new Error(`want one task per member, found ${tasks.length}`)
  const [taskName, task] = tasks[0] as [string, Body]
  const variables: JobFile['variables'] = {}
  for (const [name, body] of Object.entries(labelled(json, 'variable')))
    variables[name] = { default: body.default, hasDefault: 'default' in body }
  return { text, json, id, job, dynamicGroup, group, taskName, task, variables }
}

export async function loadVars(url: URL = VARS_FILE): Promise<{ text: string; values: Body }> {
  const text = readFileSync(url, 'utf8')
  return { text, values: asBody(await parse('cluster.vars.hcl', text), 'variables file') }
}

/** What one dynamic iteration sees: the variables, the member (group.value) and its index (group.key). */
export interface Scope {
  vars: Record<string, unknown>
  member: Record<string, string>
  index: number
}

const INTERPOLATION = /\$\{([^}]*)\}/g

/** Evaluates the expression forms the job uses; Nomad's runtime interpolations (attr.*) stay as text. */
function expr(e: string, s: Scope): unknown {
  let m: RegExpExecArray | null
  if ((m = /^var\.(\w+)$/.exec(e))) {
    const name = m[1] as string
    if (!(name in s.vars)) throw new Error(`var.${name} has no value`)
    return s.vars[name]
  }
  if ((m = /^group\.value\.(\w+)$/.exec(e))) {
    const v = s.member[m[1] as string]
    if (v === undefined) throw new Error(`member ${s.index} has no "${m[1]}"`)
    return v
  }
  if (e === 'group.key') return s.index
  if ((m = /^"([^"\\$]*)"$/.exec(e))) return m[1]
  if ((m = /^lookup\(group\.value, "(\w+)", (.+)\)$/.exec(e)))
    return s.member[m[1] as string] ?? expr(m[2] as string, s)
  if ((m = /^join\("([^"]*)", (.+)\)$/.exec(e))) {
    const list = expr(m[2] as string, s)
    if (!Array.isArray(list)) throw new Error(`join() of a non-list in ${e}`)
    return list.join(m[1])
  }
  if ((m = /^group\.key == (\d+) \? "([^"]*)" : "([^"]*)"$/.exec(e)))
    return s.index === Number(m[1]) ? m[2] : m[3]
  if (/^(attr|node|meta)\./.test(e)) return `\${${e}}`
  throw new Error(`the test cannot evaluate \${${e}}: extend test/nomad-job.ts`)
}

/** Evaluates a value from hcl2json: a whole-string `${x}` keeps x's type, other strings interpolate. */
export function evaluate(value: unknown, s: Scope): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{([^}]*)\}$/.exec(value)
    if (whole) return expr(whole[1] as string, s)
    return value.replace(INTERPOLATION, (_, e: string) => String(expr(e, s)))
  }
  if (Array.isArray(value)) return value.map((v) => evaluate(v, s))
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluate(v, s)]))
  return value
}

/** The job's variables as `nomad job run -var-file` would see them: defaults, then the file. */
export function variableValues(job: JobFile, file: Body): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(job.variables)) if (v.hasDefault) out[name] = v.default
  return { ...out, ...file }
}

/** One Scope per member of var.members. */
export function memberScopes(vars: Record<string, unknown>): Scope[] {
  const members = vars.members
  if (!Array.isArray(members)) throw new Error('var.members is not a list')
  return members.map((m, index) => ({
    vars,
    member: asBody(m, `member ${index}`) as Record<string, string>,
    index,
  }))
}

/** Seconds of a Nomad duration such as "45s", "2m", "1h30m". */
export function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 }
  const parts = [...duration.matchAll(/(\d+)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration)
    throw new Error(`"${duration}" is not a duration`)
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0)
}

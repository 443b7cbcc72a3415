// Generates the parameter documentation from the schema (cook/params.ts): the README table between
// <!-- params:begin --> and <!-- params:end -->, and pot.conf.example. `npm run docs` writes both;
// test/unit/docs.test.ts fails when either drifts from the schema. `npm run bench` writes its table into
// DEVELOPMENT.md between <!-- bench:begin --> and <!-- bench:end --> through withBenchTable.
import { readFileSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { PARAM_NAMES, PARAMS, type ParamName } from '../cook/params.js'
import { PORTS } from '../cook/ports.js'

export const README = new URL('../README.md', import.meta.url)
export const POT_CONF_EXAMPLE = new URL('../pot.conf.example', import.meta.url)
/** The development document: the dev cluster, the tests, and the Performance table the bench writes. */
export const DEVELOPMENT = new URL('../DEVELOPMENT.md', import.meta.url)

function required(name: ParamName): string {
  const spec = PARAMS[name]
  if (spec.required === true) return 'yes'
  return spec.requiredDoc ?? 'no'
}

const cell = (text: string) => text.replace(/\|/g, '\\|')

/** The README's parameter table, one row per parameter of the schema. */
export function paramTable(): string {
  const rows = PARAM_NAMES.map((name) => {
    const spec = PARAMS[name]
    const title = spec.aliases?.length
      ? `\`${name}\` (alias ${spec.aliases.map((a) => `\`${a}\``).join(', ')})`
      : `\`${name}\``
    const secret = spec.secret ? `yes, or \`${name}_B64\`` : 'no'
    return `| ${[title, required(name), spec.defaultDoc ?? '', secret, spec.doc, spec.want].map(cell).join(' | ')} |`
  })
  return [
    '| name | required | default | secret | what it is | valid values |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n')
}

/** README.md with its parameter table replaced by the generated one. */
export function withParamTable(readme: string): string {
  return withBlock(readme, 'params', paramTable())
}

/** A document with the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` replaced. */
function withBlock(doc: string, name: string, block: string): string {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  const b = doc.indexOf(begin)
  const e = doc.indexOf(end)
  if (b < 0 || e < b) throw new Error(`the document lacks the ${begin} ... ${end} markers`)
  return `${doc.slice(0, b + begin.length)}\n${block}\n${doc.slice(e)}`
}

/** DEVELOPMENT.md with the bench's Performance table in place of the last one. */
export function withBenchTable(doc: string, table: string): string {
  return withBlock(doc, 'bench', table)
}

/** A pot.env line exactly as `pot set-env -E NAME=value` writes it: only `"` is escaped. */
function potEnv(name: string, value: string): string {
  return `pot.env="${`${name}=${value}`.replace(/"/g, '\\"')}"`
}

/** pot.conf of the downloaded image, with one commented pot.env line per parameter. */
export function potConfExample(): string {
  const params = PARAM_NAMES.flatMap((name) => {
    const spec = PARAMS[name]
    const notes = [
      spec.required === true ? 'required' : spec.requiredDoc ? `required ${spec.requiredDoc}` : 'optional',
      spec.defaultDoc ? `default: ${spec.defaultDoc}` : '',
      spec.aliases?.length ? `alias ${spec.aliases.join(', ')}` : '',
      spec.secret ? `secret: safest as ${name}_B64, the value in base64` : '',
    ].filter(Boolean)
    return [
      `# ${name}: ${spec.doc} (${notes.join('; ')})`,
      `# want: ${spec.want}`,
      `# ${potEnv(name, spec.example)}`,
      '',
    ]
  })
  return [
    '# pot.conf of a downloaded patroni-postgresql image (<pot root>/jails/<pot>/conf/pot.conf), as pot',
    '# writes it, followed by every parameter cook reads. Generated from cook/params.ts by `npm run docs`.',
    '#',
    '# Set parameters with `pot set-env -p <pot> -E NAME=value ...` (it replaces every pot.env line), or',
    '# uncomment and edit the lines below. Only `"` is escaped (as \\"): `$`, backticks and `\\` are not, and',
    '# a value cannot hold a line break. Give secrets as NAME_B64 (base64) to keep them intact; see the',
    '# README, "Getting values into the jail safely". Required parameters have no default: cook stops with',
    '# exit status 78 and one line per problem until they are all valid.',
    'pot.level=0',
    'pot.type=single',
    'pot.base=15.1',
    'pot.potbase=',
    'pot.dns=inherit',
    'pot.cmd=sh /etc/rc',
    'host.hostname="patroni-postgresql-amd64-15_1.pg1"',
    'osrelease="15.1-RELEASE"',
    'pot.attr.no-rc-script=NO',
    'pot.attr.persistent=YES',
    'pot.attr.start-at-boot=NO',
    'pot.attr.prunable=NO',
    'pot.attr.no-tmpfs=NO',
    '# pot >= 0.16.0: the jail runs `cook stop` (the cook-stop wrapper) before it SIGTERMs all its processes,',
    '# so Patroni hands the leader key over first; stop_timeout must exceed STOPTIMEOUT.',
    'pot.attr.exec_stop=/usr/local/bin/cook-stop',
    'pot.attr.stop_timeout=30',
    'pot.stack=ipv4',
    'network_type=public-bridge',
    'vnet=true',
    'ip=10.0.0.11',
    `pot.export.ports=${[PORTS.postgres, PORTS.patroniRest, PORTS.nodeExporter].map((p) => `${p}:${p}`).join(' ')}`,
    '',
    ...params,
  ].join('\n')
}

function main(): void {
  const readme = readFileSync(README, 'utf8')
  writeFileSync(README, withParamTable(readme))
  writeFileSync(POT_CONF_EXAMPLE, potConfExample())
  process.stdout.write('README.md parameter table and pot.conf.example written from cook/params.ts\n')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main()

// Values that break naive quoting, and the real parsers that read what the cook writes.
import { spawnSync } from 'node:child_process'
import { parse as parseHcl } from '@cdktf/hcl2json'
import { parse as parseYaml } from 'yaml'

/** One value per trap: YAML indicators and booleans, shell and HCL interpolation, SQL quotes, controls. */
export const HOSTILE: readonly string[] = [
  `it's "quoted"`,
  "'",
  '"',
  'a:b',
  'key: value',
  '# not a comment',
  'x #y',
  'back\\slash',
  'trailing\\',
  '\\"',
  'a&b',
  '&anchor',
  '*alias',
  '@at',
  '!tag',
  '!!str',
  '-dash',
  '- item',
  '? key',
  '|',
  '>folded',
  '%percent',
  '100%',
  '{{handlebars}}',
  '{{{triple}}}',
  '${interpolation}',
  '%{directive}',
  '$HOME $(id) `id`',
  '$$',
  '$cook$',
  'yes',
  'no',
  'on',
  'off',
  'null',
  '~',
  'true',
  'Y',
  '0750',
  '1e3',
  '0x1F',
  '12:30:00',
  '2024-01-01',
  ' leading',
  'trailing ',
  '  both  ',
  'tab\there',
  '\ttab first',
  '[list]',
  '{map: 1}',
  ',comma',
  "' OR '1'='1",
  'semi;colon',
  'ünïcödé',
  '日本語のパスワード',
  'emoji 😀🔑',
  'zero\u200bwidth',
  'nbsp\u00a0space',
  'del\u007f',
  'bell\u0007 backspace\b formfeed\f',
  'nel\u0085',
  'bom\ufeff',
  'escape\u001b[0m',
]

/** Values with line breaks: only ADMPASS may hold them (the others end up in a pgpass file). */
export const LINE_BREAKS: readonly string[] = [
  'new\nline',
  'crlf\r\nend',
  'cr\ronly',
  '\nleading newline',
  'trailing newline\n',
  'line\u2028separator',
  'para\u2029graph',
]

const PYYAML = 'import yaml,json,sys; print(json.dumps([yaml.safe_load(d) for d in json.load(sys.stdin)]))'

/** Parses YAML documents with PyYAML, as Patroni does (the Debian python3-yaml, not pyenv's python3). */
export function pyyaml(docs: string[]): unknown[] {
  const r = spawnSync('/usr/bin/python3', ['-c', PYYAML], {
    input: JSON.stringify(docs),
    encoding: 'utf8',
    env: { PYTHONIOENCODING: 'utf-8', LC_ALL: 'C.UTF-8' },
    maxBuffer: 64 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`PyYAML failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as unknown[]
}

/** Parses YAML with the yaml library in YAML 1.1 mode (PyYAML's dialect). */
export function yaml11(doc: string): unknown {
  return parseYaml(doc, { version: '1.1', uniqueKeys: true })
}

/** Parses HCL into JSON with @cdktf/hcl2json (HashiCorp's HCL 2 parser compiled to WebAssembly). */
export async function hcl2json(doc: string): Promise<Record<string, unknown>> {
  return (await parseHcl('agent.hcl', doc)) as Record<string, unknown>
}

/** A test name for a value: TAP is line-based, so every character outside printable ASCII is escaped. */
export function label(value: string): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/gu,
    (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`,
  )
}

/**
 * KEKPASS and ADMPASS have a minimum length (cook/params.ts): a trap shorter than it is repeated until it is
 * long enough, which keeps its first and last characters (a leading dash, a trailing backslash or space) and
 * every character in it. Whole-value traps ('yes', '~') cannot be such a password any more.
 */
export function longEnough(value: string, min = 16): string {
  const length = [...value].length
  return length >= min ? value : value.repeat(Math.ceil(min / Math.max(length, 1)))
}

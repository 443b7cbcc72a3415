// Quoting for each format the cook writes. Templates interpolate every value through one of these,
// so no value can break the syntax of the file around it, whatever characters it holds.

/** POSIX shell: one single-quoted word; a `'` becomes `'\''`. Safe in /bin/sh, dash and bash alike. */
export function sh(value: unknown): string {
  const text = scalarText(value, 'sh')
  if (text.includes('\0')) throw new Error('sh: a NUL byte cannot be in a shell word')
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/** JSON, as JSON.stringify writes it. */
export function json(value: unknown): string {
  requireValue(value, 'json')
  return JSON.stringify(value)
}

/**
 * YAML as PyYAML (YAML 1.1) reads it: JSON's double-quoted form, plus escapes for what YAML 1.1 treats as
 * a line break (NEL, U+2028, U+2029) or refuses as unprintable (DEL, C1 controls, U+FFFE, U+FFFF).
 * Strings are always quoted, so `on`, `no`, `null`, `0750` or `15s` stay strings.
 */
export function yaml(value: unknown): string {
  requireValue(value, 'yaml')
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029\ufffe\uffff]/g, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/**
 * HCL 2 (Nomad job files): a quoted template string with `${` and `%{` escaped; lists and numbers as in JSON.
 * HCL 2 knows no `\b` or `\f` escape, so those two controls are written as `\uXXXX` like the others.
 */
export function hcl(value: unknown): string {
  requireValue(value, 'hcl')
  if (Array.isArray(value)) return `[${value.map(hcl).join(', ')}]`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  // A function, not a replacement string: in one, `$$` would stand for a single `$`.
  return hclString(String(value)).replace(/([$%])\{/g, (_, c: string) => `${c}${c}{`)
}

/**
 * HCL 1, as the Consul agent reads its configuration (hashicorp/hcl v1). HCL 1 has no escape for `${`: it
 * opens an interpolation that runs to the matching `}`, quotes included, and `$${` stays `$${`. So a value
 * holding `${` (or `%{`, a directive in HCL 2) is refused. Everything else is written in the part of the
 * syntax both versions read alike, which lets tests check the file with an HCL 2 parser.
 */
export function hcl1(value: unknown): string {
  requireValue(value, 'hcl1')
  if (Array.isArray(value)) return `[${value.map(hcl1).join(', ')}]`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  const text = String(value)
  if (/[$%]\{/.test(text)) throw new Error('hcl1: "${" and "%{" cannot be written in an HCL 1 string')
  return hclString(text)
}

function hclString(text: string): string {
  // Escape pairs are matched as pairs, so the "\\b" of a backslash followed by "b" stays as it is.
  return JSON.stringify(text).replace(/\\(.)/g, (pair, c: string) =>
    c === 'b' ? '\\u0008' : c === 'f' ? '\\u000c' : pair,
  )
}

/**
 * An INI value as pgBackRest reads its configuration: everything after `=` to the end of the line, with no
 * quoting and no escapes. So nothing can be quoted: a value that would change the file's meaning (a line
 * break, blanks that would be trimmed, a NUL) is refused; the schema keeps such values out.
 */
export function ini(value: unknown): string {
  const text = scalarText(value, 'ini')
  if (/[\0\r\n]/.test(text) || text !== text.trim() || text === '')
    throw new Error('ini: a value must be one non-empty line without surrounding blanks')
  return text
}

/** An SQL string literal with standard_conforming_strings (the default since PostgreSQL 9.1). */
export function sql(value: unknown): string {
  const text = scalarText(value, 'sql')
  if (text.includes('\0')) throw new Error('sql: a NUL byte cannot be in an SQL string')
  return `'${text.replace(/'/g, "''")}'`
}

/** One field of a pgpass line: libpq's escapes for `\` and `:`. */
export function pgpass(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/:/g, '\\:')
}

function requireValue(value: unknown, helper: string): void {
  if (value === undefined || value === null) throw new Error(`${helper}: value is missing`)
}

function scalarText(value: unknown, helper: string): string {
  requireValue(value, helper)
  if (typeof value === 'object') throw new Error(`${helper}: wants a string or number, got an object`)
  return String(value)
}

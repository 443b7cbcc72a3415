// Quoting for each format the cook writes. Templates interpolate every value through one of these,
// so no value can break the syntax of the file around it, whatever characters it holds.

/** POSIX shell: one single-quoted word; a `'` becomes `'\''`. Safe in /bin/sh, dash and bash alike. */
export function sh(value: unknown): string {
  const text = scalarText(value, 'sh')
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

/** HCL (Consul, Nomad): a quoted template string with `${` and `%{` escaped; lists and numbers as in JSON. */
export function hcl(value: unknown): string {
  requireValue(value, 'hcl')
  if (Array.isArray(value)) return `[${value.map(hcl).join(', ')}]`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(String(value)).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{')
}

/** An SQL string literal with standard_conforming_strings (the default since PostgreSQL 9.1). */
export function sql(value: unknown): string {
  const text = scalarText(value, 'sql')
  if (text.includes('\0')) throw new Error('sql: a NUL byte cannot be in an SQL string')
  return `'${text.replace(/'/g, "''")}'`
}

function requireValue(value: unknown, helper: string): void {
  if (value === undefined || value === null) throw new Error(`${helper}: value is missing`)
}

function scalarText(value: unknown, helper: string): string {
  requireValue(value, helper)
  if (typeof value === 'object') throw new Error(`${helper}: wants a string or number, got an object`)
  return String(value)
}

// Every rendered YAML file is parsed back before anything is written: a template that produced invalid
// YAML stops the cook with the file, line and parser message, and writes nothing.
import { parseDocument } from 'yaml'
import { CookError } from './errors.js'
import type { Plan } from './plan.js'

export function verifyPlan(plan: Plan): void {
  const problems: string[] = []
  for (const file of plan.files) {
    if (file.format !== 'yaml') continue
    // YAML 1.1, as PyYAML (Patroni) reads it.
    const doc = parseDocument(file.content, { version: '1.1', prettyErrors: true, uniqueKeys: true })
    for (const error of doc.errors) problems.push(`${file.path}: ${error.message}`)
  }
  if (problems.length > 0) throw new CookError('CHECK_FAILED', problems.join('\n'))
}

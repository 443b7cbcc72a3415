// The package version: inlined by the bundler, read from package.json when run from source.
import { readFileSync } from 'node:fs'

declare const __COOK_VERSION__: string | undefined

export const VERSION: string =
  typeof __COOK_VERSION__ === 'string'
    ? __COOK_VERSION__
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
        .version

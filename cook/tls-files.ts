// The certificate files a member gets, and the paths its configuration files name. Each service reads its
// own copy with its own owner (PostgreSQL refuses a key that others can read; the Consul agent runs as
// consul): keys 0600, certificates 0640, in directories only their user can enter.
import { at, PATHS, type Layout } from './layout.js'
import type { Params } from './params.js'
import type { DirEntry, FileEntry } from './plan.js'

/** Paths (as the configuration files name them) of Patroni's and PostgreSQL's TLS files; null with TLS=off. */
export function patroniTls(p: Params, layout: Layout): { ca: string; cert: string; key: string } | null {
  if (p.TLS === 'off') return null
  return {
    ca: at(layout, PATHS.patroniCa),
    cert: at(layout, PATHS.patroniCert),
    key: at(layout, PATHS.patroniKey),
  }
}

/** The Consul agent's TLS files: the CA always; its own certificate only when it does not get one by auto_encrypt. */
export function consulTls(
  p: Params,
  layout: Layout,
): { ca: string; cert: string | null; key: string | null; autoEncrypt: boolean } | null {
  if (p.TLS === 'off') return null
  const own = p.CONSULAUTOENCRYPT === 'off'
  return {
    ca: at(layout, PATHS.consulCa),
    cert: own ? at(layout, PATHS.consulCert) : null,
    key: own ? at(layout, PATHS.consulKey) : null,
    autoEncrypt: !own,
  }
}

export function tlsDirsAndFiles(p: Params, layout: Layout): { dirs: DirEntry[]; files: FileEntry[] } {
  const { TLSCA: ca, TLSCERT: cert, TLSKEY: key } = p
  if (p.TLS === 'off' || ca === undefined || cert === undefined || key === undefined)
    return { dirs: [], files: [] }
  const pg = layout.pgUser
  const pem = (path: string, content: string, owner: string, section: FileEntry['section'], secret = false) =>
    ({
      path,
      content,
      mode: secret ? 0o600 : 0o640,
      owner,
      section,
      format: 'pem',
      ...(secret ? { secret: true } : {}),
    }) satisfies FileEntry
  // Section patroni: a changed certificate reloads Patroni, whose SIGHUP also reloads PostgreSQL (both
  // re-read their certificate files then); nothing restarts.
  const dirs: DirEntry[] = [{ path: PATHS.patroniTlsDir, mode: 0o750, owner: pg }]
  const files: FileEntry[] = [
    pem(PATHS.patroniCa, ca, pg, 'patroni'),
    pem(PATHS.patroniCert, cert, pg, 'patroni'),
    pem(PATHS.patroniKey, key, pg, 'patroni', true),
  ]
  if (p.DCS === 'consul') {
    const consul = layout.consulUser
    dirs.push({ path: PATHS.consulTlsDir, mode: 0o750, owner: consul })
    files.push(pem(PATHS.consulCa, ca, consul, 'consul'))
    if (p.CONSULAUTOENCRYPT === 'off')
      files.push(
        pem(PATHS.consulCert, cert, consul, 'consul'),
        pem(PATHS.consulKey, key, consul, 'consul', true),
      )
  }
  return { dirs, files }
}

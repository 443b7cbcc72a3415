// The exporters' listeners: node_exporter and postgres_exporter answer over TLS with the member's
// certificate (TLS=on) and only to the user `prometheus` with METRICSPASS (HTTP basic auth). Both read
// exporter-toolkit's --web.config.file (node_exporter >= 1.0, postgres_exporter >= 0.9; Debian 12 ships
// 1.5.0 and 0.11.1), which holds the certificate's paths and the password's bcrypt hash, never the
// password. Each exporter gets its own copy of the certificate and key, owned by its own user, so neither
// can read the other's files nor those of PostgreSQL and Patroni. exporter-toolkit reads the file again
// at each TLS handshake and request: a new certificate or password needs no restart.
import { createHmac } from 'node:crypto'
import bcrypt from 'bcryptjs'
import { at, PATHS, type Layout } from './layout.js'
import { authority } from './net.js'
import type { Params } from './params.js'
import type { DirEntry, FileEntry, Section } from './plan.js'
import { PORTS } from './ports.js'
import { renderTemplate } from './render.js'

/** The one user the exporters admit. */
export const METRICS_USER = 'prometheus'

/** bcrypt's cost (2^10 rounds, Go's bcrypt.DefaultCost); exporter-toolkit caches a verified login. */
export const BCRYPT_COST = 10

export function metricsScheme(p: Params): 'https' | 'http' {
  return p.TLS === 'off' ? 'http' : 'https'
}

/** Where node_exporter serves /metrics. */
export function nodeExporterUrl(p: Params): string {
  return `${metricsScheme(p)}://${authority(p.MYIP, PORTS.nodeExporter)}`
}

/** The Authorization header a scraper sends. */
export function metricsAuthHeader(p: Params): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${METRICS_USER}:${p.METRICSPASS}`).toString('base64')}` }
}

const hashes = new Map<string, string>()

/**
 * METRICSPASS's bcrypt hash, the same for both exporters (one hash per render: bcrypt is slow on purpose,
 * and the cook's start-up time is measured). The salt is fixed by the parameters, so a second run
 * renders the same file (nothing changes, nothing restarts), but it must not come from the password
 * itself: whoever reads the file could then test guesses with one HMAC instead of bcrypt. With TLS on it
 * comes from the member's private key, which the same exporter user reads anyway and which tells nothing
 * about any password. With TLS=off (no key) it comes from METRICSPASS: the password then crosses the
 * network in clear text at every scrape, so the salt would protect nothing more.
 */
export function metricsHash(p: Params): string {
  const key = p.TLS !== 'off' && p.TLSKEY !== undefined ? p.TLSKEY : p.METRICSPASS
  const salt = createHmac('sha256', key)
    .update(`metrics-bcrypt-salt/${p.SCOPE}/${p.NODENAME}`)
    .digest()
    .subarray(0, 16)
  const setting = `$2b$${BCRYPT_COST}$${bcrypt.encodeBase64(salt, 16)}`
  const memo = `${setting}\0${p.METRICSPASS}`
  let hash = hashes.get(memo)
  if (hash === undefined) {
    hash = bcrypt.hashSync(p.METRICSPASS, setting)
    hashes.set(memo, hash)
  }
  return hash
}

interface ExporterFiles {
  exporter: 'node_exporter' | 'postgres_exporter'
  owner: string
  section: Section
  web: string
  cert: string
  key: string
}

/** The web config's values: TLS (with TLS on) and the one basic-auth user. */
export function webConfigView(
  p: Params,
  layout: Layout,
  e: Pick<ExporterFiles, 'exporter' | 'cert' | 'key'>,
) {
  return {
    exporter: e.exporter,
    tls: p.TLS === 'off' ? null : { cert: at(layout, e.cert), key: at(layout, e.key) },
    user: METRICS_USER,
    hash: metricsHash(p),
  }
}

/** The exporters' web configs and certificate copies, and node_exporter's own directories. */
export function exporterWebFiles(p: Params, layout: Layout): { dirs: DirEntry[]; files: FileEntry[] } {
  const node = layout.nodeExporterUser
  const dirs: DirEntry[] = [
    { path: PATHS.nodeExporterDir, mode: 0o755, owner: 'root' },
    // daemon(8) runs as node_exporter's user (the port's script, rc.subr's su) and writes these itself.
    { path: PATHS.nodeExporterLogDir, mode: 0o750, owner: node },
    { path: PATHS.nodeExporterRunDir, mode: 0o750, owner: node },
  ]
  const exporters: ExporterFiles[] = [
    {
      exporter: 'node_exporter',
      owner: node,
      section: 'node_exporter',
      web: PATHS.nodeExporterWeb,
      cert: PATHS.nodeExporterCert,
      key: PATHS.nodeExporterKey,
    },
    {
      exporter: 'postgres_exporter',
      owner: layout.exporterUser,
      section: 'postgres_exporter',
      web: PATHS.exporterWeb,
      cert: PATHS.exporterCert,
      key: PATHS.exporterKey,
    },
  ]
  const files: FileEntry[] = []
  for (const e of exporters) {
    files.push({
      path: e.web,
      content: renderTemplate('exporter-web.yml', webConfigView(p, layout, e)),
      mode: 0o600,
      owner: e.owner,
      section: e.section,
      format: 'yaml',
      secretLines: new RegExp(`^\\s*${METRICS_USER}:`),
    })
    if (p.TLS !== 'off' && p.TLSCERT !== undefined && p.TLSKEY !== undefined)
      files.push(
        { path: e.cert, content: p.TLSCERT, mode: 0o640, owner: e.owner, section: e.section, format: 'pem' },
        {
          path: e.key,
          content: p.TLSKEY,
          mode: 0o600,
          owner: e.owner,
          section: e.section,
          format: 'pem',
          secret: true,
        },
      )
  }
  return { dirs, files }
}

/**
 * node_exporter's rc.conf, read by the package's script (sysutils/node_exporter, files/node_exporter.in):
 * its own user; the web config through node_exporter_args (appended to node_exporter's arguments); and
 * node_exporter_flags, which rc.subr puts between `command` (daemon) and command_args, so daemon(8)
 * also writes the exporter's output to a file (-o; the script's -T sends it to syslog, and no syslogd runs
 * in a Nomad jail), reopens it on SIGHUP (-H, from newsyslog) and records its own pid for that (-P).
 */
export function nodeExporterRcConf(p: Params, layout: Layout): Record<string, string> {
  const L = (path: string) => at(layout, path)
  return {
    node_exporter_enable: 'YES',
    node_exporter_user: layout.nodeExporterUser,
    node_exporter_group: layout.nodeExporterUser,
    node_exporter_listen_address: authority(p.MYIP, PORTS.nodeExporter),
    node_exporter_args: `--web.config.file=${L(PATHS.nodeExporterWeb)}`,
    node_exporter_flags: `-H -o ${L(PATHS.nodeExporterOut)} -P ${L(PATHS.nodeExporterSupervisorPid)}`,
  }
}

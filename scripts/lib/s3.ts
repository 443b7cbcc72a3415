// A local S3-compatible server for the backup tests: s3rver over HTTPS on loopback, with a throwaway
// self-signed certificate made by openssl, which pgBackRest then trusts through S3CAFILE.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>
  close(): Promise<void>
}
type S3rverClass = new (opts: Record<string, unknown>) => S3rverInstance

export interface LocalS3 {
  /** host:port for S3ENDPOINT; the certificate is for "localhost". */
  endpoint: string
  bucket: string
  /** The certificate, readable by postgres: it is its own CA (S3CAFILE). */
  caFile: string
  key: string
  secret: string
  close(): Promise<void>
}

/** Starts s3rver on 127.0.0.1 (a free port) with one bucket; its data lives under `dir`. */
export async function startLocalS3(dir: string, bucket = 'pg-backups'): Promise<LocalS3> {
  mkdirSync(dir, { recursive: true })
  // postgres (pgBackRest) must reach the certificate.
  chmodSync(dir, 0o755)
  const keyFile = join(dir, 'tls.key')
  const caFile = join(dir, 'tls.crt')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      caFile,
    ].concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  chmodSync(caFile, 0o644)
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: join(dir, 'data'),
    key: readFileSync(keyFile),
    cert: readFileSync(caFile),
    configureBuckets: [{ name: bucket }],
  })
  const { port } = await server.run()
  // s3rver's fixed development credentials.
  return {
    endpoint: `localhost:${port}`,
    bucket,
    caFile,
    key: 'S3RVER',
    secret: 'S3RVER',
    close: () => server.close(),
  }
}

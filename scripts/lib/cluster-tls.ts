// The development cluster's certificates, made fresh at every start under the cluster's folder: a CA, one
// certificate per member (its address, HAProxy's address, so that psql through :5000 can verify-full, and
// its name), one for etcd (its address and the members' gateway addresses, which pass TLS through), and one
// for the harness itself as an etcd client.
import { join } from 'node:path'
import type { TlsClient } from '../../cook/https.js'
import type { RawParams } from '../../cook/params.js'
import { type Ca, issue, makeCa, readPem } from './certs.js'
import type { EtcdTls } from './etcd.js'

export class ClusterTls {
  readonly ca: Ca
  readonly etcd: EtcdTls
  /** The harness's own client identity: the CA to verify with and a certificate etcd accepts. */
  readonly client: TlsClient
  private readonly haproxyHost: string
  private serial = 0

  /** `ca`: another cluster's CA to sign with (a standby cluster verifies the primary cluster's members). */
  constructor(dir: string, o: { etcdHost: string; haproxyHost: string; memberIps: string[]; ca?: Ca }) {
    this.ca = o.ca ?? makeCa(join(dir, 'tls'), 'dev-ca', 30)
    this.haproxyHost = o.haproxyHost
    const etcd = issue(this.ca, 'etcd', { ips: [o.etcdHost, ...o.memberIps], dns: ['localhost'] })
    const harness = issue(this.ca, 'harness', {})
    this.client = { ca: readPem(this.ca.cert), cert: readPem(harness.cert), key: readPem(harness.key) }
    this.etcd = { cert: etcd.cert, key: etcd.key, ca: this.ca.cert, client: this.client }
  }

  /** TLSCA, TLSCERT and TLSKEY for a member, as PEM; each call issues a new certificate (a rotation). */
  memberParams(name: string, ip: string): RawParams {
    const cert = issue(this.ca, `${name}-${++this.serial}`, { ips: [ip, this.haproxyHost], dns: [name] })
    return { TLSCA: readPem(this.ca.cert), TLSCERT: readPem(cert.cert), TLSKEY: readPem(cert.key) }
  }
}

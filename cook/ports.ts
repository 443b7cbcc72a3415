// Every port of a member and of the services around it, in one place: the plan, the templates, the
// probes, `cook haproxy`, the docs and the dev cluster all read them from here.
export const PORTS = {
  /** PostgreSQL on MYIP. */
  postgres: 5432,
  /** Patroni's REST API on MYIP: health checks, /liveness, patronictl. */
  patroniRest: 8008,
  /** node_exporter's /metrics on MYIP. */
  nodeExporter: 9100,
  /** postgres_exporter's /metrics on MYIP. */
  pgExporter: 9187,
  /** The local Consul agent's HTTP API (client_addr 127.0.0.1): Patroni and the cook talk to it. */
  consulHttp: 8500,
  /** HAProxy in front of the cluster (`cook haproxy`): the primary, and the replicas. */
  haproxyPrimary: 5000,
  haproxyReplicas: 5001,
  /** etcd's client and peer ports, the client port when an ETCDHOSTS item has none. */
  etcdClient: 2379,
  etcdPeer: 2380,
} as const

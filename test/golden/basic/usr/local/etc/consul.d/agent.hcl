# Consul client agent of member "pg1", written by cook: edit the parameters, not this file.
datacenter     = "dc1"
node_name      = "pg1"
data_dir       = "/var/db/consul"
server         = false
bind_addr      = "10.0.0.11"
advertise_addr = "10.0.0.11"
client_addr    = "127.0.0.1"
retry_join     = ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
encrypt        = "cg8StVXbQJ0gPvMd9o7yrg1Yr5x2eH0pKgx0WsRRvHc="

# Deliberately false. A planned stop runs `cook stop` first: it stops Patroni while this agent still
# answers (so Patroni can delete the leader key), and only then runs `consul leave`. An agent that
# left on the jail's mass SIGTERM would stop answering while Patroni still needs it.
leave_on_terminate = false

log_level            = "INFO"
log_file             = "/var/log/consul/consul.log"
log_rotate_max_files = 5

service {
  name    = "node-exporter"
  port    = 9100
  address = "10.0.0.11"
  tags    = ["postgresql", "pg1"]
  meta {
    scope  = "postgresql"
    member = "pg1"
  }
  check {
    tcp      = "10.0.0.11:9100"
    interval = "30s"
    timeout  = "5s"
  }
}

# Patroni's REST API: Prometheus scrapes GET /metrics here. The role is in the metrics (patroni_primary),
# not in a tag: Patroni's own service registration carries the live role for clients.
service {
  name    = "patroni-api"
  port    = 8008
  address = "10.0.0.11"
  tags    = ["postgresql", "pg1"]
  meta {
    scope     = "postgresql"
    member    = "pg1"
    sync_mode = "off"
  }
  check {
    http     = "http://10.0.0.11:8008/liveness"
    interval = "15s"
    timeout  = "5s"
  }
}

service {
  name    = "postgres-exporter"
  port    = 9187
  address = "10.0.0.11"
  tags    = ["postgresql", "pg1"]
  meta {
    scope  = "postgresql"
    member = "pg1"
  }
  check {
    tcp      = "10.0.0.11:9187"
    interval = "30s"
    timeout  = "5s"
  }
}

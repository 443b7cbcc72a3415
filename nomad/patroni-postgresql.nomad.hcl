# Nomad job: a Patroni + PostgreSQL cluster, one pot jail per member, run by the pot task driver
# (bsdpot/nomad-pot-driver). One task group per member, generated from var.members, so a 3- or a
# 5-member cluster is a variables file (cluster.vars.hcl.example), not an edit of this file:
#
#   nomad job run -var-file=cluster.vars.hcl nomad/patroni-postgresql.nomad.hcl
#
# Secrets never appear here or in the variables file: they come from Nomad Variables at
# var.secrets_path (see the template block and the README, "Running on Nomad").

variable "datacenters" {
  description = "Nomad datacenters the members may run in"
  type        = list(string)
  default     = ["dc1"]
}

variable "image" {
  description = "URL of the web directory serving <pot>_<tag>.xz and .xz.skein (the image builder's output)"
  type        = string
}

variable "pot" {
  description = "Name of the exported pot, e.g. patroni-postgresql-amd64-15_1"
  type        = string
  default     = "patroni-postgresql-amd64-15_1"
}

variable "tag" {
  description = "Image version (the export's tag); a member may override it with its own \"tag\" key"
  type        = string
}

variable "members" {
  description = <<-EOT
    One map per member, in this order: the first is the one that may initialise the cluster.
    Keys: name (NODENAME), ip (MYIP: the address of the Nomad client the member is pinned to),
    data_dir (host directory mounted at /mnt), and optionally servicetag (default: master for the
    first member, replica for the others), tag (image version for this member only, for rolling
    upgrades), the member tags nofailover, nosync, noloadbalance (on/off) and replicatefrom (a member
    name), and for a standby cluster's standby-leader standbyhost, standbyslot and standbystanza.
  EOT
  type        = list(map(string))
}

variable "consul_servers" {
  description = "Consul servers the in-jail Consul agents join (1, 3 or 5)"
  type        = list(string)
}

variable "consul_datacenter" {
  description = "Consul datacenter (the cook's DATACENTER)"
  type        = string
  default     = "dc1"
}

variable "consul_acl" {
  description = "CONSULACL: on (the Consul cluster enforces ACLs; CONSULTOKEN, and optionally CONSULAGENTTOKEN, come from Nomad Variables) or off, said explicitly: then anyone on the host's 127.0.0.1:8500 can write Patroni's keys"
  type        = string
  default     = "on"
}

variable "scope" {
  description = "Patroni scope: the cluster name and the Consul service Patroni registers"
  type        = string
  default     = "postgresql"
}

variable "backup_repo" {
  description = "BACKUPREPO: off, a directory shared by the members (mount it into every jail), or s3://bucket/prefix"
  type        = string
  default     = "off"
}

variable "s3_endpoint" {
  description = "S3ENDPOINT: host[:port] of the S3-compatible endpoint, with backup_repo = s3://...; S3KEY and S3SECRET come from Nomad Variables"
  type        = string
  default     = ""
}

variable "s3_region" {
  description = "S3REGION"
  type        = string
  default     = "us-east-1"
}

variable "s3_uri_style" {
  description = "S3URISTYLE: host (AWS) or path (most self-hosted S3 servers)"
  type        = string
  default     = "host"
}

variable "backup_full" {
  description = "BACKUPFULL: cron schedule of full backups (taken by the leader's in-jail cron)"
  type        = string
  default     = "15 1 * * 0"
}

variable "backup_diff" {
  description = "BACKUPDIFF: cron schedule of differential backups, or off"
  type        = string
  default     = "15 1 * * 1-6"
}

variable "backup_keep" {
  description = "BACKUPKEEP: full backups to keep"
  type        = number
  default     = 2
}

variable "archive_timeout" {
  description = "ARCHIVETIMEOUT: seconds after which a WAL segment is archived even when not full (the RPO bound)"
  type        = number
  default     = 60
}

variable "restore_time" {
  description = "RESTORETIME: create the cluster from the repository as of this time, e.g. \"2026-11-30 23:10:05+00\" (a new scope; see README, Backups and restore); empty: a new cluster starts empty"
  type        = string
  default     = ""
}

variable "restore_stanza" {
  description = "RESTORESTANZA: the scope of the cluster restore_time restores from (empty: scope itself)"
  type        = string
  default     = ""
}

variable "dbname" {
  description = "DBNAME: an application database created with the cluster, owned by dbowner (empty: none)"
  type        = string
  default     = ""
}

variable "dbowner" {
  description = "DBOWNER: the owner of dbname (admin, or a role cook creates for it)"
  type        = string
  default     = "admin"
}

variable "pgparams" {
  description = "PGPARAMS: postgresql.conf parameters, e.g. \"work_mem=16MB max_connections=200\" (cook checks them against the jail's server)"
  type        = string
  default     = ""

  # The driver hands the value to `pot set-env` and the jail's start script expands it (see env below).
  validation {
    condition     = !can(regex("[$`\\\\]", var.pgparams))
    error_message = "The pgparams value cannot hold $, ` or \\: the jail's start script would change them."
  }
}

variable "failsafe" {
  description = "FAILSAFE: Patroni's failsafe_mode, on or off (see the README, \"Failsafe mode\")"
  type        = string
  default     = "on"
}

variable "slots" {
  description = "SLOTS: permanent replication slots for consumers outside the cluster, e.g. \"standby_dr\""
  type        = string
  default     = ""
}

variable "secrets_path" {
  description = "Nomad Variables path holding ADMPASS, KEKPASS, GOSSIPKEY, TLSCA, CONSULTOKEN (unless consul_acl is off) and optionally CONSULAGENTTOKEN, REPPASS, REWINDPASS, OLDKEKPASS, S3KEY, S3SECRET, BACKUPCIPHERPASS (required with backup_repo); <path>/<member> holds TLSCERT and TLSKEY"
  type        = string
  # A task may read nomad/jobs/<job id> without any extra ACL policy; another path needs one.
  default = "nomad/jobs/patroni-postgresql"
}

variable "stop_timeout" {
  description = "Seconds the jail waits for its processes after SIGTERM, once `cook stop` has returned"
  type        = number
  default     = 30
}

variable "cpu" {
  description = "CPU shares (MHz) per member"
  type        = number
  default     = 1000
}

variable "memory" {
  description = "Memory per member in MB (the pot driver applies it as a soft limit, pot set-rss); Nomad hands it to the task as NOMAD_MEMORY_LIMIT, which cook takes as MEMORY to size shared_buffers and friends"
  type        = number
  default     = 2048
}

job "patroni-postgresql" {
  type        = "service"
  datacenters = var.datacenters

  # Applies across all groups: no two members on one host, or losing that host would cost two votes.
  constraint {
    operator = "distinct_hosts"
    value    = "true"
  }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "freebsd"
  }

  dynamic "group" {
    for_each = var.members
    labels   = [group.value.name]

    content {
      count = 1

      # The member's data lives on one host (data_dir) and its MYIP is that host's address (host
      # networking, below), so the member is pinned to the client with that address.
      constraint {
        attribute = "${attr.unique.network.ip-address}"
        value     = group.value.ip
      }

      network {
        # Static: the jail shares the host's network stack, so these are the real ports on the
        # host; reserving them keeps Nomad from placing anything else on them.
        port "postgresql" {
          static = 5432
        }
        port "patroni" {
          static = 8008
        }
      }

      # A failed member restarts in place at most twice in 30 minutes, each time after a delay
      # longer than the leader key's TTL (30 s by default): by then the cluster has failed over
      # without it, and the member rejoins as a replica instead of racing a fresh leader. The pot
      # driver destroys the jail before a restart, so two postmasters never share the data directory.
      restart {
        attempts = 2
        interval = "30m"
        delay    = "45s"
        mode     = "fail"
      }

      # Rescheduling can only land on the same host (the constraints above), so it is one more,
      # slower retry loop: a member that keeps failing needs an operator (a broken data directory
      # does not heal by restarting), not an endless loop.
      reschedule {
        attempts       = 3
        interval       = "24h"
        delay          = "2m"
        delay_function = "exponential"
        max_delay      = "30m"
        unlimited      = false
      }

      # Updates replace one allocation of this group at a time. Nomad updates the groups (members)
      # in parallel, so a change of var.tag restarts every member at once: roll an upgrade by
      # setting a per-member "tag" in var.members, one member per `nomad job run`.
      update {
        max_parallel      = 1
        health_check      = "task_states"
        min_healthy_time  = "30s"
        healthy_deadline  = "10m"
        progress_deadline = "15m"
        auto_revert       = false
      }

      # No Nomad `service` block on purpose. Patroni registers the Consul service var.scope itself
      # (register_service: true in the rendered patroni.yml) with the live role as its tag and an
      # HTTP check on /primary or /replica, so master.<scope>.service.consul follows failovers.
      # A Nomad registration under the same name would carry static tags that go stale after a
      # failover; under another name it would only duplicate Patroni's checks.

      task "postgresql" {
        driver = "pot"

        config {
          image   = var.image
          pot     = var.pot
          tag     = lookup(group.value, "tag", var.tag)
          command = "/usr/local/bin/cook"

          # "host" becomes pot's "inherit" network type: PostgreSQL, Patroni's REST API and the
          # Consul agent bind MYIP directly, which every member must reach. With a bridge the jail
          # would only have a private address. The driver ignores port_map in host mode; it stays
          # as the record of which jail port each Nomad port label is.
          network_mode = "host"
          port_map = {
            postgresql = "5432"
            patroni    = "8008"
          }

          # host:jail. The driver splits on ":", so the host path must not contain one.
          mount = ["${group.value.data_dir}:/mnt"]

          # The jail's stop hook (pot >= 0.16.0). The driver stops a task with `pot destroy -F`, i.e.
          # `jail -r`, which sends SIGTERM to every process of the jail at once; exec.stop runs first,
          # so `cook stop` lets Patroni hand over and release the leader key while the Consul agent
          # still answers. The image's cook-stop runs it and always exits 0: jail(8) keeps a jail whose
          # exec.stop failed (usr.sbin/jail/jail.c), and PostgreSQL would outlive `pot destroy -F`.
          # The driver runs `pot set-attribute -A <before ":"> -V <after ":">` and drops anything after
          # a second ":", so neither value may contain one.
          attributes = [
            "exec_stop:/usr/local/bin/cook-stop",
            "stop_timeout:${var.stop_timeout}",
          ]
        }

        # kill_signal and kill_timeout are not set: the pot driver ignores both (it destroys the pot
        # instead of signalling the task). The stop hook above is what gives a clean handover.

        # Non-secret cook parameters. The driver hands every variable to `pot set-env`, and the jail's
        # start script (tinirc) expands $, backticks and \ in values; these values cannot hold any.
        env {
          NODENAME       = group.value.name
          MYIP           = group.value.ip
          SERVICETAG     = lookup(group.value, "servicetag", group.key == 0 ? "master" : "replica")
          DATACENTER     = var.consul_datacenter
          CONSULSERVERS  = join(",", var.consul_servers)
          SCOPE          = var.scope
          DCS            = "consul"
          CONSULACL      = var.consul_acl
          # Backups (README, "Backups and restore"): an empty value counts as not set.
          BACKUPREPO     = var.backup_repo
          S3ENDPOINT     = var.s3_endpoint
          S3REGION       = var.s3_region
          S3URISTYLE     = var.s3_uri_style
          BACKUPFULL     = var.backup_full
          BACKUPDIFF     = var.backup_diff
          BACKUPKEEP     = var.backup_keep
          ARCHIVETIMEOUT = var.archive_timeout
          # A point-in-time restore into a new cluster (used only when the cluster is first created).
          RESTORETIME    = var.restore_time
          RESTORESTANZA  = var.restore_stanza
          DBNAME         = var.dbname
          DBOWNER        = var.dbowner
          PGPARAMS       = var.pgparams
          FAILSAFE       = var.failsafe
          SLOTS          = var.slots
          # Member tags and a standby-leader's source; an empty value counts as not set.
          NOFAILOVER     = lookup(group.value, "nofailover", "off")
          NOSYNC         = lookup(group.value, "nosync", "off")
          NOLOADBALANCE  = lookup(group.value, "noloadbalance", "off")
          REPLICATEFROM  = lookup(group.value, "replicatefrom", "")
          STANDBYHOST    = lookup(group.value, "standbyhost", "")
          STANDBYSLOT    = lookup(group.value, "standbyslot", "")
          STANDBYSTANZA  = lookup(group.value, "standbystanza", "")
          # MEMORY is not set here: Nomad's NOMAD_MEMORY_LIMIT (resources.memory) is its alias.
          # The secrets: the template below, which the driver mounts at /secrets in the jail. No secret
          # may stand in this block (cook refuses one from a Nomad task's environment).
          SECRETSFILE    = "/secrets/cook.env"
        }

        # Secrets from Nomad Variables, rendered into the task's secrets directory, which the pot driver
        # mounts at /secrets in the jail (nomad-pot-driver, prepare.go), as a file only root can read
        # (perms 0600; Nomad's default is 0644). cook reads it through SECRETSFILE (env above) and refuses
        # it with any other owner or mode. Not `env = true`: the driver would hand every value to
        # `pot set-env`, which puts it in the host's process list and pot.conf and in the jail's
        # /tmp/tinirc (mode 0755, readable by every jail user). Each value is NAME_B64, which cook
        # decodes: base64 survives any dotenv quoting rule. A missing key renders empty, and cook then
        # names the missing parameter.
        # Certificates: the CA (TLSCA, PEM) sits with the shared secrets; each member's certificate and key
        # (TLSCERT, TLSKEY, PEM) at <secrets_path>/<member name>, which is the group's own path (a task may
        # read nomad/jobs/<job>/<group> without an extra policy). A new certificate takes effect at the
        # member's next start; cook reloads, it does not restart, when only certificates changed.
        # change_mode "noop": a change in the variable must not restart every member at once (each
        # group has this template). New values take effect at a member's next start (every Nomad
        # start is a fresh jail that cook configures): restart the members one by one, replicas first,
        # and cook sets the new passwords on the leader's roles before Patroni uses them. A fresh jail
        # does not know the superuser password it replaces: while KEKPASS changes, keep the old one in
        # the variable as OLDKEKPASS (README, "Rotating passwords").
        template {
          destination = "secrets/cook.env"
          env         = false
          perms       = "0600"
          change_mode = "noop"
          data        = <<-EOT
            {{- with nomadVar "${var.secrets_path}" }}
            ADMPASS_B64={{ if .ADMPASS }}{{ .ADMPASS.Value | base64Encode }}{{ end }}
            KEKPASS_B64={{ if .KEKPASS }}{{ .KEKPASS.Value | base64Encode }}{{ end }}
            GOSSIPKEY_B64={{ if .GOSSIPKEY }}{{ .GOSSIPKEY.Value | base64Encode }}{{ end }}
            {{- if .CONSULTOKEN }}
            CONSULTOKEN_B64={{ .CONSULTOKEN.Value | base64Encode }}
            {{- end }}
            {{- if .CONSULAGENTTOKEN }}
            CONSULAGENTTOKEN_B64={{ .CONSULAGENTTOKEN.Value | base64Encode }}
            {{- end }}
            {{- if .S3KEY }}
            S3KEY_B64={{ .S3KEY.Value | base64Encode }}
            {{- end }}
            {{- if .S3SECRET }}
            S3SECRET_B64={{ .S3SECRET.Value | base64Encode }}
            {{- end }}
            {{- if .BACKUPCIPHERPASS }}
            BACKUPCIPHERPASS_B64={{ .BACKUPCIPHERPASS.Value | base64Encode }}
            {{- end }}
            {{- if .REPPASS }}
            REPPASS_B64={{ .REPPASS.Value | base64Encode }}
            {{- end }}
            {{- if .REWINDPASS }}
            REWINDPASS_B64={{ .REWINDPASS.Value | base64Encode }}
            {{- end }}
            {{- if .OLDKEKPASS }}
            OLDKEKPASS_B64={{ .OLDKEKPASS.Value | base64Encode }}
            {{- end }}
            TLSCA_B64={{ if .TLSCA }}{{ .TLSCA.Value | base64Encode }}{{ end }}
            {{- end }}
            {{- with nomadVar "${var.secrets_path}/${group.value.name}" }}
            TLSCERT_B64={{ if .TLSCERT }}{{ .TLSCERT.Value | base64Encode }}{{ end }}
            TLSKEY_B64={{ if .TLSKEY }}{{ .TLSKEY.Value | base64Encode }}{{ end }}
            {{- end }}
          EOT
        }

        resources {
          cpu    = var.cpu
          memory = var.memory
        }
      }
    }
  }
}

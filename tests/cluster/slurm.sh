#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost for exptflow's cluster tests, with fake GPUs.
#
#   tests/cluster/slurm.sh start    install Debian's slurm-wlm + munge if needed, start it
#   tests/cluster/slurm.sh stop     cancel jobs, stop every daemon
#
# Debian bookworm, root, no systemd: the daemons are started directly and stopped through
# their pid files. Settings: SLURM_CPUS (CPUs advertised, default 8: more than the cores, so
# several Snakemake jobs run at once), SLURM_GPUS (fake GPUs, default 2).
# Without slurmdbd `sacct` does not work: the test profile tells the Snakemake plugin to
# poll with squeue, and MinJobAge keeps finished jobs visible to it.
set -euo pipefail

CPUS=${SLURM_CPUS:-8}
GPUS=${SLURM_GPUS:-2}
MEMORY_MB=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.7}' /proc/meminfo)
FAKE_GPUS=/var/lib/exptflow-fake-gpus

say() { echo "[slurm.sh] $*" >&2; }
alive() { [ -s "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = "$2" ]; }
retry() { # retry SECONDS COMMAND...: until the command succeeds
  local seconds=$1; shift
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  say "timed out waiting for: $*"; return 1
}
stop_daemon() { # stop_daemon PIDFILE NAME
  alive "$1" "$2" || return 0
  local pid; pid=$(cat "$1")
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

install_packages() {
  local missing=()
  for package in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  # Keep the packages' scripts from starting services: this script starts the daemons.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

write_config() {
  install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
  install -d -o munge -g munge -m 0755 /run/munge
  [ -s /etc/munge/munge.key ] || mungekey --create --force --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key && chmod 0600 /etc/munge/munge.key
  install -d -o slurm -g slurm -m 0755 /run/slurm /var/spool/slurmctld /var/log/slurm
  install -d -m 0755 /etc/slurm /var/spool/slurmd "$FAKE_GPUS"
  # GRES files must be character devices, or slurmd drops them and sets no CUDA_VISIBLE_DEVICES.
  for index in $(seq 0 $((GPUS - 1))); do
    [ -c "$FAKE_GPUS/nvidia$index" ] || { rm -f "$FAKE_GPUS/nvidia$index"; mknod -m 0666 "$FAKE_GPUS/nvidia$index" c 1 3; }
  done
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=exptflow
SlurmctldHost=localhost
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
MinJobAge=300
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY_MB Gres=gpu:$GPUS State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  printf 'AutoDetect=off\nNodeName=localhost Name=gpu File=%s/nvidia[0-%d]\n' "$FAKE_GPUS" $((GPUS - 1)) > /etc/slurm/gres.conf
}

node_ready() {
  case "$(sinfo -h -n localhost -o %T 2>/dev/null)" in
    idle* | mixed* | allocated* | completing*) return 0 ;;
    down* | drain*) scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1; return 1 ;;
    *) return 1 ;;
  esac
}

start() {
  [ "$(id -u)" = 0 ] || { say "run as root"; exit 1; }
  install_packages
  write_config
  alive /run/munge/munged.pid munged || runuser -u munge -- /usr/sbin/munged
  retry 10 bash -c 'munge -n | unmunge'
  stop_daemon /run/slurm/slurmd.pid slurmd  # a fresh start picks up the configuration
  stop_daemon /run/slurm/slurmctld.pid slurmctld
  /usr/sbin/slurmctld
  retry 60 bash -c 'scontrol ping | grep -q UP'
  /usr/sbin/slurmd -N localhost
  retry 60 node_ready
  say "SLURM is up: $(sinfo -h -o '%P %N %T cpus=%c gres=%G')"
}

stop() {
  if alive /run/slurm/slurmctld.pid slurmctld; then
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    [ -z "$jobs" ] || scancel $jobs || true
  fi
  stop_daemon /run/slurm/slurmd.pid slurmd
  stop_daemon /run/slurm/slurmctld.pid slurmctld
  stop_daemon /run/munge/munged.pid munged
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

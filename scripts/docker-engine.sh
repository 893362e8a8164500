#!/usr/bin/env bash
# Starts and stops a local Docker engine for the integration tests on machines
# that have docker.io installed but no engine running (CI, fresh Debian boxes).
#
#   scripts/docker-engine.sh start    start dockerd unless an engine already answers
#   scripts/docker-engine.sh stop     stop the containers and the dockerd that `start` launched
#   scripts/docker-engine.sh status
#
# `start` prints `export` lines on stdout (progress goes to stderr), so
# `eval "$(scripts/docker-engine.sh start)"` configures the shell: DOCKER_HOST,
# and SSHPOOL_DOCKER_ENGINE_STARTED=1 only if this call launched the daemon, so
# a caller can stop exactly what it started and leave a shared engine alone.
#
# The engine runs without a bridge network or iptables rules: the test
# containers use host networking and listen on 127.0.0.1 only, and the machines
# this runs on may not allow touching the firewall. `stop` only ever stops a
# daemon that `start` launched (tracked by pid file), never one it found running.
#
# Environment:
#   SSHPOOL_DOCKER_STATE_DIR        pid file and log location (default /var/run/sshpool-docker)
#   SSHPOOL_DOCKER_STORAGE_DRIVER   force a storage driver (default: overlay2 if an
#                                   overlay mount works on the data root, else vfs)
set -euo pipefail

STATE_DIR="${SSHPOOL_DOCKER_STATE_DIR:-/var/run/sshpool-docker}"
PIDFILE="$STATE_DIR/dockerd.pid"
LOGFILE="$STATE_DIR/dockerd.log"
DATA_ROOT=/var/lib/docker
SOCKET=/var/run/docker.sock

log() { echo "docker-engine: $*" >&2; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

our_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid that now belongs to something else.
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]] || return 1
  # A killed daemon nobody has reaped yet still has a /proc entry: a zombie is not running.
  [[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]] || return 1
  echo "$pid"
}

print_env() {
  if [[ -n "${DOCKER_HOST:-}" ]]; then
    echo "export DOCKER_HOST=$DOCKER_HOST"
  else
    echo "export DOCKER_HOST=unix://$SOCKET"
  fi
  echo "export SSHPOOL_DOCKER_ENGINE_STARTED=${1:-0}"
}

# Used when start-up fails, so a half-started daemon does not linger.
kill_launched() {
  local pid
  pid="$(our_pid || true)"
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  kill -TERM "$1" 2>/dev/null || true
}

# overlay2 is much faster than vfs, but it cannot be used where the data root
# itself sits on overlayfs or on a filesystem without d_type support (common
# inside containers). Probing with a real overlay mount answers that directly.
pick_storage_driver() {
  if [[ -n "${SSHPOOL_DOCKER_STORAGE_DRIVER:-}" ]]; then
    echo "$SSHPOOL_DOCKER_STORAGE_DRIVER"
    return
  fi
  mkdir -p "$DATA_ROOT"
  local probe
  probe="$(mktemp -d "$DATA_ROOT/.overlay-probe.XXXXXX")"
  mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
  echo ok > "$probe/lower/file"
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    if [[ "$(cat "$probe/merged/file" 2>/dev/null)" == ok ]]; then
      echo overlay2
    else
      echo vfs
    fi
    umount "$probe/merged" 2>/dev/null || true
  else
    echo vfs
  fi
  rm -rf "$probe"
}

cmd_start() {
  local pid
  if pid="$(our_pid)"; then
    if engine_answers; then
      log "dockerd already running (pid $pid, started by this script)"
      print_env
      return 0
    fi
  fi
  if engine_answers; then
    log "a Docker engine already answers; using it as is"
    print_env
    return 0
  fi
  if [[ $EUID -ne 0 ]]; then
    log "no Docker engine answers and starting one needs root (run: sudo $0 start)"
    return 1
  fi
  command -v dockerd >/dev/null || { log "dockerd not found (apt-get install docker.io)"; return 1; }
  command -v docker >/dev/null || { log "docker CLI not found (apt-get install docker.io)"; return 1; }

  mkdir -p "$STATE_DIR"
  # A daemon that was killed (a CI runner ends whatever a previous run left) leaves its pid
  # files behind, and dockerd refuses to start over one. No engine answers here, so they are stale.
  if [[ -f "$PIDFILE" ]] && ! our_pid >/dev/null; then
    log "removing stale pid file $PIDFILE"
    rm -f "$PIDFILE"
  fi
  if [[ -f /var/run/docker/containerd/containerd.pid ]] && ! pgrep -F /var/run/docker/containerd/containerd.pid containerd >/dev/null 2>&1; then
    rm -f /var/run/docker/containerd/containerd.pid
  fi
  local driver
  driver="$(pick_storage_driver)"
  log "starting dockerd (storage driver $driver, log $LOGFILE)"
  # setsid + redirected stdio: the daemon must not hold the caller's terminal or
  # output pipe open, or a CI step would never see EOF.
  setsid dockerd \
    --bridge=none --iptables=false --ip-masq=false \
    --storage-driver="$driver" \
    --data-root="$DATA_ROOT" \
    --pidfile="$PIDFILE" \
    --host="unix://$SOCKET" \
    </dev/null >>"$LOGFILE" 2>&1 &
  local launcher=$! gone=0

  local deadline=$((SECONDS + 60))
  until engine_answers; do
    # setsid may fork, so the launcher exiting alone proves nothing; give the
    # daemon a moment to write its pid file before calling it dead.
    if ! kill -0 "$launcher" 2>/dev/null && ! our_pid >/dev/null; then
      gone=$((gone + 1))
    else
      gone=0
    fi
    if ((gone >= 5)); then
      log "dockerd exited during start-up; last log lines:"
      tail -n 30 "$LOGFILE" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      log "dockerd did not answer within 60s; stopping it. Last log lines:"
      tail -n 30 "$LOGFILE" >&2
      kill_launched "$launcher"
      return 1
    fi
    sleep 0.2
  done
  pid="$(our_pid || echo '?')"
  log "dockerd is up (pid $pid, $(docker version --format 'server {{.Server.Version}}' 2>/dev/null || echo 'version unknown'))"
  print_env 1
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then
    log "no dockerd started by this script is running; nothing to stop"
    rm -f "$PIDFILE"
    return 0
  fi
  # Every container on this daemon was started while it was ours to run.
  local ids
  ids="$(timeout 20 docker ps -q 2>/dev/null || true)"
  if [[ -n "$ids" ]]; then
    log "stopping $(wc -w <<<"$ids") running container(s)"
    # shellcheck disable=SC2086
    timeout 60 docker stop -t 2 $ids >/dev/null 2>&1 || true
  fi
  ids="$(timeout 20 docker ps -aq --filter label=sshpool.test=1 2>/dev/null || true)"
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    timeout 60 docker rm -f $ids >/dev/null 2>&1 || true
  fi
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      log "dockerd did not exit within 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  log "dockerd stopped"
}

cmd_status() {
  local pid
  if engine_answers; then
    log "engine answers: $(docker info --format 'server {{.ServerVersion}}, storage driver {{.Driver}}, {{.ContainersRunning}} container(s) running' 2>/dev/null)"
    if pid="$(our_pid)"; then log "started by this script (pid $pid, log $LOGFILE)"; else log "not started by this script"; fi
    print_env
  else
    log "no Docker engine answers (start one with: $0 start)"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

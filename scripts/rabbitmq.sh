#!/usr/bin/env bash
# A RabbitMQ for the relay tests (`npm run test:relay`) and CI: Debian's rabbitmq-server (3.10)
# with the STOMP and Web-STOMP plugins, every listener bound to loopback.
#
#   bash scripts/rabbitmq.sh start    install if missing (apt-get, as root or through sudo), enable
#                                     rabbitmq_stomp + rabbitmq_web_stomp offline, start in the
#                                     background, wait (at most RABBITMQ_START_TIMEOUT s, default 120)
#                                     until STOMP 127.0.0.1:61613 and Web-STOMP 127.0.0.1:15674
#                                     accept, then check that nothing of it listens beyond loopback.
#                                     Already up on 61613: says so and succeeds.
#   bash scripts/rabbitmq.sh stop     `rabbitmqctl stop` (bounded), waits for the ports to close;
#                                     succeeds if it was not running.
#   bash scripts/rabbitmq.sh status   the ports and listeners; exit 0 if 61613 accepts, else 3.
#
# Listeners (guest/guest, which RabbitMQ allows on loopback only):
#   AMQP 127.0.0.1:5672, STOMP 127.0.0.1:61613, Web-STOMP ws://127.0.0.1:15674/ws,
#   Erlang distribution 127.0.0.1:25672, epmd 127.0.0.1:4369 (ERL_EPMD_ADDRESS), and the CLI
#   tools' own distribution ports (35672-35682) on 127.0.0.1 too (RABBITMQ_CTL_ERL_ARGS).
# The config goes to $RABBITMQ_STATE_DIR (default /tmp/nestjs-stomp-rabbitmq)/rabbitmq.conf, passed
# with RABBITMQ_CONFIG_FILE (honoured by the 3.10 package); the server's console output goes to
# server.log beside it, its own log to /var/log/rabbitmq/.
#
# Tests that take the broker down mid-run use `rabbitmqctl stop_app` / `rabbitmqctl start_app`
# (the node and its distribution port stay up, the AMQP/STOMP/Web-STOMP listeners close and come
# back on the same loopback addresses: the config is read once at node boot). Run them with the
# same environment as below (ERL_EPMD_ADDRESS, RABBITMQ_CTL_ERL_ARGS) so the CLI stays on loopback.
set -euo pipefail

STATE_DIR=${RABBITMQ_STATE_DIR:-/tmp/nestjs-stomp-rabbitmq}
CONF=$STATE_DIR/rabbitmq.conf
LOG=$STATE_DIR/server.log
START_TIMEOUT_S=${RABBITMQ_START_TIMEOUT:-120}
STOP_TIMEOUT_S=60
STOMP_PORT=61613
WEB_STOMP_PORT=15674

export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CONFIG_FILE=$CONF

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo --preserve-env=ERL_EPMD_ADDRESS,RABBITMQ_CTL_ERL_ARGS,RABBITMQ_CONFIG_FILE "$@"; fi; }
say() { echo "rabbitmq: $*"; }

# Whether 127.0.0.1:$1 accepts a TCP connection (1 s at most).
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# RabbitMQ's (beam.smp) and epmd's listening sockets, as `ss -ltnp` prints them.
listeners() { ss -Hltnp 2>/dev/null | grep -E '"(beam\.smp|epmd)"' || true; }

# Fails (listing them) if any RabbitMQ or epmd socket listens beyond loopback.
check_loopback() {
  local wide
  wide=$(listeners | awk '$4 !~ /^(127\.0\.0\.1|\[::1\]):/' || true)
  if [ -n "$wide" ]; then
    echo "rabbitmq: listening beyond loopback:" >&2
    echo "$wide" >&2
    return 1
  fi
  say "every listener is on loopback:"
  listeners | awk '{ print "  " $4 }' | sort -u
}

install_if_missing() {
  command -v rabbitmq-server >/dev/null && return 0
  say "installing Debian's rabbitmq-server"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the package's postinst from starting a server without our config (where nothing else
  # prevents it: Debian's container images already ship a denying policy-rc.d).
  local policy=/usr/sbin/policy-rc.d added=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    added=1
  fi
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
  [ -z "$added" ] || as_root rm -f "$policy"
}

write_config() {
  mkdir -p "$STATE_DIR"
  chmod 755 "$STATE_DIR"
  cat >"$CONF" <<EOF
# Written by scripts/rabbitmq.sh: every listener on loopback.
listeners.tcp.default = 127.0.0.1:5672
stomp.listeners.tcp.1 = 127.0.0.1:$STOMP_PORT
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = $WEB_STOMP_PORT
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = 25672
distribution.listener.port_range.max = 25672
loopback_users.guest = true
EOF
  chmod 644 "$CONF"
}

# epmd outlives the node that started it: one left listening on every interface (by a server started
# without ERL_EPMD_ADDRESS) is replaced, if no Erlang node is registered with it.
reset_wide_epmd() {
  if ss -Hltnp 2>/dev/null | grep '"epmd"' | awk '$4 !~ /^(127\.0\.0\.1|\[::1\]):/' | grep -q .; then
    if epmd -names 2>/dev/null | grep -q '^name '; then
      say "epmd listens beyond loopback and has nodes registered; leaving it" >&2
    else
      say "restarting epmd on loopback"
      epmd -kill >/dev/null 2>&1 || true
    fi
  fi
}

start() {
  if port_open "$STOMP_PORT"; then
    say "already running (127.0.0.1:$STOMP_PORT accepts)"
    check_loopback || say "warning: this server was not started by this script" >&2
    return 0
  fi
  install_if_missing
  as_root rabbitmq-plugins enable --offline rabbitmq_stomp rabbitmq_web_stomp >/dev/null
  write_config
  reset_wide_epmd
  say "starting (config $CONF, log $LOG)"
  local began=$SECONDS
  as_root setsid nohup rabbitmq-server >"$LOG" 2>&1 </dev/null &
  local server=$!
  for ((i = 0; i < START_TIMEOUT_S * 2; i++)); do
    if port_open "$STOMP_PORT" && port_open "$WEB_STOMP_PORT"; then
      say "STOMP 127.0.0.1:$STOMP_PORT and Web-STOMP 127.0.0.1:$WEB_STOMP_PORT accept after $((SECONDS - began)) s"
      check_loopback
      return 0
    fi
    if ! kill -0 "$server" 2>/dev/null; then
      echo "rabbitmq: the server exited while starting; $LOG:" >&2
      tail -n 30 "$LOG" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "rabbitmq: 61613/15674 not accepting after ${START_TIMEOUT_S} s; $LOG:" >&2
  tail -n 30 "$LOG" >&2
  return 1
}

stop() {
  if ! command -v rabbitmqctl >/dev/null; then
    say "not installed, nothing to stop"
    return 0
  fi
  if ! timeout 20 rabbitmqctl -q ping >/dev/null 2>&1; then
    say "not running"
    return 0
  fi
  timeout "$STOP_TIMEOUT_S" rabbitmqctl -q stop >/dev/null
  for ((i = 0; i < STOP_TIMEOUT_S * 2; i++)); do
    if ! port_open "$STOMP_PORT" && ! listeners | grep -q beam; then
      say "stopped"
      return 0
    fi
    sleep 0.5
  done
  echo "rabbitmq: still listening ${STOP_TIMEOUT_S} s after rabbitmqctl stop" >&2
  return 1
}

status() {
  local up=3
  for port in 5672 "$STOMP_PORT" "$WEB_STOMP_PORT"; do
    if port_open "$port"; then say "127.0.0.1:$port accepts"; else say "127.0.0.1:$port closed"; fi
  done
  port_open "$STOMP_PORT" && up=0
  say "listeners:"
  listeners | awk '{ print "  " $4 "  " $6 }'
  return $up
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: bash scripts/rabbitmq.sh start|stop|status" >&2
    exit 2
    ;;
esac

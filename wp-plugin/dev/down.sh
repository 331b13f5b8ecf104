#!/usr/bin/env bash
# Stops what wp-plugin/dev/up.sh started: the sidecar (serve, scheduler), the mail catcher and — when up.sh
# started it — apache2. The database, the mails and the logs in $LOP_PLATFORM_STATE stay for reading.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
take_run_lock
stop_pid scheduler "service.cli scheduler"
stop_pid serve "service.cli serve"
stop_pid mailcatcher "mailcatcher.py"
if [ -f "$STATE/apache.started" ]; then
  as_root a2dissite -q lop-platform >/dev/null 2>&1 || true
  as_root apache2ctl stop 2>/dev/null || true
  while [ -f /run/apache2/apache2.pid ] && kill -0 "$(cat /run/apache2/apache2.pid 2>/dev/null)" 2>/dev/null; do sleep 0.1; done
  rm -f "$STATE/apache.started"
  log "stopped apache2"
fi
log "down (state kept in $STATE)"

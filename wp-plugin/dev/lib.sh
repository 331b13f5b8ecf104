# Shared by up.sh, down.sh and .ci/run (sourced): paths, settings and helpers of the local platform.
DEV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DEV_DIR/../.." && pwd)
STATE=${LOP_PLATFORM_STATE:-/tmp/lop-platform}
HOST=lop.test
DB_NAME=lop_platform
DB_USER=lop_platform
DB_PASSWORD=lop-platform-db-password
SIDECAR_BIND=${LOP_PLATFORM_SIDECAR_BIND:-127.0.0.1:8800}
SMTP_PORT=${LOP_PLATFORM_SMTP_PORT:-2525}
PLUGIN_DIR="$ROOT/wp-plugin/lop-sidecar"
WP_PLUGINS=/var/lib/wordpress/wp-content/plugins
APACHE_SITE=/etc/apache2/sites-available/lop-platform.conf
WP_HOST_CONFIG=/etc/wordpress/config-$HOST.php
# Debian packages the platform runs on (chromium only for the browser tests)
PLATFORM_PACKAGES="apache2 libapache2-mod-php php-cli php-mysql php-curl php-xml php-mbstring php-intl wordpress wordpress-theme-twentytwentythree mariadb-client curl"

# One platform per machine: up.sh and down.sh never interleave (flock), and the e2e session fixture holds
# SESSION_LOCK for a whole test run, so concurrent test runs take turns.
RUN_LOCK=/tmp/lop-platform-up.lock
SESSION_LOCK=/tmp/lop-platform-session.lock
# (fd 9 holds it: up.sh closes it for the daemons it starts — `9>&-` — or they would hold the lock)
take_run_lock() {
  exec 9>"$RUN_LOCK"
  flock -w 600 9 || die "another up.sh/down.sh has held $RUN_LOCK for 10 minutes"
}

log() { printf '[platform] %s\n' "$*"; }
die() { printf '[platform] ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages of the list that are missing (apt-get, once).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} = 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  PACKAGES_INSTALLED=1  # up.sh restarts a running apache2 (new PHP modules)
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds; dies after SECONDS.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && die "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
port_free() { ! ss -ltnH "sport = :$1" | grep -q .; }

# The process of a pid file, if it is still the one we started (its command line names $2).
pid_alive() {
  local file="$STATE/$1.pid" pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$2"
}

# stop_pid NAME PATTERN: TERM to the process group we started (setsid), KILL after 15 s.
stop_pid() {
  local name=$1 pattern=$2 file="$STATE/$1.pid" pid
  if pid_alive "$name" "$pattern"; then
    pid=$(cat "$file")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$file"
}

# The Python that runs the sidecar (the checkout's code: cwd and PYTHONPATH are the repository):
# $LOP_PYTHON, else .ci/venv when it has the dependencies, else wp-plugin/dev/.venv (made once).
pick_python() {
  local check='import flask, sqlalchemy, mysql.connector, apscheduler, gunicorn, aiosmtpd'
  if [ -n "${LOP_PYTHON:-}" ]; then PY=$LOP_PYTHON; return; fi
  for PY in "$ROOT/.ci/venv/bin/python" "$DEV_DIR/.venv/bin/python"; do
    [ -x "$PY" ] && "$PY" -c "$check" 2>/dev/null && return
  done
  log "making $DEV_DIR/.venv (the sidecar's dependencies and aiosmtpd)"
  python3 -m venv "$DEV_DIR/.venv"
  PY=$DEV_DIR/.venv/bin/python
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q "$ROOT" 'aiosmtpd>=1.4,<2'
}

sidecar() { (cd "$ROOT" && PYTHONPATH="$ROOT" "$PY" -m service.cli "$@"); }

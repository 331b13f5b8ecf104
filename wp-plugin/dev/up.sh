#!/usr/bin/env bash
# The whole platform on one machine (README, "Try it in WordPress"): MariaDB, Debian's WordPress as a
# path-based multisite network on http://lop.test/ served by apache2 + mod_php, the plugin network-activated,
# the sidecar (serve + scheduler) on the same database with the demo data, and a local SMTP catcher.
# Idempotent: every run stops what the previous one started and rebuilds the database from scratch.
# State, logs, mails and WordPress's debug.log: $LOP_PLATFORM_STATE (default /tmp/lop-platform).
# Extra LOP_* variables in the environment (e.g. LOP_OV_API_URL) reach the sidecar; LOP_PYTHON names the
# Python that runs it; LOP_PLATFORM_NO_PLUGIN=1 leaves the plugin out (stock WordPress).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
started=$SECONDS

[ "$(uname -s)" = Linux ] || die "Linux (Debian 12) only"
take_run_lock
ensure_packages $PLATFORM_PACKAGES
pick_python

# --- what a previous run started ---------------------------------------------------------------
mkdir -p "$STATE"
stop_pid scheduler "service.cli scheduler"
stop_pid serve "service.cli serve"
stop_pid mailcatcher "mailcatcher.py"
for port in "$SMTP_PORT" "${SIDECAR_BIND##*:}"; do
  port_free "$port" || die "port $port is taken by a process up.sh did not start (a stale sidecar or catcher?): $(ss -ltnpH "sport = :$port" | head -1)"
done

# --- MariaDB ------------------------------------------------------------------------------------
mysql_root() { mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root "$@"; }
if ! mysql_root -e 'SELECT 1' >/dev/null 2>&1; then
  if [ -x /usr/sbin/mariadbd ]; then
    log "starting MariaDB"
    as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql \
      --bind-address=127.0.0.1 --port=3306
    wait_for "MariaDB on 127.0.0.1:3306" 60 mysql_root -e 'SELECT 1'
  else
    die "no MariaDB answers on 127.0.0.1:3306 as root without a password (bash .ci/run installs and starts one)"
  fi
fi
log "database $DB_NAME (dropped and recreated)"
mysql_root -e "DROP DATABASE IF EXISTS $DB_NAME;
  CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;
  CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
  CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
  GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
  GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';"

# --- shared secret, logs ------------------------------------------------------------------------
[ -s "$STATE/secret" ] || (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$STATE/secret")
SECRET=$(cat "$STATE/secret")
DEBUG_LOG="$STATE/debug.log"
: > "$DEBUG_LOG"
chmod 666 "$DEBUG_LOG"  # written by apache's www-data and by the CLI activation (root)
rm -rf "$STATE/mail" && mkdir -p "$STATE/mail"
log "starting the mail catcher on 127.0.0.1:$SMTP_PORT"
setsid "$PY" "$DEV_DIR/mailcatcher.py" --port "$SMTP_PORT" --dir "$STATE/mail" > "$STATE/mailcatcher.log" 2>&1 < /dev/null 9>&- &
echo $! > "$STATE/mailcatcher.pid"
wait_for "the mail catcher (log: $STATE/mailcatcher.log)" 30 grep -q '^listening' "$STATE/mailcatcher.log"

# --- WordPress, installed by its own PHP ----------------------------------------------------------
SENDMAIL="/usr/bin/python3 $DEV_DIR/sendmail.py --port $SMTP_PORT"
wp_env=(WP_DB_NAME=$DB_NAME WP_DB_USER=$DB_USER WP_DB_PASSWORD=$DB_PASSWORD WP_DB_HOST=127.0.0.1:3306)
log "WordPress installs the network (tests/wordpress/install_network.php, populate_network.php)"
env "${wp_env[@]}" WP_INSTALLING=1 php -d "sendmail_path=$SENDMAIL" "$ROOT/tests/wordpress/install_network.php" > "$STATE/wp-install.json"
env "${wp_env[@]}" WP_MULTISITE=1 php -d "sendmail_path=$SENDMAIL" "$ROOT/tests/wordpress/populate_network.php" "$DEV_DIR/platform.json" \
  > "$STATE/wp-users.json"
user_id() { "$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][0]["users"][sys.argv[2]])' \
  "$STATE/wp-users.json" "$1"; }
OPERATOR=$(user_id operator)

# --- the sidecar on the same database --------------------------------------------------------------
export LOP_DATABASE_URL="mysql+mysqlconnector://$DB_USER:$DB_PASSWORD@127.0.0.1:3306/$DB_NAME"
export LOP_SHARED_SECRET=$SECRET
export LOP_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
export LOP_MAIL_FROM=${LOP_MAIL_FROM:-"LOP Platform <noreply@lop.test>"}
export LOP_API_URL="http://$SIDECAR_BIND"
export LOP_CALL_USER=$OPERATOR
cat > "$STATE/env.sh" <<ENV
# source this to run lop-sidecar against the platform (calls act as the operator)
export LOP_DATABASE_URL='$LOP_DATABASE_URL' LOP_SHARED_SECRET='$SECRET' LOP_SMTP_URL='$LOP_SMTP_URL'
export LOP_MAIL_FROM='$LOP_MAIL_FROM' LOP_API_URL='$LOP_API_URL' LOP_CALL_USER=$OPERATOR
ENV
log "sidecar: migrate, sites enable 2 3, demo-fill 2=BaO 3=SO"
sidecar migrate > "$STATE/migrate.log"
sidecar sites enable 2 >> "$STATE/migrate.log"
sidecar sites enable 3 >> "$STATE/migrate.log"
sidecar demo-fill 2=BaO 3=SO

log "starting the sidecar and its scheduler"
(cd "$ROOT" && PYTHONPATH="$ROOT" exec setsid "$PY" -m service.cli serve --bind "$SIDECAR_BIND" --workers 2 --threads 4 \
  > "$STATE/serve.log" 2>&1 < /dev/null 9>&-) &
echo $! > "$STATE/serve.pid"
(cd "$ROOT" && PYTHONPATH="$ROOT" exec setsid "$PY" -m service.cli scheduler > "$STATE/scheduler.log" 2>&1 < /dev/null 9>&-) &
echo $! > "$STATE/scheduler.pid"

wait_for "the sidecar's health (log: $STATE/serve.log)" 60 curl -fsS "$LOP_API_URL/api/v1/health"
scheduler_fresh() { curl -fsS "$LOP_API_URL/api/v1/health" | "$PY" -c \
  'import json,sys; s=json.load(sys.stdin)["scheduler"]; sys.exit(0 if s and s["heartbeat_age_seconds"] < 30 else 1)'; }
wait_for "the scheduler's heartbeat (log: $STATE/scheduler.log)" 60 scheduler_fresh

# the platform's school admin, linked to the first school of the SO site through the API
SCHOOL=$(sidecar call GET /api/v1/sites/3/schools | "$PY" -c 'import json,sys; s=json.load(sys.stdin)["schools"][0]; print(s["id"], s["name"], sep="\t")')
sidecar call POST "/api/v1/sites/3/schools/${SCHOOL%%$'\t'*}/admins" --data '{"email": "directie.demo@example.org"}' > /dev/null

# --- the plugin -----------------------------------------------------------------------------------------
PLUGIN_STATE="not installed: wp-plugin/lop-sidecar/lop-sidecar.php does not exist yet"
if [ -n "${LOP_PLATFORM_NO_PLUGIN:-}" ]; then
  rm -f "$WP_PLUGINS/lop-sidecar"
  PLUGIN_STATE="left out (LOP_PLATFORM_NO_PLUGIN): stock WordPress"
elif [ -f "$PLUGIN_DIR/lop-sidecar.php" ]; then
  ln -sfn "$PLUGIN_DIR" "$WP_PLUGINS/lop-sidecar"
  env "${wp_env[@]}" WP_MULTISITE=1 LOP_DEBUG_LOG="$DEBUG_LOG" LOP_SIDECAR_URL="$LOP_API_URL" LOP_SIDECAR_SECRET="$SECRET" \
    php -d "sendmail_path=$SENDMAIL" "$DEV_DIR/activate_plugin.php" > "$STATE/activate.json" || die "activating the plugin failed (see above)"
  grep -q '"network_active":true' "$STATE/activate.json" || die "the plugin is not network-active: $(cat "$STATE/activate.json")"
  PLUGIN_STATE="network-activated ($WP_PLUGINS/lop-sidecar -> $PLUGIN_DIR)"
fi

# --- apache2 on port 80 ---------------------------------------------------------------------------------
sed -e "s|@DB_NAME@|$DB_NAME|; s|@DB_USER@|$DB_USER|; s|@DB_PASSWORD@|$DB_PASSWORD|; s|@DEBUG_LOG@|$DEBUG_LOG|" \
    -e "s|@SIDECAR_URL@|$LOP_API_URL|; s|@SECRET@|$SECRET|; s|@KEY@|$(printf %s "$SECRET" | sha256sum | cut -c1-40)|g" \
    "$DEV_DIR/wp-config.php.in" > "$STATE/config-$HOST.php"
as_root install -m 640 -o root -g www-data "$STATE/config-$HOST.php" "$WP_HOST_CONFIG"
rm -f "$STATE/config-$HOST.php"
sed -e "s|@STATE@|$STATE|g; s|@PLUGIN_DIR@|$PLUGIN_DIR|g; s|@SENDMAIL@|$SENDMAIL|g" "$DEV_DIR/apache-lop.test.conf.in" > "$STATE/apache.conf"
as_root install -m 644 "$STATE/apache.conf" "$APACHE_SITE"
as_root a2enmod -q rewrite >/dev/null
as_root a2ensite -q lop-platform >/dev/null
apache_running() { [ -f /run/apache2/apache2.pid ] && kill -0 "$(cat /run/apache2/apache2.pid)" 2>/dev/null; }
if apache_running && [ -n "${PACKAGES_INSTALLED:-}" ]; then
  as_root apache2ctl restart 9>&-
elif apache_running; then
  as_root apache2ctl graceful 9>&-
else
  if ss -ltnH 'sport = :80' | grep -q .; then
    die "port 80 is taken by another program ($(ss -ltnpH 'sport = :80' | head -1)): WordPress multisite needs http://lop.test/ on port 80; stop that program and run up.sh again"
  fi
  as_root apache2ctl start 2> "$STATE/apache-start.log" 9>&- || die "apache2 could not start on port 80: $(cat "$STATE/apache-start.log")"
  touch "$STATE/apache.started"  # down.sh stops it
fi
wp_login_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1/scheldeland-so/wp-login.php")" = 200 ]; }
wait_for "WordPress on http://$HOST/ (apache2 log: $STATE/apache-error.log)" 30 wp_login_answers

cat <<SUMMARY

The platform is up ($((SECONDS - started)) s). Map lop.test to 127.0.0.1 (/etc/hosts, or Chromium's
--host-resolver-rules="MAP lop.test 127.0.0.1") and open:
  http://$HOST/wp-admin/network/          the network (operator)
  http://$HOST/scheldeland-bao/wp-admin/  LOP Scheldeland Basisonderwijs (site 2, BaO)
  http://$HOST/scheldeland-so/wp-admin/   LOP Scheldeland Secundair Onderwijs (site 3, SO)
Accounts (login / password):
  operator / operator-password-123                super admin (operator of every LOP site)
  an.deskundige / deskundige-password-123         LOP expert (administrator) of site 2
  bert.deskundige / deskundige-password-123       LOP expert (administrator) of site 3
  directie.demo / directie-password-123           school admin of "${SCHOOL#*$'\t'}" (site 3)
Plugin: $PLUGIN_STATE
Sidecar: $LOP_API_URL (logs $STATE/serve.log, $STATE/scheduler.log); source $STATE/env.sh to use lop-sidecar call
Mails: every mail the sidecar sends lands in $STATE/mail/ (NNNNNN.json and .eml)
WordPress debug.log: $DEBUG_LOG
Stop: bash wp-plugin/dev/down.sh
SUMMARY

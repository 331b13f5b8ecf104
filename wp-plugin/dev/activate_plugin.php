<?php
// Network-activates the plugin on the platform (wp-plugin/dev/up.sh), through WordPress's own
// activate_plugin(..., '', true), with the same debug settings and sidecar constants as the web server, so
// anything the activation logs lands in the platform's debug.log. Environment: WP_DB_* as for
// tests/wordpress/bootstrap.php, WP_MULTISITE=1, LOP_DEBUG_LOG, LOP_SIDECAR_URL, LOP_SIDECAR_SECRET.
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', getenv('LOP_DEBUG_LOG'));
define('WP_DEBUG_DISPLAY', false);
define('LOP_SIDECAR_URL', getenv('LOP_SIDECAR_URL'));
define('LOP_SIDECAR_SECRET', getenv('LOP_SIDECAR_SECRET'));
define('WP_CONTENT_DIR', '/var/lib/wordpress/wp-content');
require __DIR__ . '/../../tests/wordpress/bootstrap.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
$result = activate_plugin('lop-sidecar/lop-sidecar.php', '', true);
if (is_wp_error($result)) {
    fwrite(STDERR, 'activate_plugin: ' . $result->get_error_message() . "\n");
    exit(1);
}
echo json_encode(['network_active' => is_plugin_active_for_network('lop-sidecar/lop-sidecar.php')]), "\n";

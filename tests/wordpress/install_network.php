<?php
// Step 1 of the test network (tests only): WordPress installs itself and turns into a path-based
// multisite network on lop.test, as wp-cli's `core multisite-install` does. The super admin is "operator".
require __DIR__ . '/bootstrap.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install('Portaal', 'operator', 'operator@example.org', true, '', 'operator-password-123');
wp_update_user(['ID' => $result['user_id'], 'display_name' => 'Operator']);
foreach ($wpdb->tables('ms_global') as $table => $prefixed) {
    $wpdb->$table = $prefixed;  // not yet multisite: wpdb does not know the network tables
}
install_network();
$populated = populate_network(1, 'lop.test', 'operator@example.org', 'Portaal', '/', false);
if (is_wp_error($populated)) {
    fwrite(STDERR, $populated->get_error_message() . "\n");
    exit(1);
}
echo json_encode(['user_id' => $result['user_id'], 'db_version' => get_option('db_version')]), "\n";

<?php
// Let WordPress install its own tables and first administrator (tests only).
require __DIR__ . '/bootstrap.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install('LOP Test', 'admin', 'admin@lop.test', true, '', 'admin-password-123');
echo json_encode(['user_id' => $result['user_id'], 'db_version' => get_option('db_version')]), "\n";

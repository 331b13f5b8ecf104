<?php
// Loads Debian's WordPress against the test database named in the environment (tests only).
// wp-config.php is bypassed: the constants it would define are set here. WP_MULTISITE=1 loads the
// network that install_network.php made (path-based, on lop.test); WP_DB_COLLATE/WP_DB_CHARSET let a
// test install part of a network under another collation, as sites that changed wp-config over the years.
define('DB_NAME', getenv('WP_DB_NAME'));
define('DB_USER', getenv('WP_DB_USER') ?: 'root');
define('DB_PASSWORD', getenv('WP_DB_PASSWORD') ?: '');
define('DB_HOST', getenv('WP_DB_HOST') ?: '127.0.0.1:3306');
define('DB_CHARSET', getenv('WP_DB_CHARSET') ?: 'utf8mb4');
define('DB_COLLATE', getenv('WP_DB_COLLATE') ?: '');
define('WP_HOME', 'http://lop.test');
define('WP_SITEURL', 'http://lop.test');
define('AUTH_KEY', 'test'); define('SECURE_AUTH_KEY', 'test'); define('LOGGED_IN_KEY', 'test'); define('NONCE_KEY', 'test');
define('AUTH_SALT', 'test'); define('SECURE_AUTH_SALT', 'test'); define('LOGGED_IN_SALT', 'test'); define('NONCE_SALT', 'test');
defined('WP_DEBUG') || define('WP_DEBUG', false);  // a caller may log (wp-plugin/dev/activate_plugin.php)
define('DISABLE_WP_CRON', true);
if (getenv('WP_MULTISITE')) {
    define('MULTISITE', true);
    define('SUBDOMAIN_INSTALL', false);
    define('DOMAIN_CURRENT_SITE', 'lop.test');
    define('PATH_CURRENT_SITE', '/');
    define('SITE_ID_CURRENT_SITE', 1);
    define('BLOG_ID_CURRENT_SITE', 1);
}
$table_prefix = 'wp_';
$_SERVER['HTTP_HOST'] = 'lop.test';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';
define('ABSPATH', (getenv('WP_PATH') ?: '/usr/share/wordpress') . '/');
if (getenv('WP_INSTALLING')) {
    define('WP_INSTALLING', true);
}
require_once ABSPATH . 'wp-settings.php';

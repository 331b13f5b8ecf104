<?php
// Router for `php -S` (bench/api_overhead.py only): Debian's WordPress answering its own REST API on the
// database named in the environment, as wp-blog-header.php would, with tests/wordpress/bootstrap.php's
// constants (its own REQUEST_URI and HTTP_HOST are those of the request here).
define('DB_NAME', getenv('WP_DB_NAME'));
define('DB_USER', getenv('WP_DB_USER') ?: 'root');
define('DB_PASSWORD', getenv('WP_DB_PASSWORD') ?: '');
define('DB_HOST', getenv('WP_DB_HOST') ?: '127.0.0.1:3306');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('AUTH_KEY', 'bench'); define('SECURE_AUTH_KEY', 'bench'); define('LOGGED_IN_KEY', 'bench'); define('NONCE_KEY', 'bench');
define('AUTH_SALT', 'bench'); define('SECURE_AUTH_SALT', 'bench'); define('LOGGED_IN_SALT', 'bench'); define('NONCE_SALT', 'bench');
define('WP_DEBUG', false);
define('DISABLE_WP_CRON', true);
define('MULTISITE', true);
define('SUBDOMAIN_INSTALL', false);
define('DOMAIN_CURRENT_SITE', 'lop.test');
define('PATH_CURRENT_SITE', '/');
define('SITE_ID_CURRENT_SITE', 1);
define('BLOG_ID_CURRENT_SITE', 1);
$table_prefix = 'wp_';
$_SERVER['HTTP_HOST'] = 'lop.test';
define('ABSPATH', '/usr/share/wordpress/');
define('WP_USE_THEMES', true);
require_once ABSPATH . 'wp-settings.php';
wp();
require_once ABSPATH . WPINC . '/template-loader.php';

<?php
/**
 * Plugin Name: LOP-service
 * Description: De schermen van de LOP-service (lop-sidecar) in WordPress: scholen en hun beheerders, import, export, logbestand, Onderwijs Vlaanderen, instellingen en synchronisaties. Dun: alle regels staan in de LOP-service.
 * Version: 0.1.0
 * Requires at least: 6.1
 * Requires PHP: 8.1
 * Network: true
 * Text Domain: lop-sidecar
 * License: GPL-2.0-or-later
 *
 * Configuration (wp-config.php, never options or the database): LOP_SIDECAR_URL and LOP_SIDECAR_SECRET.
 */

defined('ABSPATH') || exit;

const LOP_SIDECAR_VERSION = '0.1.0';
const LOP_SIDECAR_FILE = __FILE__;

require_once __DIR__ . '/includes/class-lop-sidecar-signer.php';
require_once __DIR__ . '/includes/class-lop-sidecar-client.php';
require_once __DIR__ . '/includes/class-lop-sidecar-admin.php';
require_once __DIR__ . '/includes/class-lop-sidecar-wordpress.php';
require_once __DIR__ . '/includes/class-lop-sidecar-public.php';
require_once __DIR__ . '/includes/class-lop-sidecar-switch.php';
foreach (glob(__DIR__ . '/includes/screens/*.php') ?: [] as $lop_sidecar_screen) {
    require_once $lop_sidecar_screen;
}
unset($lop_sidecar_screen);

LOP_Sidecar_Admin::boot();

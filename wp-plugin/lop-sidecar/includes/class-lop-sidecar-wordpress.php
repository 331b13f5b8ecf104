<?php
/**
 * WordPress around the sidecar: the school-admin role on every site, what WordPress must hear after the sidecar
 * wrote users, roles or options behind its back (the `wordpress` member of a write's answer), and the purge of
 * a LOP site WordPress deleted. Deactivation and uninstall never touch LOP data: there is no handler for them.
 */

defined('ABSPATH') || exit;

// The sidecar's LOP_ROLE_SCHOOL_ADMIN; wp-config.php may define another slug (both sides must agree).
defined('LOP_SIDECAR_SCHOOL_ADMIN_ROLE') || define('LOP_SIDECAR_SCHOOL_ADMIN_ROLE', 'schoolbeheerder');

final class LOP_Sidecar_WordPress
{
    public const TIMEZONE = 'Europe/Brussels';

    public static function boot(): void
    {
        register_activation_hook(LOP_SIDECAR_FILE, [self::class, 'activate']);
        // After WordPress's own initialisation of the new site (priority 10 creates its tables and roles).
        add_action('wp_initialize_site', [self::class, 'initialize_site'], 20);
        // A network activated by other means than the activation hook still gets the role, once per site.
        add_action('init', [self::class, 'ensure_role']);
        // Fires after the wp_blogs row is gone: the sidecar refuses to purge a site WordPress still has.
        add_action('wp_delete_site', [self::class, 'purge_site']);
    }

    /** Network activation (or activation on one site): the school-admin role on every site of the network. */
    public static function activate($network_wide = false): void
    {
        if (!is_multisite() || !$network_wide) {
            self::ensure_role();
            return;
        }
        foreach (get_sites(['fields' => 'ids', 'number' => 0, 'network_id' => get_current_network_id()]) as $blog_id) {
            switch_to_blog((int) $blog_id);
            self::ensure_role();
            restore_current_blog();
        }
    }

    public static function initialize_site($site): void
    {
        if (!$site instanceof WP_Site) {
            return;
        }
        switch_to_blog((int) $site->blog_id);
        self::ensure_role();
        restore_current_blog();
    }

    /** Idempotent: adds the role to the current site when it lacks it (one lookup in the loaded roles). */
    public static function ensure_role(): void
    {
        if (get_role(LOP_SIDECAR_SCHOOL_ADMIN_ROLE) === null) {
            add_role(LOP_SIDECAR_SCHOOL_ADMIN_ROLE, 'Schoolbeheerder', ['read' => true]);
        }
    }

    /** WordPress deleted a site: the sidecar archives its log and drops its LOP tables (a queued job). */
    public static function purge_site($site): void
    {
        if (!$site instanceof WP_Site || !LOP_Sidecar_Client::configured()) {
            return;
        }
        $response = LOP_Sidecar_Client::request('POST', '/api/v1/sites/' . (int) $site->blog_id . '/purge');
        if (!$response->ok() && $response->status !== 404) {
            // Not a LOP site (404) needs nothing; anything else the operator can redo with `lop-sidecar sites purge`.
            error_log(sprintf('lop-sidecar: purge of site %d not queued: %s', (int) $site->blog_id, $response->detail()));
        }
    }

    /**
     * Tell WordPress what the sidecar changed: clear the named users' caches, refresh the network's user
     * counts, forget cached options, and fire WordPress's own actions so other plugins hear of it.
     *
     * @param mixed $effects the `wordpress` member of a write's answer (or the X-LOP-WordPress header, decoded)
     */
    public static function after_write($effects): void
    {
        if (!is_array($effects)) {
            return;
        }
        foreach (is_array($effects['clean_user_cache'] ?? null) ? $effects['clean_user_cache'] : [] as $user_id) {
            $user_id = absint($user_id);
            if ($user_id > 0) {
                clean_user_cache($user_id);
                wp_cache_delete($user_id, 'user_meta');  // WordPress 6.1's clean_user_cache() keeps it
            }
        }
        foreach (is_array($effects['options'] ?? null) ? $effects['options'] : [] as $option) {
            $blog_id = absint($option['blog_id'] ?? 0);
            $name = is_string($option['name'] ?? null) ? $option['name'] : '';
            if ($blog_id > 0 && $name !== '') {
                switch_to_blog($blog_id);
                wp_cache_delete('notoptions', 'options');
                wp_cache_delete('alloptions', 'options');
                wp_cache_delete($name, 'options');
                restore_current_blog();
            }
        }
        if (is_multisite() && ($effects['clean_user_cache'] ?? []) !== []) {
            wp_update_network_user_counts();
        }
        foreach (is_array($effects['actions'] ?? null) ? $effects['actions'] : [] as $action) {
            $user_id = absint($action['user_id'] ?? 0);
            $blog_id = absint($action['blog_id'] ?? 0);
            $role = sanitize_key((string) ($action['role'] ?? ''));
            if ($user_id === 0) {
                continue;
            }
            switch ($action['name'] ?? '') {
                case 'user_register':
                    $user = get_userdata($user_id);
                    do_action('user_register', $user_id, $user ? ['user_login' => $user->user_login,
                        'user_email' => $user->user_email, 'role' => $role] : []);
                    break;
                case 'add_user_to_blog':
                    do_action('add_user_to_blog', $user_id, $role, $blog_id);
                    break;
                case 'remove_user_from_blog':
                    do_action('remove_user_from_blog', $user_id, $blog_id, 0);
                    break;
            }
        }
    }

    /** An instant of the log as people read it, to the second: 20/12/2026 09:00:05, Brussels time. */
    public static function local_time_seconds(?string $iso): string
    {
        if ($iso === null || $iso === '') {
            return '';
        }
        try {
            $when = new DateTimeImmutable($iso);
        } catch (Exception $e) {
            return $iso;
        }
        return $when->setTimezone(new DateTimeZone(self::TIMEZONE))->format('d/m/Y H:i:s');
    }

    /** A date YYYY-MM-DD as people read it: 01/07/2027. */
    public static function local_date(?string $date): string
    {
        return is_string($date) && preg_match('/^(\d{4})-(\d{2})-(\d{2})$/', $date, $m) ? "$m[3]/$m[2]/$m[1]" : (string) $date;
    }
}

LOP_Sidecar_WordPress::boot();

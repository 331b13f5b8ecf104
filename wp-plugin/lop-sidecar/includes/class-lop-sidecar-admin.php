<?php
/**
 * The "Extra" menu and what every screen shares: registration, the capability and nonce checks, rendering a
 * problem (the sidecar's Dutch `detail`, each field's message next to its field), links and the assets.
 * Screens live in includes/screens/ and register themselves with LOP_Sidecar_Admin::screen().
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Admin
{
    /** Operators (super admins) and the site's LOP experts (WordPress administrators of the site). */
    public const CAPABILITY = 'manage_options';
    public const MENU_SLUG = 'lop-extra';

    /** @var array<string, array{title: string, render: callable, post: ?callable, download: ?callable, position: int}> */
    private static array $screens = [];

    /**
     * Register a screen of the Extra menu. `render` prints the page; `post` handles its form (after the nonce
     * and capability checks) and returns the notice to show, or redirects; `download` streams a file.
     */
    public static function screen(string $slug, string $title, callable $render, ?callable $post = null,
                                  ?callable $download = null, int $position = 50): void
    {
        self::$screens[$slug] = ['title' => $title, 'render' => $render, 'post' => $post, 'download' => $download,
            'position' => $position];
    }

    public static function boot(): void
    {
        add_action('admin_menu', [self::class, 'menu']);
        add_action('admin_enqueue_scripts', [self::class, 'assets']);
        add_action('admin_post_lop_sidecar', [self::class, 'handle_post']);
        add_action('admin_post_lop_sidecar_download', [self::class, 'handle_download']);
        add_action('admin_notices', [self::class, 'configuration_notice']);
        add_action('network_admin_notices', [self::class, 'configuration_notice']);
    }

    public static function menu(): void
    {
        if (!current_user_can(self::CAPABILITY) || self::$screens === []) {
            return;
        }
        $first = self::first_slug();
        add_menu_page('Extra', 'Extra', self::CAPABILITY, self::MENU_SLUG,
            static fn() => self::render($first), 'dashicons-welcome-learn-more', 3);
        foreach (self::$screens as $slug => $screen) {
            add_submenu_page(self::MENU_SLUG, $screen['title'], $screen['title'], self::CAPABILITY,
                $slug === $first ? self::MENU_SLUG : 'lop-' . $slug,
                $slug === $first ? '' : static fn() => self::render($slug));  // the first page: add_menu_page renders it
        }
    }

    /** The screen that opens the Extra menu: the lowest position (the screens sorted, wherever this is asked). */
    private static function first_slug(): ?string
    {
        uasort(self::$screens, static fn(array $a, array $b): int => $a['position'] <=> $b['position']);
        return array_key_first(self::$screens);
    }

    public static function url(string $slug, array $args = []): string
    {
        $first = self::first_slug();
        $page = $slug === $first ? self::MENU_SLUG : 'lop-' . $slug;
        return add_query_arg(array_merge(['page' => $page], $args), admin_url('admin.php'));
    }

    /** The URL that streams a download through admin-post.php (signed by the nonce of that screen). */
    public static function download_url(string $slug, array $args = []): string
    {
        return add_query_arg(array_merge(['action' => 'lop_sidecar_download', 'screen' => $slug,
            '_wpnonce' => wp_create_nonce('lop_sidecar_download_' . $slug)], $args), admin_url('admin-post.php'));
    }

    /** A form's opening tag, posting to admin-post.php with the screen's nonce. */
    public static function form_open(string $slug, string $do, array $attributes = []): void
    {
        $extra = '';
        foreach ($attributes as $name => $value) {
            $extra .= ' ' . esc_attr($name) . '="' . esc_attr($value) . '"';
        }
        echo '<form method="post" action="' . esc_url(admin_url('admin-post.php')) . '"' . $extra . '>';
        echo '<input type="hidden" name="action" value="lop_sidecar">';
        echo '<input type="hidden" name="screen" value="' . esc_attr($slug) . '">';
        echo '<input type="hidden" name="do" value="' . esc_attr($do) . '">';
        wp_nonce_field('lop_sidecar_' . $slug . '_' . $do);
    }

    private static function render(string $slug): void
    {
        if (!current_user_can(self::CAPABILITY)) {
            wp_die(esc_html__('Je hebt geen toegang tot deze pagina.', 'lop-sidecar'), 403);
        }
        echo '<div class="wrap lop-sidecar">';
        echo '<h1>' . esc_html(self::$screens[$slug]['title']) . '</h1>';
        self::flash_notice();
        if (!LOP_Sidecar_Client::configured()) {
            echo '</div>';
            return;  // the configuration notice says what to add
        }
        (self::$screens[$slug]['render'])();
        echo '</div>';
    }

    public static function handle_post(): void
    {
        $slug = sanitize_key(wp_unslash($_POST['screen'] ?? ''));
        $do = sanitize_key(wp_unslash($_POST['do'] ?? ''));
        if (!isset(self::$screens[$slug]) || self::$screens[$slug]['post'] === null) {
            wp_die(esc_html__('Onbekend formulier.', 'lop-sidecar'), 400);
        }
        check_admin_referer('lop_sidecar_' . $slug . '_' . $do);
        if (!current_user_can(self::CAPABILITY)) {
            wp_die(esc_html__('Je hebt geen toegang tot deze pagina.', 'lop-sidecar'), 403);
        }
        $result = (self::$screens[$slug]['post'])($do);
        // Post/redirect/get: the outcome travels in a short-lived per-user transient, never in the URL.
        if (is_array($result)) {
            self::set_flash($result);
        }
        $back = is_array($result) && isset($result['redirect']) ? (string) $result['redirect'] : wp_get_referer();
        wp_safe_redirect($back ?: self::url($slug));
        exit;
    }

    public static function handle_download(): void
    {
        $slug = sanitize_key(wp_unslash($_GET['screen'] ?? ''));
        if (!isset(self::$screens[$slug]) || self::$screens[$slug]['download'] === null) {
            wp_die(esc_html__('Onbekende download.', 'lop-sidecar'), 400);
        }
        check_admin_referer('lop_sidecar_download_' . $slug);
        if (!current_user_can(self::CAPABILITY)) {
            wp_die(esc_html__('Je hebt geen toegang tot deze pagina.', 'lop-sidecar'), 403);
        }
        $problem = (self::$screens[$slug]['download'])();
        if ($problem instanceof LOP_Sidecar_Response) {
            self::set_flash(self::problem_notice($problem));
            wp_safe_redirect(wp_get_referer() ?: self::url($slug));
        }
        exit;
    }

    /**
     * The notice for a failed call.
     *
     * @return array{type: string, message: string, fields: array<string, list<string>>}
     */
    public static function problem_notice(LOP_Sidecar_Response $response): array
    {
        return ['type' => 'error', 'message' => $response->detail(), 'fields' => $response->field_errors()];
    }

    public static function success_notice(string $message, array $extra = []): array
    {
        return array_merge(['type' => 'success', 'message' => $message, 'fields' => []], $extra);
    }

    private static function flash_key(): string
    {
        return 'lop_sidecar_flash_' . get_current_user_id();
    }

    /** Keep a form's outcome for the next page of this user (post/redirect/get: never in the URL). */
    public static function set_flash(array $notice): void
    {
        set_transient(self::flash_key(), $notice, 120);
    }

    /** The outcome of the last form of this user (post/redirect/get), once. */
    public static function flash(): ?array
    {
        static $flash = false;
        if ($flash === false) {
            $key = self::flash_key();
            $flash = get_transient($key) ?: null;
            delete_transient($key);
        }
        return $flash;
    }

    private static function flash_notice(): void
    {
        $flash = self::flash();
        if ($flash !== null) {
            self::notice($flash['type'] ?? 'info', (string) ($flash['message'] ?? ''));
        }
    }

    public static function notice(string $type, string $message): void
    {
        $class = in_array($type, ['error', 'warning', 'success', 'info'], true) ? $type : 'info';
        echo '<div class="notice notice-' . esc_attr($class) . '"><p>' . esc_html($message) . '</p></div>';
    }

    /** A failed page call, as a notice on a page that still renders. */
    public static function problem(LOP_Sidecar_Response $response): void
    {
        self::notice($response->unreachable ? 'warning' : 'error', $response->detail());
    }

    /** The sidecar's messages for one field of the last form, printed next to that field. */
    public static function field_messages(string $field): void
    {
        $flash = self::flash();
        foreach ($flash['fields'][$field] ?? [] as $message) {
            echo '<p class="lop-field-error" role="alert">' . esc_html($message) . '</p>';
        }
    }

    public static function assets(string $hook): void
    {
        if (!str_contains($hook, 'lop-')) {
            return;
        }
        $base = plugins_url('assets/', LOP_SIDECAR_FILE);
        wp_enqueue_style('lop-sidecar-admin', $base . 'admin.css', [], LOP_SIDECAR_VERSION);
        wp_enqueue_script('lop-sidecar-admin', $base . 'admin.js', [], LOP_SIDECAR_VERSION, true);
    }

    public static function configuration_notice(): void
    {
        $missing = LOP_Sidecar_Client::missing_configuration();
        if ($missing === [] || !current_user_can(self::CAPABILITY)) {
            return;
        }
        $lines = array_map(static fn(string $name): string => sprintf("define('%s', '…');", $name), $missing);
        echo '<div class="notice notice-warning"><p>'
            . esc_html__('De LOP-service is niet ingesteld. Voeg aan wp-config.php toe:', 'lop-sidecar')
            . '</p><pre>' . esc_html(implode("\n", $lines)) . '</pre></div>';
    }

    /** The site's sidecar path: /api/v1/sites/{id}… */
    public static function site_path(string $rest = ''): string
    {
        return '/api/v1/sites/' . get_current_blog_id() . $rest;
    }

    /**
     * An instant the sidecar sends (ISO 8601, UTC "…Z" or with an offset) as people read it: Brussels time,
     * 20/12/2026 09:00. Empty or unreadable: the fallback.
     */
    public static function local_time(?string $iso, string $fallback = '—'): string
    {
        if ($iso === null || $iso === '') {
            return $fallback;
        }
        try {
            $instant = new DateTimeImmutable($iso);
        } catch (Exception) {
            return $fallback;
        }
        return $instant->setTimezone(new DateTimeZone('Europe/Brussels'))->format('d/m/Y H:i');
    }

    /** Whether the current admin page is this screen (for enqueueing a screen's own assets). */
    public static function is_screen(string $slug): bool
    {
        if (!isset(self::$screens[$slug]) || !is_admin()) {
            return false;
        }
        $page = sanitize_key(wp_unslash($_GET['page'] ?? ''));
        return $page !== '' && $page === ($slug === self::first_slug() ? self::MENU_SLUG : 'lop-' . $slug);
    }
}

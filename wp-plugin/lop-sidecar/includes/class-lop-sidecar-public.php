<?php
/**
 * The public free-places table for parents: the shortcode [lop_vrije_plaatsen jaar="lopend|volgend" type="…"]
 * and the same as a dynamic block (lop-sidecar/vrije-plaatsen). It renders the sidecar's table
 * (GET /api/v1/sites/{site}/free-places, signed as user 0: the site itself) as the sidecar sends it.
 *
 * Registration week: the rendered table and its ETag are kept in a transient (per site, year and type) and
 * revalidated with If-None-Match at most every 30 s, by one request at a time (a MariaDB named lock, so a
 * crowd arriving at once does not revalidate in parallel; the others serve the table they have). The call has
 * a 1 s timeout: the sidecar down or slow → the last table with "laatst bijgewerkt op …", never an empty page.
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Public
{
    public const SHORTCODE = 'lop_vrije_plaatsen';
    public const BLOCK = 'lop-sidecar/vrije-plaatsen';
    public const FRESH_SECONDS = 30;
    public const TIMEOUT = 1;
    /** The last table stays this long without the sidecar (a transient with an expiry is not autoloaded). */
    public const KEEP_SECONDS = 30 * DAY_IN_SECONDS;
    private const YEARS = ['lopend' => 'current', 'volgend' => 'next'];

    public static function boot(): void
    {
        add_shortcode(self::SHORTCODE, [self::class, 'shortcode']);
        add_action('init', [self::class, 'register_block']);
        add_action('wp_enqueue_scripts', [self::class, 'assets']);
    }

    /** A dynamic block without an editor script: it renders the shortcode (attributes as the shortcode's). */
    public static function register_block(): void
    {
        if (!function_exists('register_block_type') || WP_Block_Type_Registry::get_instance()->is_registered(self::BLOCK)) {
            return;
        }
        register_block_type(self::BLOCK, [
            'api_version' => 2,
            'title' => __('Vrije plaatsen', 'lop-sidecar'),
            'category' => 'widgets',
            'attributes' => [
                'jaar' => ['type' => 'string', 'default' => 'lopend'],
                'type' => ['type' => 'string', 'default' => ''],
            ],
            'render_callback' => static fn($attributes): string => self::shortcode(is_array($attributes) ? $attributes : []),
        ]);
    }

    public static function assets(): void
    {
        $post = get_post();
        if ($post instanceof WP_Post && (has_shortcode($post->post_content, self::SHORTCODE)
                || (function_exists('has_block') && has_block(self::BLOCK, $post)))) {
            self::enqueue();
        }
    }

    private static function enqueue(): void
    {
        wp_enqueue_style('lop-sidecar-public', plugins_url('assets/public.css', LOP_SIDECAR_FILE), [], LOP_SIDECAR_VERSION);
    }

    /** @param array<string, mixed>|string $attributes */
    public static function shortcode($attributes = []): string
    {
        self::enqueue();  // printed in the footer when the page's content did not announce the table
        $attributes = shortcode_atts(['jaar' => 'lopend', 'type' => ''], is_array($attributes) ? $attributes : [],
            self::SHORTCODE);
        $jaar = sanitize_text_field((string) $attributes['jaar']);
        $year = self::YEARS[strtolower($jaar)] ?? $jaar;  // a school-year label goes as it is: the sidecar judges
        $type = sanitize_text_field((string) $attributes['type']);
        $entry = self::table($year === '' ? 'current' : $year, $type);

        $out = '<div class="lop-vp alignwide">';  // a block theme gives it its wide width (a table of many columns)
        if ($entry === null || !is_string($entry['html'] ?? null) || $entry['html'] === '') {
            $message = is_array($entry) && is_string($entry['detail'] ?? null) && $entry['detail'] !== ''
                && empty($entry['unreachable'])
                ? $entry['detail']
                : __('De vrije plaatsen zijn even niet beschikbaar. Probeer het over enkele minuten opnieuw.', 'lop-sidecar');
            return $out . '<p class="lop-vp-message">' . esc_html($message) . '</p></div>';
        }
        if (!empty($entry['failed'])) {
            $out .= '<p class="lop-vp-stale" role="status">' . esc_html(sprintf(
                /* translators: %s: 20/12/2026 09:00 */
                __('Deze cijfers zijn laatst bijgewerkt op %s. De actuele stand is even niet beschikbaar.', 'lop-sidecar'),
                self::local((int) $entry['confirmed_at']))) . '</p>';
        }
        return $out . $entry['html'] . '</div>';
    }

    /**
     * The cached entry of a table, revalidated when older than FRESH_SECONDS: `html` (null when there never was
     * a table), `etag`, `confirmed_at` (the sidecar last confirmed or sent it), `checked_at`, `failed` (the last
     * revalidation did not reach the sidecar or was refused), `detail`, `unreachable`.
     *
     * @return array<string, mixed>|null
     */
    private static function table(string $year, string $type): ?array
    {
        $key = 'lop_vp_' . md5(get_current_blog_id() . '|' . $year . '|' . $type);
        $entry = self::read($key);
        if ($entry !== null && time() - (int) $entry['checked_at'] < self::FRESH_SECONDS) {
            return $entry;
        }
        // One revalidation at a time: with a table in hand, the others serve it without waiting; without one,
        // they wait a moment for the one that asks and then read what it stored.
        $lock = self::lock_name($key);
        if (!self::lock($lock, $entry === null ? 2 : 0)) {
            return $entry ?? self::read($key, true);
        }
        try {
            $entry = self::read($key, true);  // another request may have revalidated while this one waited
            if ($entry !== null && time() - (int) $entry['checked_at'] < self::FRESH_SECONDS) {
                return $entry;
            }
            $entry = self::revalidate($year, $type, $entry);
            set_transient($key, $entry, self::KEEP_SECONDS);
            return $entry;
        } finally {
            self::unlock($lock);
        }
    }

    /** @return array<string, mixed>|null */
    private static function read(string $key, bool $from_database = false): ?array
    {
        if ($from_database) {  // past WordPress's per-request cache of the option
            wp_cache_delete('_transient_' . $key, 'options');
            wp_cache_delete('_transient_timeout_' . $key, 'options');
        }
        $entry = get_transient($key);
        return is_array($entry) && isset($entry['checked_at']) ? $entry : null;
    }

    /**
     * @param array<string, mixed>|null $entry
     * @return array<string, mixed>
     */
    private static function revalidate(string $year, string $type, ?array $entry): array
    {
        $now = time();
        $has_table = $entry !== null && is_string($entry['html'] ?? null) && $entry['html'] !== '';
        $response = self::fetch($year, $type, $has_table ? (string) ($entry['etag'] ?? '') : '');
        if ($has_table && $response->status === 304) {
            return array_merge($entry, ['checked_at' => $now, 'confirmed_at' => $now, 'failed' => false,
                'detail' => '', 'unreachable' => false]);
        }
        if ($response->ok() && is_array($response->json)) {
            return ['html' => self::render($response->json), 'etag' => (string) ($response->headers['etag'] ?? ''),
                'checked_at' => $now, 'confirmed_at' => $now, 'failed' => false, 'detail' => '',
                'unreachable' => false];
        }
        // Down, slow or refusing: keep the last table (if any) and say from when it is.
        return array_merge($entry ?? ['html' => null, 'etag' => '', 'confirmed_at' => 0], [
            'checked_at' => $now, 'failed' => true, 'detail' => $response->detail(),
            'unreachable' => $response->unreachable || $response->status >= 500,
        ]);
    }

    /** GET …/free-places signed as user 0 (the site itself, whoever is logged in), If-None-Match, 1 s. */
    private static function fetch(string $year, string $type, string $etag): LOP_Sidecar_Response
    {
        return LOP_Sidecar_Client::request('GET', '/api/v1/sites/' . get_current_blog_id() . '/free-places',
            ['year' => $year, 'type' => $type], null,
            ['as_site' => true, 'timeout' => self::TIMEOUT, 'headers' => $etag === '' ? [] : ['If-None-Match' => $etag]]);
    }

    /** A named lock of the database server (released when the connection ends, should PHP die holding it). */
    private static function lock_name(string $key): string
    {
        return 'lop_vp_' . substr(md5(DB_NAME . '|' . $key), 0, 40);
    }

    private static function lock(string $name, int $wait_seconds): bool
    {
        global $wpdb;
        return (string) $wpdb->get_var($wpdb->prepare('SELECT GET_LOCK(%s, %d)', $name, $wait_seconds)) === '1';
    }

    private static function unlock(string $name): void
    {
        global $wpdb;
        $wpdb->query($wpdb->prepare('SELECT RELEASE_LOCK(%s)', $name));
    }

    private static function local(int $timestamp): string
    {
        return (new DateTimeImmutable('@' . $timestamp))->setTimezone(new DateTimeZone(LOP_Sidecar_WordPress::TIMEZONE))
            ->format('d/m/Y H:i');
    }

    /**
     * The table as the sidecar sends it: schools in its (name) order, a column per programme in its display
     * order (each school's columns come in that order; the union keeps it), the AN column when a school has it.
     *
     * @param array<string, mixed> $table
     */
    private static function render(array $table): string
    {
        $schools = is_array($table['schools'] ?? null) ? array_values(array_filter($table['schools'], 'is_array')) : [];
        $programmes = is_array($table['programmes'] ?? null) ? $table['programmes'] : [];
        $codes = [];
        $has_an = false;
        foreach ($schools as $school) {
            $sequence = [];
            foreach (is_array($school['columns'] ?? null) ? $school['columns'] : [] as $column) {
                if (is_array($column) && isset($column['admgr_code'])) {
                    $sequence[] = (string) $column['admgr_code'];
                }
            }
            $codes = self::merge_order($codes, $sequence);
            $has_an = $has_an || is_array($school['an'] ?? null);
        }
        $caption_id = 'lop-vp-' . substr(md5(wp_json_encode([$table['school_year'] ?? '', $codes])), 0, 8);
        $school_year = is_string($table['school_year'] ?? null) ? $table['school_year'] : '';
        if ($schools === []) {
            return '<p class="lop-vp-message">' . esc_html(sprintf(
                /* translators: %s: 2026-2027 */
                __('Voor schooljaar %s zijn nog geen vrije plaatsen gepubliceerd.', 'lop-sidecar'), $school_year)) . '</p>';
        }

        /* translators: %s: 2026-2027 */
        $title = sprintf(__('Vrije plaatsen schooljaar %s', 'lop-sidecar'), $school_year);
        // The title people see stays put above the sideways-scrolling table; screen readers get it as the caption.
        $html = '<p class="lop-vp-title" aria-hidden="true">' . esc_html($title) . '</p>';
        $html .= '<div class="lop-vp-scroll" role="region" tabindex="0" aria-labelledby="' . esc_attr($caption_id) . '">';
        $html .= '<table class="lop-vp-table"><caption id="' . esc_attr($caption_id) . '" class="lop-vp-sr">'
            . esc_html($title) . '</caption>';
        $html .= '<thead><tr><th scope="col" class="lop-vp-school">' . esc_html__('School', 'lop-sidecar') . '</th>';
        foreach ($codes as $code) {
            $name = is_array($programmes[$code] ?? null) && is_string($programmes[$code]['name'] ?? null)
                ? $programmes[$code]['name'] : $code;
            $html .= '<th scope="col">' . esc_html($name) . '</th>';
        }
        if ($has_an) {
            $html .= '<th scope="col">' . esc_html__('Anderstalige nieuwkomers (AN)', 'lop-sidecar') . '</th>';
        }
        $html .= '</tr></thead><tbody>';
        foreach ($schools as $school) {
            $by_code = [];
            foreach (is_array($school['columns'] ?? null) ? $school['columns'] : [] as $column) {
                if (is_array($column) && isset($column['admgr_code'])) {
                    $by_code[(string) $column['admgr_code']] = $column;
                }
            }
            $numbers = [];
            foreach (is_array($school['vestigingen'] ?? null) ? $school['vestigingen'] : [] as $vestiging) {
                if (is_array($vestiging) && isset($vestiging['instellingsnummer_text'])) {
                    $numbers[] = (string) $vestiging['instellingsnummer_text'];
                }
            }
            $html .= '<tr><th scope="row" class="lop-vp-school">' . esc_html((string) ($school['name'] ?? ''));
            if ($numbers !== []) {
                $html .= '<span class="lop-vp-number">' . esc_html(implode(', ', array_unique($numbers))) . '</span>';
            }
            $html .= '</th>';
            foreach ($codes as $code) {
                $html .= isset($by_code[$code]) ? self::cell($by_code[$code]) : self::empty_cell();
            }
            if ($has_an) {
                $html .= is_array($school['an'] ?? null) ? self::cell($school['an']) : self::empty_cell();
            }
            $html .= '</tr>';
        }
        return $html . '</tbody></table></div>';
    }

    /**
     * The codes of all schools in one order that keeps each school's order: a code not seen yet goes right
     * before the next code of that school that is already placed (else at the end).
     *
     * @param list<string> $order
     * @param list<string> $sequence
     * @return list<string>
     */
    private static function merge_order(array $order, array $sequence): array
    {
        $placed = array_flip($order);
        foreach ($sequence as $index => $code) {
            if (isset($placed[$code])) {
                continue;
            }
            $position = count($order);
            for ($next = $index + 1; $next < count($sequence); $next++) {
                if (isset($placed[$sequence[$next]])) {
                    $position = array_search($sequence[$next], $order, true);
                    break;
                }
            }
            array_splice($order, (int) $position, 0, [$code]);
            $placed = array_flip($order);
        }
        return $order;
    }

    /** @param array<string, mixed> $column */
    private static function cell(array $column): string
    {
        $free = $column['free_places'] ?? null;
        $capacity = $column['capacity'] ?? null;
        $class = is_int($free) ? ($free > 0 ? 'lop-vp-open' : 'lop-vp-full') : 'lop-vp-unknown';
        $html = '<td class="' . $class . '">';
        if (is_int($free)) {
            $html .= '<span class="lop-vp-free">' . esc_html(number_format_i18n($free)) . '</span> '
                . '<span class="lop-vp-label">' . esc_html(_n('vrije plaats', 'vrije plaatsen', $free, 'lop-sidecar')) . '</span>';
        } else {
            $html .= '<span class="lop-vp-label">' . esc_html__('vrije plaatsen niet meegedeeld', 'lop-sidecar') . '</span>';
        }
        if (is_int($capacity)) {
            $html .= '<span class="lop-vp-capacity">' . esc_html(sprintf(
                /* translators: %s: a number */
                __('capaciteit %s', 'lop-sidecar'), number_format_i18n($capacity))) . '</span>';
        }
        if (is_string($column['suffix'] ?? null) && $column['suffix'] !== '') {
            $html .= '<span class="lop-vp-suffix">' . esc_html($column['suffix']) . '</span>';
        }
        if (is_string($column['extra_info'] ?? null) && $column['extra_info'] !== '') {
            $html .= '<span class="lop-vp-info">' . esc_html($column['extra_info']) . '</span>';
        }
        $dates = is_array($column['dates'] ?? null) ? array_filter($column['dates'], 'is_array') : [];
        if ($dates !== []) {
            $html .= '<ul class="lop-vp-dates">';
            foreach ($dates as $date) {
                $when = is_string($date['date'] ?? null) ? $date['date'] : '';
                $when = preg_match('/^\d{4}-\d{2}-\d{2}$/', $when) ? LOP_Sidecar_WordPress::local_date($when)
                    : LOP_Sidecar_Admin::local_time($when, $when);
                $label = is_string($date['label'] ?? null) ? $date['label'] : '';
                $html .= '<li>' . esc_html(trim($when . ($label !== '' ? ': ' . $label : ''))) . '</li>';
            }
            $html .= '</ul>';
        }
        return $html . '</td>';
    }

    private static function empty_cell(): string
    {
        return '<td class="lop-vp-none"><span aria-hidden="true">–</span><span class="lop-vp-sr">'
            . esc_html__('niet aangeboden', 'lop-sidecar') . '</span></td>';
    }
}

LOP_Sidecar_Public::boot();

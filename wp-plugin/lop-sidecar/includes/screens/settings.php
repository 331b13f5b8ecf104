<?php
/**
 * Extra > Instellingen: per type the start of the free registrations (local Brussels time, as the sidecar sends
 * it) and the grid of school-admin permissions for the current year and the next year before / after that start;
 * automatic rollover. After a rollover: the "kijk je instellingen na" banner with the sidecar's reasons and the
 * pages that still mention old school years (GET rollover/stale-references). Saving is one PUT of everything; the
 * sidecar validates (a time that does not exist in Brussels, …) and its messages stand next to their fields.
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Screen_Settings
{
    public const SLUG = 'instellingen';

    /** Display order of the types (the JSON object's key order is not meaningful). */
    private const TYPES = ['BaO', 'BuBaO', 'SO', 'BuSO', '1A/1B'];

    private const PERIODS = ['current', 'next_before', 'next_after'];

    public static function register(): void
    {
        LOP_Sidecar_Admin::screen(self::SLUG, __('Instellingen', 'lop-sidecar'), [self::class, 'render'],
            [self::class, 'post'], null, 60);
    }

    /** Dutch names of the permissions (the words of the sidecar's log, rules/audit_text.py), in its order. */
    private static function permission_labels(): array
    {
        return [
            'edit_capacity' => __('capaciteit wijzigen', 'lop-sidecar'),
            'edit_free_places' => __('vrije plaatsen wijzigen', 'lop-sidecar'),
            'edit_enrolled' => __('zittende leerlingen wijzigen', 'lop-sidecar'),
            'edit_indicator_pct' => __('percentage indicatorleerlingen wijzigen', 'lop-sidecar'),
            'edit_suffix' => __('achtervoegsel wijzigen', 'lop-sidecar'),
            'edit_extra_info' => __('extra info wijzigen', 'lop-sidecar'),
            'edit_dates' => __('datums wijzigen', 'lop-sidecar'),
            'add_offering' => __('opleiding toevoegen', 'lop-sidecar'),
            'remove_offering' => __('opleiding verwijderen', 'lop-sidecar'),
        ];
    }

    private static function period_labels(): array
    {
        return [
            'current' => __('Lopend schooljaar', 'lop-sidecar'),
            'next_before' => __('Volgend schooljaar, vóór de start van de vrije inschrijvingen', 'lop-sidecar'),
            'next_after' => __('Volgend schooljaar, vanaf de start van de vrije inschrijvingen', 'lop-sidecar'),
        ];
    }

    /** @return list<string> the types to show: the known order, then any other the sidecar sends. */
    private static function types(array $settings): array
    {
        $given = array_keys(array_merge((array) ($settings['free_registration_start'] ?? []), (array) ($settings['rights'] ?? [])));
        $given = array_map('strval', $given);
        return array_values(array_unique(array_merge(array_values(array_intersect(self::TYPES, $given)), $given)));
    }

    public static function render(): void
    {
        if (sanitize_key(wp_unslash($_GET['lop_view'] ?? '')) === 'rechten') {
            self::rights_preview();
            return;
        }
        echo '<p class="lop-rights-preview-link"><a class="button" href="' . esc_url(LOP_Sidecar_Admin::url(self::SLUG, ['lop_view' => 'rechten']))
            . '">' . esc_html__('Rechten bekijken als…', 'lop-sidecar') . '</a> <span class="lop-muted">'
            . esc_html__('wat een schoolbeheerder op een gekozen moment mag wijzigen', 'lop-sidecar') . '</span></p>';
        $response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/settings'));
        if (!$response->ok()) {
            LOP_Sidecar_Admin::problem($response);
            return;
        }
        $stored = $response->json;
        if (!empty($stored['settings_review_required'])) {
            self::review_banner($stored);
        }
        // After a refused save the form shows what was submitted, with the sidecar's messages beside it.
        $flash = LOP_Sidecar_Admin::flash();
        $shown = is_array($flash['settings_submitted'] ?? null) ? $flash['settings_submitted'] : $stored;
        self::form($shown, $stored, self::types($stored));
    }

    /**
     * "Rechten bekijken als…": a chosen school admin's rights on one of their schools, for a year, at a chosen
     * moment (GET …/rights?as_user=&at=), without switching. Two sidecar calls: School stats (the school admins
     * and their schools) and the rights, once chosen. A GET form: it changes nothing.
     */
    private static function rights_preview(): void
    {
        $choice = sanitize_text_field(wp_unslash($_GET['as'] ?? ''));
        $year = sanitize_key(wp_unslash($_GET['year'] ?? 'current'));
        $at = sanitize_text_field(wp_unslash($_GET['at'] ?? ''));
        echo '<p><a href="' . esc_url(LOP_Sidecar_Admin::url(self::SLUG)) . '">&larr; '
            . esc_html__('Terug naar de instellingen', 'lop-sidecar') . '</a></p>';
        echo '<h2>' . esc_html__('Rechten bekijken als…', 'lop-sidecar') . '</h2>';
        $stats = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/school-stats'));
        if (!$stats->ok()) {
            LOP_Sidecar_Admin::problem($stats);
            return;
        }
        $options = [];
        foreach ((array) ($stats->json['schools'] ?? []) as $school) {
            foreach (is_array($school) ? (array) ($school['admins'] ?? []) : [] as $admin) {
                if (!is_array($admin) || (int) ($admin['user_id'] ?? 0) <= 0) {
                    continue;
                }
                $name = (string) ($admin['display_name'] ?? '') !== '' ? (string) $admin['display_name'] : (string) ($admin['email'] ?? '');
                $options[(int) $admin['user_id'] . ':' . (int) ($school['id'] ?? 0)] =
                    sprintf('%s (%s) – %s', $name, (string) ($admin['email'] ?? ''), (string) ($school['name'] ?? ''));
            }
        }
        if ($options === []) {
            echo '<p>' . esc_html__('Deze LOP-site heeft nog geen schoolbeheerders.', 'lop-sidecar') . '</p>';
            return;
        }
        echo '<form method="get" action="' . esc_url(admin_url('admin.php')) . '" class="lop-rights-preview-form">';
        echo '<input type="hidden" name="page" value="' . esc_attr('lop-' . self::SLUG) . '">';
        echo '<input type="hidden" name="lop_view" value="rechten">';
        echo '<p><label for="lop-preview-as">' . esc_html__('Schoolbeheerder en school', 'lop-sidecar') . '</label><br>';
        echo '<select name="as" id="lop-preview-as" required><option value="">' . esc_html__('— kies —', 'lop-sidecar') . '</option>';
        foreach ($options as $value => $label) {
            echo '<option value="' . esc_attr($value) . '"' . selected($choice, $value, false) . '>' . esc_html($label) . '</option>';
        }
        echo '</select></p>';
        echo '<p><label for="lop-preview-year">' . esc_html__('Schooljaar', 'lop-sidecar') . '</label><br>';
        echo '<select name="year" id="lop-preview-year">';
        foreach (['current' => __('lopend schooljaar', 'lop-sidecar'), 'next' => __('volgend schooljaar', 'lop-sidecar')] as $value => $label) {
            echo '<option value="' . esc_attr($value) . '"' . selected($year, $value, false) . '>' . esc_html($label) . '</option>';
        }
        echo '</select></p>';
        echo '<p><label for="lop-preview-at">' . esc_html__('Moment', 'lop-sidecar') . '</label><br>';
        echo '<input type="datetime-local" name="at" id="lop-preview-at" value="' . esc_attr($at) . '"> <span class="lop-muted">'
            . esc_html__('Belgische tijd; leeg = nu', 'lop-sidecar') . '</span></p>';
        echo '<p><button type="submit" class="button button-primary">' . esc_html__('Rechten tonen', 'lop-sidecar') . '</button></p>';
        echo '</form>';
        if (!preg_match('/^(\d+):(\d+)$/', $choice, $m)) {
            return;
        }
        $response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/rights'),
            ['school' => (int) $m[2], 'year' => $year, 'as_user' => (int) $m[1], 'at' => self::instant($at)]);
        if (!$response->ok()) {
            LOP_Sidecar_Admin::problem($response);
            foreach ($response->field_errors() as $messages) {
                foreach ($messages as $message) {
                    echo '<p class="lop-field-error" role="alert">' . esc_html($message) . '</p>';
                }
            }
            return;
        }
        self::rights_result((array) $response->json, $at);
    }

    /** The moment as typed (Brussels wall-clock time) as an ISO instant with its offset; empty = now (null). */
    private static function instant(string $local): ?string
    {
        if ($local === '') {
            return null;
        }
        $time = DateTimeImmutable::createFromFormat('!Y-m-d\TH:i', substr($local, 0, 16), new DateTimeZone('Europe/Brussels'));
        return $time ? $time->format('Y-m-d\TH:i:sP') : $local;  // unreadable: the sidecar says why
    }

    private static function rights_result(array $result, string $at): void
    {
        $labels = self::permission_labels();
        $periods = self::period_labels();
        $user = (array) ($result['user'] ?? []);
        $school = (array) ($result['school'] ?? []);
        $moment = $at === '' ? __('nu', 'lop-sidecar') : sprintf(__('op %s', 'lop-sidecar'),
            ($t = DateTimeImmutable::createFromFormat('!Y-m-d\TH:i', substr($at, 0, 16))) ? $t->format('d/m/Y H:i') : $at);
        echo '<div class="lop-rights-result">';
        echo '<h3>' . esc_html(sprintf(__('%1$s mag %2$s voor %3$s, schooljaar %4$s:', 'lop-sidecar'),
            (string) ($user['display_name'] ?? $user['login'] ?? ''), $moment, (string) ($school['name'] ?? ''),
            (string) ($result['school_year'] ?? ''))) . '</h3>';
        echo '<table class="widefat striped lop-rights-table"><thead><tr>';
        foreach ([__('Type', 'lop-sidecar'), __('Periode', 'lop-sidecar'), __('Mag', 'lop-sidecar'),
                     __('Wijzigt vanzelf op', 'lop-sidecar')] as $heading) {
            echo '<th scope="col">' . esc_html($heading) . '</th>';
        }
        echo '</tr></thead><tbody>';
        foreach ((array) ($result['types'] ?? []) as $type => $evaluation) {
            $evaluation = (array) $evaluation;
            $granted = array_map(static fn($code): string => (string) ($labels[$code] ?? $code),
                array_filter((array) ($evaluation['permissions'] ?? []), 'is_string'));
            echo '<tr data-type="' . esc_attr((string) $type) . '"><th scope="row">' . esc_html((string) $type) . '</th>';
            echo '<td>' . esc_html((string) ($periods[$evaluation['period'] ?? ''] ?? ($evaluation['period'] ?? ''))) . '</td>';
            echo '<td class="lop-rights-granted">' . ($granted === []
                    ? '<span class="lop-red">' . esc_html__('niets wijzigen', 'lop-sidecar') . '</span>'
                    : '<ul class="lop-rights-list">' . implode('', array_map(static fn(string $label): string =>
                        '<li class="lop-green">' . esc_html($label) . '</li>', $granted)) . '</ul>') . '</td>';
            echo '<td>' . esc_html(LOP_Sidecar_Admin::local_time(is_string($evaluation['changes_at'] ?? null) ? $evaluation['changes_at'] : null)) . '</td>';
            echo '</tr>';
        }
        echo '</tbody></table></div>';
    }

    private static function review_banner(array $settings): void
    {
        echo '<div class="notice notice-warning lop-settings-review"><p><strong>'
            . esc_html__('Kijk je instellingen na: de site is overgegaan naar een nieuw schooljaar.', 'lop-sidecar')
            . '</strong></p>';
        $reasons = array_filter((array) ($settings['review_reasons'] ?? []), 'is_string');
        if ($reasons !== []) {
            echo '<ul class="ul-disc">';
            foreach ($reasons as $reason) {
                echo '<li>' . esc_html($reason) . '</li>';
            }
            echo '</ul>';
        }
        echo '<p>' . esc_html__('Deze melding verdwijnt zodra je de instellingen bewaart.', 'lop-sidecar') . '</p>';
        $stale = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/rollover/stale-references'));
        if (!$stale->ok()) {
            echo '<p class="lop-field-error">' . esc_html($stale->detail()) . '</p></div>';
            return;
        }
        $posts = array_filter((array) ($stale->json['posts'] ?? []), 'is_array');
        if ($posts === []) {
            echo '<p>' . esc_html__('Geen pagina\'s of berichten vermelden nog een oud schooljaar.', 'lop-sidecar') . '</p></div>';
            return;
        }
        echo '<p>' . esc_html(sprintf(__('Deze pagina\'s en berichten vermelden nog een ouder schooljaar dan %s of noemen het lopende schooljaar "volgend schooljaar":', 'lop-sidecar'),
            (string) ($stale->json['school_year'] ?? ''))) . '</p>';
        echo '<ul class="lop-settings-stale">';
        foreach ($posts as $post) {
            echo '<li><a href="' . esc_url((string) ($post['edit_link'] ?? '')) . '">'
                . esc_html((string) ($post['title'] ?? '') !== '' ? (string) $post['title'] : __('(zonder titel)', 'lop-sidecar'))
                . '</a> <span class="lop-muted">(' . esc_html(['page' => __('pagina', 'lop-sidecar'), 'post' => __('bericht', 'lop-sidecar')][(string) ($post['type'] ?? '')] ?? (string) ($post['type'] ?? '')) . ')</span>';
            $matches = array_filter((array) ($post['matches'] ?? []), 'is_array');
            if ($matches !== []) {
                echo '<ul>';
                foreach ($matches as $match) {
                    $where = ($match['in'] ?? '') === 'title' ? __('in de titel', 'lop-sidecar') : __('in de tekst', 'lop-sidecar');
                    echo '<li><strong>' . esc_html((string) ($match['text'] ?? '')) . '</strong> '
                        . '<span class="lop-muted">' . esc_html($where . ((string) ($match['label'] ?? '') !== '' ? ': ' . $match['label'] : ''))
                        . '</span>';
                    if ((string) ($match['context'] ?? '') !== '') {
                        echo '<br><q>' . esc_html((string) $match['context']) . '</q>';
                    }
                    echo '</li>';
                }
                echo '</ul>';
            }
            echo '</li>';
        }
        echo '</ul></div>';
    }

    private static function form(array $settings, array $stored, array $types): void
    {
        $labels = self::permission_labels();
        $periods = self::period_labels();
        LOP_Sidecar_Admin::form_open(self::SLUG, 'save', ['class' => 'lop-settings-form']);
        echo '<p>' . esc_html__('Per type school: wanneer de vrije inschrijvingen starten (Belgische tijd) en wat '
            . 'schoolbeheerders mogen wijzigen. LOP-deskundigen mogen altijd alles.', 'lop-sidecar') . '</p>';
        LOP_Sidecar_Admin::field_messages('');
        LOP_Sidecar_Admin::field_messages('free_registration_start');
        LOP_Sidecar_Admin::field_messages('rights');
        foreach ($types as $type) {
            $key = self::field_key($type);
            $start = $settings['free_registration_start'][$type] ?? null;
            $granted = (array) ($settings['rights'][$type] ?? []);
            echo '<fieldset class="lop-settings-type" id="lop-type-' . esc_attr($key) . '">';
            echo '<h2>' . esc_html($type) . '</h2>';
            echo '<p><label for="lop-start-' . esc_attr($key) . '">' . esc_html__('Start vrije inschrijvingen', 'lop-sidecar')
                . '</label><br><input type="datetime-local" id="lop-start-' . esc_attr($key) . '" name="start[' . esc_attr($type) . ']" value="'
                . esc_attr(is_string($start) ? substr($start, 0, 16) : '') . '" data-lop-type="' . esc_attr($type) . '"> '
                . '<span class="lop-muted">' . esc_html__('datum en uur, Belgische tijd; leeg = niet ingesteld', 'lop-sidecar') . '</span>'
                . '<br><span class="lop-settings-stored">' . esc_html(self::stored_start($stored['free_registration_start'][$type] ?? null))
                . '</span>';
            LOP_Sidecar_Admin::field_messages('free_registration_start.' . $type);
            echo '</p>';
            echo '<table class="widefat striped lop-settings-grid"><thead><tr><th>' . esc_html__('Schoolbeheerders mogen', 'lop-sidecar') . '</th>';
            foreach (self::PERIODS as $period) {
                echo '<th scope="col">' . esc_html($periods[$period]) . '</th>';
            }
            echo '</tr></thead><tbody>';
            $codes = $labels;
            foreach (self::PERIODS as $period) {
                foreach ((array) ($granted[$period] ?? []) as $code) {
                    if (is_string($code) && !isset($codes[$code])) {
                        $codes[$code] = $code;  // a permission this plugin has no name for: shown, never dropped
                    }
                }
            }
            foreach ($codes as $code => $label) {
                echo '<tr><th scope="row">' . esc_html($label) . '</th>';
                foreach (self::PERIODS as $period) {
                    $checked = in_array($code, (array) ($granted[$period] ?? []), true);
                    echo '<td><input type="checkbox" name="rights[' . esc_attr($type) . '][' . esc_attr($period) . '][]" value="'
                        . esc_attr($code) . '"' . checked($checked, true, false) . ' aria-label="'
                        . esc_attr($label . ' – ' . $periods[$period]) . '"></td>';
                }
                echo '</tr>';
            }
            echo '</tbody></table>';
            foreach (self::PERIODS as $period) {
                LOP_Sidecar_Admin::field_messages('rights.' . $type . '.' . $period);
            }
            LOP_Sidecar_Admin::field_messages('rights.' . $type);
            echo '</fieldset>';
        }
        echo '<h2>' . esc_html__('Nieuw schooljaar', 'lop-sidecar') . '</h2>';
        echo '<input type="hidden" name="automatic_rollover" value="0">';
        echo '<p><label><input type="checkbox" name="automatic_rollover" value="1" id="lop-automatic-rollover"'
            . checked(!empty($settings['automatic_rollover']), true, false) . '> '
            . esc_html__('Automatisch overgaan naar het nieuwe schooljaar (vanaf 1 augustus)', 'lop-sidecar') . '</label>';
        LOP_Sidecar_Admin::field_messages('automatic_rollover');
        echo '</p>';
        submit_button(__('Instellingen bewaren', 'lop-sidecar'));
        echo '</form>';
    }

    /** The stored start as people read it (20/12/2026 09:00), from the sidecar's local wall-clock time. */
    private static function stored_start(mixed $local): string
    {
        if (!is_string($local) || $local === '') {
            return __('Bewaard: niet ingesteld', 'lop-sidecar');
        }
        $time = DateTimeImmutable::createFromFormat('!Y-m-d\\TH:i', substr($local, 0, 16));
        return sprintf(__('Bewaard: %s', 'lop-sidecar'), $time ? $time->format('d/m/Y H:i') : $local);
    }

    private static function field_key(string $type): string
    {
        return sanitize_html_class(str_replace('/', '-', $type));
    }

    public static function post(string $do): array
    {
        if ($do !== 'save') {
            return ['type' => 'error', 'message' => __('Onbekende actie.', 'lop-sidecar'), 'fields' => []];
        }
        $starts_in = isset($_POST['start']) && is_array($_POST['start']) ? wp_unslash($_POST['start']) : [];
        $rights_in = isset($_POST['rights']) && is_array($_POST['rights']) ? wp_unslash($_POST['rights']) : [];
        $types = array_map('strval', array_unique(array_merge(self::TYPES, array_keys($starts_in))));
        $starts = [];
        $rights = [];
        foreach ($types as $type) {
            $type = sanitize_text_field($type);
            $value = sanitize_text_field((string) ($starts_in[$type] ?? ''));
            $starts[$type] = $value === '' ? null : $value;
            foreach (self::PERIODS as $period) {
                $listed = $rights_in[$type][$period] ?? [];
                $rights[$type][$period] = array_values(array_unique(array_map('sanitize_key', is_array($listed) ? $listed : [])));
            }
        }
        $body = ['free_registration_start' => $starts, 'rights' => $rights,
            'automatic_rollover' => !empty($_POST['automatic_rollover'])];
        $response = LOP_Sidecar_Client::request('PUT', LOP_Sidecar_Admin::site_path('/settings'), [], $body);
        if (!$response->ok()) {
            return array_merge(LOP_Sidecar_Admin::problem_notice($response), ['settings_submitted' => $body]);
        }
        self::forget_options((array) ($response->json['wordpress']['options'] ?? []));
        return LOP_Sidecar_Admin::success_notice(__('De instellingen zijn bewaard.', 'lop-sidecar'));
    }

    /** The sidecar wrote these options directly: drop them from WordPress's object cache (and notoptions). */
    private static function forget_options(array $options): void
    {
        foreach ($options as $option) {
            if (!is_array($option) || !is_string($option['name'] ?? null)) {
                continue;
            }
            $blog = absint($option['blog_id'] ?? get_current_blog_id());
            $switched = is_multisite() && $blog > 0 && $blog !== get_current_blog_id() && switch_to_blog($blog);
            wp_cache_delete($option['name'], 'options');
            wp_cache_delete('alloptions', 'options');
            $notoptions = wp_cache_get('notoptions', 'options');
            if (is_array($notoptions) && isset($notoptions[$option['name']])) {
                unset($notoptions[$option['name']]);
                wp_cache_set('notoptions', $notoptions, 'options');
            }
            if ($switched) {
                restore_current_blog();
            }
        }
    }

    public static function assets(): void
    {
        if (LOP_Sidecar_Admin::is_screen(self::SLUG)) {
            wp_enqueue_style('lop-sidecar-settings', plugins_url('assets/settings.css', LOP_SIDECAR_FILE),
                ['lop-sidecar-admin'], LOP_SIDECAR_VERSION);
        }
    }
}

LOP_Sidecar_Screen_Settings::register();
add_action('admin_enqueue_scripts', [LOP_Sidecar_Screen_Settings::class, 'assets']);

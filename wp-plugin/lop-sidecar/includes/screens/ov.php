<?php
/**
 * Extra > Onderwijs Vlaanderen: per school OV's offering (left) next to the site's (right), as the sidecar
 * compares them (GET ov-comparison): green = only at OV, red = only on the site. "Toepassen" per school adds the
 * green and removes the red rows that stay ticked (POST …/apply); a 409 offering_has_numbers asks for
 * confirmation and resends with confirm_numbers. The Excel download is the sidecar's workbook, streamed.
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Screen_OV
{
    public const SLUG = 'ov';

    public static function register(): void
    {
        LOP_Sidecar_Admin::screen(self::SLUG, __('Onderwijs Vlaanderen', 'lop-sidecar'), [self::class, 'render'],
            [self::class, 'post'], [self::class, 'download'], 50);
    }

    /** The year of the page: the sidecar's "current" or "next" (the only two the page offers). */
    private static function year(): string
    {
        $year = sanitize_key(wp_unslash($_GET['year'] ?? 'current'));
        return $year === 'next' ? 'next' : 'current';
    }

    public static function render(): void
    {
        $year = self::year();
        $only_differences = !empty($_GET['only_differences']);
        $response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/ov-comparison'),
            ['year' => $year, 'only_differences' => $only_differences ? 'true' : null]);
        $next_sync = self::next_sync();
        self::filters($year, $only_differences);
        if (!$response->ok()) {
            LOP_Sidecar_Admin::problem($response);
            return;
        }
        $data = $response->json;
        self::status($data, $next_sync);
        if (($data['state'] ?? '') !== 'ok') {
            LOP_Sidecar_Admin::notice('info', (string) ($data['message'] ?? ''));
            return;
        }
        self::confirmation();
        echo '<p class="lop-ov-legend"><span class="lop-ov-swatch lop-green"></span> '
            . esc_html__('staat bij Onderwijs Vlaanderen, ontbreekt op de LOP-website', 'lop-sidecar')
            . ' &nbsp; <span class="lop-ov-swatch lop-red"></span> '
            . esc_html__('staat op de LOP-website, niet bij Onderwijs Vlaanderen', 'lop-sidecar') . '</p>';
        $schools = is_array($data['schools'] ?? null) ? $data['schools'] : [];
        if ($schools === []) {
            echo '<p>' . esc_html__('Deze site heeft (nog) geen scholen.', 'lop-sidecar') . '</p>';
        }
        foreach ($schools as $school) {
            self::school($school, $year, $only_differences);
        }
    }

    /** When the next nightly sync runs (the sidecar lists ov-sync for LOP experts too, without a button). */
    private static function next_sync(): ?string
    {
        $jobs = LOP_Sidecar_Client::get('/api/v1/jobs');
        foreach ($jobs->ok() ? ($jobs->json['jobs'] ?? []) : [] as $job) {
            if (is_array($job) && ($job['name'] ?? '') === 'ov-sync' && is_string($job['next_run_at'] ?? null)) {
                return $job['next_run_at'];
            }
        }
        return null;
    }

    private static function filters(string $year, bool $only_differences): void
    {
        echo '<form method="get" action="' . esc_url(admin_url('admin.php')) . '" class="lop-ov-filters">';
        echo '<input type="hidden" name="page" value="' . esc_attr(sanitize_key(wp_unslash($_GET['page'] ?? ''))) . '">';
        echo '<label for="lop-ov-year">' . esc_html__('Schooljaar', 'lop-sidecar') . '</label> ';
        echo '<select id="lop-ov-year" name="year">';
        foreach (['current' => __('lopend schooljaar', 'lop-sidecar'), 'next' => __('volgend schooljaar', 'lop-sidecar')] as $value => $label) {
            echo '<option value="' . esc_attr($value) . '"' . selected($year, $value, false) . '>' . esc_html($label) . '</option>';
        }
        echo '</select> ';
        echo '<label><input type="checkbox" name="only_differences" value="1"' . checked($only_differences, true, false) . '> '
            . esc_html__('alleen verschillen', 'lop-sidecar') . '</label> ';
        submit_button(__('Tonen', 'lop-sidecar'), 'secondary', '', false);
        echo ' <a class="button" href="' . esc_url(LOP_Sidecar_Admin::download_url(self::SLUG, ['year' => $year])) . '">'
            . esc_html__('Download als Excel', 'lop-sidecar') . '</a>';
        echo '</form>';
    }

    /** The snapshot's date, the last sync's result and, for LOP experts, the next nightly sync. */
    private static function status(array $data, ?string $next_sync): void
    {
        echo '<table class="lop-ov-status"><tbody>';
        if (is_string($data['school_year'] ?? null)) {
            self::status_row(__('Schooljaar', 'lop-sidecar'), $data['school_year']);
        }
        self::status_row(__('Gegevens van Onderwijs Vlaanderen van', 'lop-sidecar'),
            LOP_Sidecar_Admin::local_time($data['snapshot_at'] ?? null, __('nog niet opgehaald', 'lop-sidecar')));
        $last = is_array($data['last_sync'] ?? null) ? $data['last_sync'] : null;
        if ($last === null) {
            self::status_row(__('Laatste synchronisatie', 'lop-sidecar'), __('nog geen', 'lop-sidecar'));
        } else {
            $ok = ($last['status'] ?? '') === 'succeeded';
            $text = sprintf('%s, %s', $ok ? __('gelukt', 'lop-sidecar') : __('mislukt', 'lop-sidecar'),
                LOP_Sidecar_Admin::local_time($last['finished_at'] ?? null));
            echo '<tr><th scope="row">' . esc_html__('Laatste synchronisatie', 'lop-sidecar') . '</th><td>'
                . '<span class="' . ($ok ? '' : 'lop-field-error') . '">' . esc_html($text) . '</span>';
            if (is_string($last['summary'] ?? null) && $last['summary'] !== '') {
                echo '<br><span class="lop-muted lop-ov-summary">' . esc_html($last['summary']) . '</span>';
            }
            echo '</td></tr>';
        }
        if ($next_sync !== null) {
            self::status_row(__('Volgende synchronisatie', 'lop-sidecar'), LOP_Sidecar_Admin::local_time($next_sync));
        }
        echo '</tbody></table>';
        if (array_key_exists('ov_configured', $data) && !$data['ov_configured']) {
            LOP_Sidecar_Admin::notice('warning', __('De koppeling met Onderwijs Vlaanderen is niet ingesteld: de LOP-service '
                . 'haalt geen nieuwe gegevens op (de technische beheerder stelt LOP_OV_API_URL en LOP_OV_API_KEY in).', 'lop-sidecar'));
        }
    }

    private static function status_row(string $label, string $value): void
    {
        echo '<tr><th scope="row">' . esc_html($label) . '</th><td>' . esc_html($value) . '</td></tr>';
    }

    /** After a 409 offering_has_numbers: the question, and the same change again with confirm_numbers. */
    private static function confirmation(): void
    {
        $flash = LOP_Sidecar_Admin::flash();
        $pending = is_array($flash['ov_confirm'] ?? null) ? $flash['ov_confirm'] : null;
        if ($pending === null) {
            return;
        }
        echo '<div class="notice notice-warning inline lop-ov-confirm" id="lop-ov-confirm"><p><strong>'
            . esc_html(sprintf(__('%s: bevestig het verwijderen', 'lop-sidecar'), (string) ($pending['name'] ?? ''))) . '</strong></p>';
        LOP_Sidecar_Admin::field_messages('remove');
        LOP_Sidecar_Admin::form_open(self::SLUG, 'apply');
        self::hidden_change((int) ($pending['school'] ?? 0), (string) ($pending['year'] ?? 'current'),
            (array) ($pending['add'] ?? []), (array) ($pending['remove'] ?? []));
        echo '<input type="hidden" name="confirm_numbers" value="1">';
        echo '<p>';
        submit_button(__('Toch toepassen: ook deze cijfers verwijderen', 'lop-sidecar'), 'primary', 'lop-ov-confirm-submit', false);
        echo ' <a class="button" href="' . esc_url(remove_query_arg('lop-ov-confirm')) . '">' . esc_html__('Annuleren', 'lop-sidecar') . '</a></p>';
        echo '</form></div>';
    }

    private static function hidden_change(int $school, string $year, array $add, array $remove): void
    {
        echo '<input type="hidden" name="school" value="' . esc_attr((string) $school) . '">';
        echo '<input type="hidden" name="year" value="' . esc_attr($year) . '">';
        foreach ($add as $code) {
            echo '<input type="hidden" name="add[]" value="' . esc_attr((string) absint($code)) . '">';
        }
        foreach ($remove as $code) {
            echo '<input type="hidden" name="remove[]" value="' . esc_attr((string) absint($code)) . '">';
        }
    }

    private static function school(array $school, string $year, bool $only_differences): void
    {
        $id = (int) ($school['school_id'] ?? 0);
        $counts = is_array($school['counts'] ?? null) ? $school['counts'] : [];
        echo '<div class="lop-ov-school" id="school-' . esc_attr((string) $id) . '">';
        echo '<h2>' . esc_html((string) ($school['name'] ?? '')) . ' <span class="lop-muted">('
            . esc_html((string) ($school['type'] ?? '')) . ')</span></h2>';
        if (empty($school['covered'])) {
            echo '<p class="lop-muted">' . esc_html__('Basisonderwijs: Onderwijs Vlaanderen publiceert geen aanbod van '
                . 'basisscholen, deze school wordt niet vergeleken.', 'lop-sidecar') . '</p>';
        } else {
            echo '<p class="lop-ov-counts">' . esc_html(sprintf(
                __('Op beide: %1$d · enkel bij Onderwijs Vlaanderen (groen): %2$d · enkel op de LOP-website (rood): %3$d', 'lop-sidecar'),
                (int) ($counts['both'] ?? 0), (int) ($counts['only_ov'] ?? 0), (int) ($counts['only_lop'] ?? 0))) . '</p>';
        }
        $rows = is_array($school['rows'] ?? null) ? $school['rows'] : [];
        if ($rows === []) {
            echo '<p>' . esc_html($only_differences ? __('Geen verschillen.', 'lop-sidecar')
                : __('Geen opleidingen.', 'lop-sidecar')) . '</p></div>';
            return;
        }
        $changeable = array_filter($rows, static fn($r): bool => is_array($r) && in_array($r['status'] ?? '', ['only_ov', 'only_lop'], true));
        LOP_Sidecar_Admin::form_open(self::SLUG, 'apply', ['class' => 'lop-ov-apply']);
        echo '<input type="hidden" name="school" value="' . esc_attr((string) $id) . '">';
        echo '<input type="hidden" name="year" value="' . esc_attr($year) . '">';
        echo '<input type="hidden" name="name" value="' . esc_attr((string) ($school['name'] ?? '')) . '">';
        echo '<table class="widefat striped lop-ov-table"><thead><tr>'
            . '<th colspan="2" class="lop-ov-side">' . esc_html__('Onderwijs Vlaanderen', 'lop-sidecar') . '</th>'
            . '<th colspan="2" class="lop-ov-side">' . esc_html__('LOP-website', 'lop-sidecar') . '</th>'
            . '<th rowspan="2">' . esc_html__('Graad', 'lop-sidecar') . '</th>'
            . '<th rowspan="2">' . esc_html__('Leerjaar', 'lop-sidecar') . '</th>'
            . '<th rowspan="2">' . esc_html__('Onderwijsvorm', 'lop-sidecar') . '</th>'
            . '<th rowspan="2">' . esc_html__('Opmerking', 'lop-sidecar') . '</th>'
            . '<th rowspan="2">' . esc_html__('Toepassen', 'lop-sidecar') . '</th></tr><tr>'
            . '<th>' . esc_html__('Code', 'lop-sidecar') . '</th><th>' . esc_html__('Opleiding', 'lop-sidecar') . '</th>'
            . '<th>' . esc_html__('Code', 'lop-sidecar') . '</th><th>' . esc_html__('Opleiding', 'lop-sidecar') . '</th>'
            . '</tr></thead><tbody>';
        foreach ($rows as $row) {
            if (is_array($row)) {
                self::row($row);
            }
        }
        echo '</tbody></table>';
        if ($changeable !== []) {
            echo '<p>';
            submit_button(__('Toepassen', 'lop-sidecar'), 'primary', 'lop-ov-apply-' . $id, false);
            echo ' <span class="lop-muted">' . esc_html__('Voegt de aangevinkte groene opleidingen toe aan de LOP-website '
                . 'en verwijdert de aangevinkte rode.', 'lop-sidecar') . '</span></p>';
        }
        echo '</form></div>';
    }

    private static function row(array $row): void
    {
        $status = (string) ($row['status'] ?? '');
        $code = (string) ($row['code'] ?? '');
        $name = (string) ($row['name'] ?? '');
        $left = in_array($status, ['both', 'only_ov'], true);
        $right = in_array($status, ['both', 'only_lop', 'not_covered'], true);
        $left_class = $status === 'only_ov' ? 'lop-green' : '';
        $right_class = $status === 'only_lop' ? 'lop-red' : '';
        $note = '';
        if (!empty($row['ov_lists_nowhere'])) {
            $note = __('bestaat volgens Onderwijs Vlaanderen niet meer', 'lop-sidecar');
        } elseif ($status === 'not_covered') {
            $note = __('valt buiten de gegevens van Onderwijs Vlaanderen (anderstalige nieuwkomers of basisonderwijs)', 'lop-sidecar');
        } elseif ($status === 'only_ov') {
            $note = __('ontbreekt op de LOP-website', 'lop-sidecar');
        } elseif ($status === 'only_lop') {
            $note = __('niet bij Onderwijs Vlaanderen voor deze school', 'lop-sidecar');
        }
        echo '<tr class="lop-ov-row lop-ov-' . esc_attr($status) . '" data-code="' . esc_attr($code) . '">';
        echo '<td class="' . esc_attr($left_class) . '">' . esc_html($left ? $code : '') . '</td>';
        echo '<td class="' . esc_attr($left_class) . '">' . esc_html($left ? $name : '') . '</td>';
        echo '<td class="' . esc_attr($right_class) . '">' . esc_html($right ? $code : '') . '</td>';
        echo '<td class="' . esc_attr($right_class) . '">' . esc_html($right ? $name : '') . '</td>';
        foreach (['graad', 'leerjaar', 'onderwijsvorm'] as $field) {
            echo '<td>' . esc_html(is_scalar($row[$field] ?? null) ? (string) $row[$field] : '') . '</td>';
        }
        echo '<td>' . esc_html($note) . '</td><td>';
        if ($status === 'only_ov') {
            echo '<label><input type="checkbox" name="add[]" value="' . esc_attr($code) . '" checked> '
                . esc_html__('toevoegen', 'lop-sidecar') . '</label>';
        } elseif ($status === 'only_lop') {
            echo '<label><input type="checkbox" name="remove[]" value="' . esc_attr($code) . '" checked> '
                . esc_html__('verwijderen', 'lop-sidecar') . '</label>';
        }
        echo '</td></tr>';
    }

    /** @return list<int> */
    private static function codes(string $field): array
    {
        $values = isset($_POST[$field]) && is_array($_POST[$field]) ? wp_unslash($_POST[$field]) : [];
        return array_values(array_unique(array_map('absint', $values)));
    }

    public static function post(string $do): array
    {
        if ($do !== 'apply') {
            return ['type' => 'error', 'message' => __('Onbekende actie.', 'lop-sidecar'), 'fields' => []];
        }
        $school = absint(wp_unslash($_POST['school'] ?? 0));
        $year = sanitize_key(wp_unslash($_POST['year'] ?? 'current'));
        $year = $year === 'next' ? 'next' : 'current';
        $name = sanitize_text_field(wp_unslash($_POST['name'] ?? ''));
        $add = self::codes('add');
        $remove = self::codes('remove');
        $back = wp_get_referer() ?: LOP_Sidecar_Admin::url(self::SLUG, ['year' => $year]);
        if ($add === [] && $remove === []) {
            return ['type' => 'warning', 'message' => __('Niets aangevinkt: er werd niets gewijzigd.', 'lop-sidecar'),
                'fields' => [], 'redirect' => $back . '#school-' . $school];
        }
        $body = ['year' => $year, 'add' => $add, 'remove' => $remove];
        if (!empty($_POST['confirm_numbers'])) {
            $body['confirm_numbers'] = true;
        }
        $response = LOP_Sidecar_Client::request('POST', LOP_Sidecar_Admin::site_path('/ov-comparison/' . $school . '/apply'),
            [], $body, ['timeout' => 30]);
        if ($response->status === 409 && $response->code() === 'offering_has_numbers') {
            return array_merge(LOP_Sidecar_Admin::problem_notice($response), [
                'type' => 'warning',
                'ov_confirm' => ['school' => $school, 'year' => $year, 'add' => $add, 'remove' => $remove, 'name' => $name],
                'redirect' => $back . '#lop-ov-confirm',
            ]);
        }
        if (!$response->ok()) {
            return array_merge(LOP_Sidecar_Admin::problem_notice($response), ['redirect' => $back . '#school-' . $school]);
        }
        $after = is_array($response->json['school'] ?? null) ? $response->json['school'] : [];
        $counts = is_array($after['counts'] ?? null) ? $after['counts'] : [];
        $message = sprintf(
            __('%1$s: %2$d toegevoegd, %3$d verwijderd. Nu op beide: %4$d, enkel bij Onderwijs Vlaanderen: %5$d, enkel op de LOP-website: %6$d.', 'lop-sidecar'),
            (string) ($after['name'] ?? $name), count($add), count($remove), (int) ($counts['both'] ?? 0),
            (int) ($counts['only_ov'] ?? 0), (int) ($counts['only_lop'] ?? 0));
        return LOP_Sidecar_Admin::success_notice($message, ['redirect' => $back . '#school-' . $school]);
    }

    public static function download(): ?LOP_Sidecar_Response
    {
        return LOP_Sidecar_Client::stream_download(LOP_Sidecar_Admin::site_path('/ov-comparison/export.xlsx'),
            ['year' => self::year()]);
    }

    public static function assets(string $hook): void
    {
        if (LOP_Sidecar_Admin::is_screen(self::SLUG)) {
            wp_enqueue_style('lop-sidecar-ov', plugins_url('assets/ov.css', LOP_SIDECAR_FILE), ['lop-sidecar-admin'],
                LOP_SIDECAR_VERSION);
        }
    }
}

LOP_Sidecar_Screen_OV::register();
add_action('admin_enqueue_scripts', [LOP_Sidecar_Screen_OV::class, 'assets']);

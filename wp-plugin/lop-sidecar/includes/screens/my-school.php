<?php
/**
 * "Mijn school": the school admin's screen (issue 16). Their schools only (the sidecar answers a school admin with
 * their own), per school the current and the next school year: the offerings in display order, the fields they may
 * change now as inputs and the others read-only with the reason and the moment that changes (`changes_at`,
 * `editable_after`). Save per offering with the row's `etag` as If-Match; add and remove programmes where the rights
 * allow. Two sidecar calls per page view: the schools and one school's offerings of one year. The sidecar decides
 * everything: this page sends what was typed (only the changed fields) and shows the answer.
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Screen_My_School
{
    public const SLUG = 'lop-my-school';
    public const ACTION = 'lop_sidecar_my_school';
    public const AJAX = 'lop_sidecar_catalogue';
    private const NUMBERS = ['capacity', 'free_places', 'enrolled'];

    public static function register(): void
    {
        add_action('admin_menu', [self::class, 'menu']);
        add_action('admin_enqueue_scripts', [self::class, 'assets']);
        add_action('admin_post_' . self::ACTION, [self::class, 'handle_post']);
        add_action('wp_ajax_' . self::AJAX, [self::class, 'catalogue']);
    }

    /** The school-admin role on this site (operators and LOP experts see this screen by switching accounts). */
    public static function is_school_admin(): bool
    {
        $user = wp_get_current_user();
        return $user->exists() && in_array(LOP_SIDECAR_SCHOOL_ADMIN_ROLE, (array) $user->roles, true);
    }

    public static function menu(): void
    {
        if (!self::is_school_admin()) {
            return;
        }
        add_menu_page(__('Mijn school', 'lop-sidecar'), __('Mijn school', 'lop-sidecar'), 'read', self::SLUG,
            [self::class, 'render'], 'dashicons-building', 2);
    }

    public static function url(array $args = []): string
    {
        return add_query_arg(array_merge(['page' => self::SLUG], $args), admin_url('admin.php'));
    }

    public static function assets(string $hook): void
    {
        if ($hook !== 'toplevel_page_' . self::SLUG) {
            return;
        }
        $base = plugins_url('assets/', LOP_SIDECAR_FILE);
        wp_enqueue_style('lop-sidecar-my-school', $base . 'my-school.css', [], LOP_SIDECAR_VERSION);
        wp_enqueue_script('lop-sidecar-my-school', $base . 'my-school.js', [], LOP_SIDECAR_VERSION, true);
        wp_localize_script('lop-sidecar-my-school', 'lopMySchool', [
            'ajaxUrl' => admin_url('admin-ajax.php'),
            'action' => self::AJAX,
            'nonce' => wp_create_nonce(self::AJAX),
            'searching' => __('Zoeken…', 'lop-sidecar'),
            'none' => __('Geen opleidingen gevonden.', 'lop-sidecar'),
        ]);
    }

    private static function deny(): void
    {
        wp_die(esc_html__('Je hebt geen toegang tot deze pagina.', 'lop-sidecar'), 403);
    }

    private static function years(): array
    {
        return ['current' => __('Lopend schooljaar', 'lop-sidecar'), 'next' => __('Volgend schooljaar', 'lop-sidecar')];
    }

    private static function field_labels(): array
    {
        return [
            'capacity' => __('Capaciteit', 'lop-sidecar'),
            'free_places' => __('Vrije plaatsen', 'lop-sidecar'),
            'enrolled' => __('Zittende leerlingen', 'lop-sidecar'),
            'indicator_pct' => __('Indicator %', 'lop-sidecar'),
            'suffix' => __('Achtervoegsel', 'lop-sidecar'),
            'extra_info' => __('Extra info', 'lop-sidecar'),
            'dates' => __('Datums', 'lop-sidecar'),
        ];
    }

    private static function period_text(string $period): string
    {
        return match ($period) {
            'current' => __('lopend schooljaar', 'lop-sidecar'),
            'next_before' => __('volgend schooljaar, vóór de start van de vrije inschrijvingen', 'lop-sidecar'),
            'next_after' => __('volgend schooljaar, na de start van de vrije inschrijvingen', 'lop-sidecar'),
            default => $period,
        };
    }

    // --- the page ----------------------------------------------------------------------------------------------

    public static function render(): void
    {
        if (!self::is_school_admin()) {
            self::deny();
        }
        echo '<div class="wrap lop-sidecar lop-my-school">';
        echo '<h1>' . esc_html__('Mijn school', 'lop-sidecar') . '</h1>';
        $flash = LOP_Sidecar_Admin::flash();
        if ($flash !== null) {
            LOP_Sidecar_Admin::notice((string) ($flash['type'] ?? 'info'), (string) ($flash['message'] ?? ''));
        }
        if (!LOP_Sidecar_Client::configured()) {
            LOP_Sidecar_Admin::notice('warning', LOP_Sidecar_Client::UNREACHABLE);
            echo '</div>';
            return;
        }
        $schools_response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/schools'));
        if (!$schools_response->ok()) {
            LOP_Sidecar_Admin::problem($schools_response);
            echo '</div>';
            return;
        }
        $schools = array_values(array_filter((array) ($schools_response->json['schools'] ?? []), 'is_array'));
        if ($schools === []) {
            LOP_Sidecar_Admin::notice('info', __('Je bent op deze site nog aan geen enkele school gekoppeld. Vraag de '
                . 'LOP-deskundige om je als schoolbeheerder toe te voegen.', 'lop-sidecar'));
            echo '</div>';
            return;
        }
        $school_id = absint(wp_unslash($_GET['school'] ?? 0));
        $school = null;
        foreach ($schools as $candidate) {
            if ((int) ($candidate['id'] ?? 0) === $school_id) {
                $school = $candidate;
            }
        }
        $school ??= $schools[0];
        $school_id = (int) ($school['id'] ?? 0);
        $year = sanitize_key(wp_unslash($_GET['year'] ?? 'current'));
        $year = array_key_exists($year, self::years()) ? $year : 'current';

        if (count($schools) > 1) {
            echo '<nav class="lop-school-switch" aria-label="' . esc_attr__('Mijn scholen', 'lop-sidecar') . '"><ul class="subsubsub">';
            $links = [];
            foreach ($schools as $candidate) {
                $id = (int) ($candidate['id'] ?? 0);
                $links[] = '<li><a href="' . esc_url(self::url(['school' => $id, 'year' => $year])) . '"'
                    . ($id === $school_id ? ' class="current" aria-current="page"' : '') . '>'
                    . esc_html((string) ($candidate['name'] ?? '')) . '</a></li>';
            }
            echo implode(' | ', $links) . '</ul></nav><br class="clear">';
        }
        echo '<h2 class="lop-school-name">' . esc_html((string) ($school['name'] ?? '')) . ' <span class="lop-muted">('
            . esc_html((string) ($school['type'] ?? '')) . ')</span></h2>';
        echo '<nav class="nav-tab-wrapper" aria-label="' . esc_attr__('Schooljaar', 'lop-sidecar') . '">';
        foreach (self::years() as $key => $label) {
            echo '<a class="nav-tab' . ($key === $year ? ' nav-tab-active' : '') . '"'
                . ($key === $year ? ' aria-current="page"' : '') . ' href="'
                . esc_url(self::url(['school' => $school_id, 'year' => $key])) . '">' . esc_html($label) . '</a>';
        }
        echo '</nav>';

        $response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/schools/' . $school_id . '/offerings'),
            ['year' => $year]);
        if (!$response->ok()) {
            LOP_Sidecar_Admin::problem($response);
            echo '</div>';
            return;
        }
        $data = $response->json;
        echo '<h3 class="lop-school-year">' . esc_html(sprintf(__('Schooljaar %s', 'lop-sidecar'), (string) ($data['school_year'] ?? ''))) . '</h3>';
        self::render_rights((array) ($data['rights'] ?? []));
        $offerings = array_values(array_filter((array) ($data['offerings'] ?? []), 'is_array'));
        $context = ['school' => $school_id, 'year' => $year];
        if ($offerings === []) {
            echo '<p class="lop-empty">' . esc_html__('Deze school heeft voor dit schooljaar nog geen opleidingen op de site.', 'lop-sidecar') . '</p>';
        } else {
            self::render_table($offerings, $context, is_array($flash) ? $flash : null);
        }
        self::render_add((array) ($data['rights'] ?? []), $context, is_array($flash) ? $flash : null);
        echo '</div>';
    }

    /** Per rights type: the period and when it changes by itself (the reason fields are read-only or not). */
    private static function render_rights(array $rights): void
    {
        if ($rights === []) {
            return;
        }
        echo '<ul class="lop-rights-summary">';
        foreach ($rights as $type => $evaluation) {
            if (!is_array($evaluation)) {
                continue;
            }
            $line = sprintf(__('Type %1$s: %2$s.', 'lop-sidecar'), (string) $type,
                self::period_text((string) ($evaluation['period'] ?? '')));
            if (!empty($evaluation['changes_at'])) {
                $line .= ' ' . sprintf(__('Je rechten wijzigen op %s (start van de vrije inschrijvingen).', 'lop-sidecar'),
                    LOP_Sidecar_Admin::local_time((string) $evaluation['changes_at']));
            }
            echo '<li>' . esc_html($line) . '</li>';
        }
        echo '</ul>';
        echo '<p class="lop-muted">' . esc_html__('Wat je mag wijzigen, bepaalt de LOP-deskundige per type. Velden die je '
            . 'nu niet mag wijzigen, staan grijs met de reden.', 'lop-sidecar') . '</p>';
    }

    private static function render_table(array $offerings, array $context, ?array $flash): void
    {
        $labels = self::field_labels();
        echo '<div class="lop-table-scroll"><table class="widefat striped lop-offerings"><thead><tr><th scope="col">' . esc_html__('Opleiding', 'lop-sidecar') . '</th>';
        foreach ($labels as $label) {
            echo '<th scope="col">' . esc_html($label) . '</th>';
        }
        echo '</tr></thead><tbody>';
        foreach ($offerings as $offering) {
            $id = (int) ($offering['id'] ?? 0);
            $form = 'lop-offering-' . $id;
            $editable = array_map('strval', (array) ($offering['editable'] ?? []));
            $after = is_array($offering['editable_after'] ?? null) ? array_map('strval', $offering['editable_after']) : null;
            $changes_at = is_string($offering['changes_at'] ?? null) ? LOP_Sidecar_Admin::local_time($offering['changes_at']) : null;
            $mine = $flash !== null && (int) ($flash['offering'] ?? 0) === $id;
            $fields = $mine ? (array) ($flash['fields'] ?? []) : [];
            echo '<tr id="offering-' . esc_attr((string) $id) . '" class="' . ($mine && ($flash['type'] ?? '') === 'error' ? 'lop-row-problem' : '') . '">';
            echo '<th scope="row" class="lop-programme"><strong>' . esc_html((string) ($offering['name'] ?? '')) . '</strong>'
                . '<br><span class="lop-muted">' . esc_html(sprintf(__('code %1$s · type %2$s', 'lop-sidecar'),
                    (string) ($offering['admgr_code'] ?? ''), (string) ($offering['type'] ?? ''))) . '</span>';
            if ($mine && isset($fields['']) ) {
                foreach ((array) $fields[''] as $message) {
                    echo '<p class="lop-field-error" role="alert">' . esc_html((string) $message) . '</p>';
                }
            }
            echo '<div class="lop-actions">';
            if ($editable !== []) {
                self::form_open('save', $context + ['offering' => $id, 'etag' => (string) ($offering['etag'] ?? '')], ['id' => $form]);
                echo '<input type="hidden" name="name" value="' . esc_attr((string) ($offering['name'] ?? '')) . '">';
                foreach ($editable as $field) {
                    echo '<input type="hidden" name="orig[' . esc_attr($field) . ']" value="' . esc_attr(self::original($field, $offering[$field] ?? null)) . '">';
                }
                echo '<button type="submit" class="button button-primary">' . esc_html__('Opslaan', 'lop-sidecar') . '</button></form>';
            }
            if (!empty($offering['removable'])) {
                self::form_open('remove', $context + ['offering' => $id, 'etag' => (string) ($offering['etag'] ?? '')], [
                    'class' => 'lop-remove',
                    'data-lop-confirm' => sprintf(__('Opleiding "%s" verwijderen uit het aanbod van dit schooljaar?', 'lop-sidecar'),
                        (string) ($offering['name'] ?? '')),
                ]);
                echo '<input type="hidden" name="name" value="' . esc_attr((string) ($offering['name'] ?? '')) . '">';
                echo '<button type="submit" class="button-link lop-remove-button">' . esc_html__('Verwijderen', 'lop-sidecar') . '</button></form>';
            }
            echo '</div>';
            echo '</th>';
            foreach ($labels as $field => $label) {
                $can = in_array($field, $editable, true);
                echo '<td class="lop-field lop-field-' . esc_attr($field) . ($can ? ' lop-editable' : ' lop-readonly') . '" data-label="' . esc_attr($label) . '">';
                if ($can) {
                    self::input($form, $field, $label, $offering[$field] ?? null);
                    if ($changes_at !== null && $after !== null && !in_array($field, $after, true)) {
                        echo '<span class="lop-when lop-muted">' . esc_html(sprintf(__('wijzigbaar tot %s', 'lop-sidecar'), $changes_at)) . '</span>';
                    }
                } else {
                    echo '<span class="lop-value">' . self::value_html($field, $offering[$field] ?? null) . '</span>';
                    if ($changes_at !== null && $after !== null && in_array($field, $after, true)) {
                        $why = sprintf(__('wijzigbaar vanaf %s', 'lop-sidecar'), $changes_at);
                    } else {
                        $why = __('niet wijzigbaar', 'lop-sidecar');
                    }
                    echo '<span class="lop-when lop-muted">' . esc_html($why) . '</span>';
                }
                foreach ((array) ($fields[$field] ?? []) as $message) {
                    echo '<p class="lop-field-error" role="alert">' . esc_html((string) $message) . '</p>';
                }
                echo '</td>';
            }
            echo '</tr>';
        }
        echo '</tbody></table></div>';
    }

    /** The opening tag of one of this screen's forms (admin-post.php, a nonce per action). */
    private static function form_open(string $do, array $hidden, array $attributes = []): void
    {
        $extra = '';
        foreach ($attributes as $name => $value) {
            $extra .= ' ' . esc_attr($name) . '="' . esc_attr((string) $value) . '"';
        }
        echo '<form method="post" action="' . esc_url(admin_url('admin-post.php')) . '"' . $extra . '>';
        echo '<input type="hidden" name="action" value="' . esc_attr(self::ACTION) . '">';
        echo '<input type="hidden" name="do" value="' . esc_attr($do) . '">';
        foreach ($hidden as $name => $value) {
            echo '<input type="hidden" name="' . esc_attr((string) $name) . '" value="' . esc_attr((string) $value) . '">';
        }
        wp_nonce_field(self::ACTION . '_' . $do);
    }

    private static function input(string $form, string $field, string $label, mixed $value): void
    {
        $common = ' form="' . esc_attr($form) . '" aria-label="' . esc_attr($label) . '"';
        if (in_array($field, self::NUMBERS, true)) {
            echo '<input type="number" min="0" step="1" class="small-text" name="' . esc_attr($field) . '" value="'
                . esc_attr($value === null ? '' : (string) $value) . '"' . $common . '>';
        } elseif ($field === 'indicator_pct') {
            echo '<input type="number" min="0" max="100" step="0.01" class="small-text" name="indicator_pct" value="'
                . esc_attr($value === null ? '' : (string) $value) . '"' . $common . '>';
        } elseif ($field === 'suffix') {
            echo '<input type="text" maxlength="100" class="regular-text lop-suffix" name="suffix" value="'
                . esc_attr((string) ($value ?? '')) . '"' . $common . '>';
        } elseif ($field === 'extra_info') {
            echo '<textarea rows="2" maxlength="2000" name="extra_info"' . $common . '>' . esc_textarea((string) ($value ?? '')) . '</textarea>';
        } elseif ($field === 'dates') {
            $rows = is_array($value) ? array_values(array_filter($value, 'is_array')) : [];
            $rows[] = ['date' => '', 'label' => ''];
            echo '<div class="lop-dates">';
            foreach ($rows as $i => $row) {
                echo '<span class="lop-date-row"><input type="date" name="dates[' . (int) $i . '][date]" value="'
                    . esc_attr((string) ($row['date'] ?? '')) . '" form="' . esc_attr($form) . '" aria-label="'
                    . esc_attr(sprintf(__('Datum %d', 'lop-sidecar'), $i + 1)) . '"> <input type="text" class="lop-date-label" name="dates['
                    . (int) $i . '][label]" value="' . esc_attr((string) ($row['label'] ?? '')) . '" placeholder="'
                    . esc_attr__('omschrijving', 'lop-sidecar') . '" form="' . esc_attr($form) . '" aria-label="'
                    . esc_attr(sprintf(__('Omschrijving datum %d', 'lop-sidecar'), $i + 1)) . '"></span>';
            }
            echo '</div>';
        }
    }

    /** The value as it was shown (to send only what changed). */
    private static function original(string $field, mixed $value): string
    {
        if ($field === 'dates') {
            return (string) wp_json_encode(self::dates_of(is_array($value) ? $value : []));
        }
        return $value === null ? '' : (string) $value;
    }

    private static function value_html(string $field, mixed $value): string
    {
        if ($value === null || $value === '' || $value === []) {
            return '<span class="lop-muted">—</span>';
        }
        if ($field === 'indicator_pct') {
            return esc_html(number_format((float) $value, 2, ',', '.') . ' %');
        }
        if ($field === 'extra_info') {
            return nl2br(esc_html((string) $value));
        }
        if ($field === 'dates') {
            $items = [];
            foreach ((array) $value as $row) {
                if (!is_array($row)) {
                    continue;
                }
                $date = DateTimeImmutable::createFromFormat('!Y-m-d', (string) ($row['date'] ?? ''));
                $items[] = '<li>' . esc_html(($date ? $date->format('d/m/Y') : (string) ($row['date'] ?? ''))
                    . (empty($row['label']) ? '' : ' ' . (string) $row['label'])) . '</li>';
            }
            return '<ul class="lop-date-list">' . implode('', $items) . '</ul>';
        }
        return esc_html((string) $value);
    }

    /** The add form: shown when the rights of a type of this school allow adding now. */
    private static function render_add(array $rights, array $context, ?array $flash): void
    {
        $allowed = false;
        foreach ($rights as $evaluation) {
            $allowed = $allowed || (is_array($evaluation) && in_array('add_offering', (array) ($evaluation['permissions'] ?? []), true));
        }
        if (!$allowed) {
            return;
        }
        echo '<h3>' . esc_html__('Opleiding toevoegen', 'lop-sidecar') . '</h3>';
        self::form_open('add', $context, ['class' => 'lop-add-offering']);
        echo '<p><label for="lop-catalogue-q">' . esc_html__('Zoek een opleiding (naam of code van de administratieve groep)', 'lop-sidecar')
            . '</label><br><input type="text" id="lop-catalogue-q" name="admgr" class="regular-text" autocomplete="off" '
            . 'aria-describedby="lop-catalogue-help" aria-controls="lop-catalogue-results" required>'
            . ' <button type="submit" class="button">' . esc_html__('Toevoegen', 'lop-sidecar') . '</button></p>';
        echo '<p id="lop-catalogue-help" class="lop-muted">' . esc_html__('Typ enkele letters en kies uit de lijst, of typ de code.', 'lop-sidecar') . '</p>';
        echo '<ul id="lop-catalogue-results" class="lop-catalogue-results" aria-live="polite"></ul>';
        if ($flash !== null && ($flash['do'] ?? '') === 'add') {
            foreach ((array) ($flash['fields'] ?? []) as $messages) {
                foreach ((array) $messages as $message) {
                    echo '<p class="lop-field-error" role="alert">' . esc_html((string) $message) . '</p>';
                }
            }
        }
        echo '</form>';
    }

    // --- the forms ---------------------------------------------------------------------------------------------

    public static function handle_post(): void
    {
        $do = sanitize_key(wp_unslash($_POST['do'] ?? ''));
        if (!in_array($do, ['save', 'remove', 'add'], true)) {
            wp_die(esc_html__('Onbekend formulier.', 'lop-sidecar'), 400);
        }
        check_admin_referer(self::ACTION . '_' . $do);
        if (!current_user_can('read') || !self::is_school_admin()) {
            self::deny();
        }
        $school = absint(wp_unslash($_POST['school'] ?? 0));
        $year = sanitize_key(wp_unslash($_POST['year'] ?? 'current'));
        $year = array_key_exists($year, self::years()) ? $year : 'current';
        $offering = absint(wp_unslash($_POST['offering'] ?? 0));
        $name = sanitize_text_field(wp_unslash($_POST['name'] ?? ''));
        $etag = sanitize_text_field(wp_unslash($_POST['etag'] ?? ''));
        $base = LOP_Sidecar_Admin::site_path('/schools/' . $school . '/offerings');
        $back = self::url(['school' => $school, 'year' => $year]);
        $headers = $etag !== '' ? ['If-Match' => $etag] : [];

        if ($do === 'save') {
            $changes = self::changes();
            if ($changes === []) {
                $notice = ['type' => 'info', 'message' => sprintf(__('Niets gewijzigd aan %s.', 'lop-sidecar'), $name), 'fields' => []];
            } else {
                $response = LOP_Sidecar_Client::request('PATCH', $base . '/' . $offering, [], $changes, ['headers' => $headers]);
                $notice = $response->ok()
                    ? LOP_Sidecar_Admin::success_notice(sprintf(__('Opgeslagen: %s.', 'lop-sidecar'), $name))
                    : self::problem_notice($response, $changes);
            }
            $back .= '#offering-' . $offering;
        } elseif ($do === 'remove') {
            $response = LOP_Sidecar_Client::request('DELETE', $base . '/' . $offering, [], null, ['headers' => $headers]);
            $notice = $response->ok()
                ? LOP_Sidecar_Admin::success_notice(sprintf(__('Verwijderd: %s.', 'lop-sidecar'), $name))
                : self::problem_notice($response, []);
        } else {
            $typed = sanitize_text_field(wp_unslash($_POST['admgr'] ?? ''));
            $code = preg_match('/^\s*(\d+)/', $typed, $match) ? (int) $match[1] : $typed;
            $response = LOP_Sidecar_Client::request('POST', $base, [], ['year' => $year, 'admgr_code' => $code]);
            $notice = $response->ok()
                ? LOP_Sidecar_Admin::success_notice(sprintf(__('Toegevoegd: %s.', 'lop-sidecar'), (string) ($response->json['name'] ?? $typed)))
                : self::problem_notice($response, []);
            $offering = $response->ok() ? (int) ($response->json['id'] ?? 0) : 0;
            if ($offering) {
                $back .= '#offering-' . $offering;
            }
        }
        $notice['offering'] = $offering;
        $notice['do'] = $do;
        LOP_Sidecar_Admin::set_flash($notice);
        wp_safe_redirect($back);
        exit;
    }

    /**
     * The fields whose value differs from the one shown (a field without a shown value counts as changed), as the
     * sidecar takes them: integers as integers, empty as null; anything else is sent as typed for the sidecar to
     * word what is wrong.
     */
    private static function changes(): array
    {
        $orig = is_array($_POST['orig'] ?? null) ? map_deep(wp_unslash($_POST['orig']), 'sanitize_textarea_field') : [];
        $changes = [];
        foreach (array_keys(self::field_labels()) as $field) {
            if (!array_key_exists($field, $_POST)) {
                continue;
            }
            if ($field === 'dates') {
                $raw = is_array($_POST['dates']) ? map_deep(wp_unslash($_POST['dates']), 'sanitize_text_field') : [];
                $value = self::dates_of($raw);
                if (!isset($orig['dates']) || wp_json_encode($value) !== $orig['dates']) {
                    $changes['dates'] = $value;
                }
                continue;
            }
            $typed = $field === 'extra_info'
                ? sanitize_textarea_field(wp_unslash((string) $_POST[$field]))
                : sanitize_text_field(wp_unslash((string) $_POST[$field]));
            if (isset($orig[$field]) && trim($typed) === trim((string) $orig[$field])) {
                continue;
            }
            $changes[$field] = self::typed_value($field, $typed);
        }
        return $changes;
    }

    private static function typed_value(string $field, string $typed): mixed
    {
        $typed = trim($typed);
        if ($typed === '') {
            return null;
        }
        if (in_array($field, self::NUMBERS, true)) {
            return preg_match('/^\d{1,9}$/', $typed) ? (int) $typed : $typed;
        }
        if ($field === 'indicator_pct') {
            $dotted = str_replace(',', '.', $typed);
            return is_numeric($dotted) ? (float) $dotted : $typed;
        }
        return $typed;
    }

    /** Date rows as the sidecar takes them: [{"date", "label"}], rows without a date left out. */
    private static function dates_of(array $rows): array
    {
        $dates = [];
        foreach ($rows as $row) {
            if (!is_array($row) || trim((string) ($row['date'] ?? '')) === '') {
                continue;
            }
            $label = trim((string) ($row['label'] ?? ''));
            $dates[] = ['date' => trim((string) $row['date']), 'label' => $label === '' ? null : $label];
        }
        return $dates;
    }

    /** A refusal as the sidecar words it; a stale ETag says so and what was typed (nothing was overwritten). */
    private static function problem_notice(LOP_Sidecar_Response $response, array $changes): array
    {
        $notice = LOP_Sidecar_Admin::problem_notice($response);
        if ($response->status === 412) {
            $typed = [];
            $labels = self::field_labels();
            foreach ($changes as $field => $value) {
                $typed[] = mb_strtolower($labels[$field] ?? $field) . ' ' . (is_array($value) ? count($value) . ' datum(s)' : ($value ?? '(leeg)'));
            }
            $notice['message'] = __('Iemand anders heeft deze opleiding intussen gewijzigd.', 'lop-sidecar') . ' '
                . __('Er werd niets overschreven: hieronder staan de huidige waarden.', 'lop-sidecar')
                . ($typed ? ' ' . sprintf(__('Jouw invoer was: %s.', 'lop-sidecar'), implode(', ', $typed)) : '');
        }
        return $notice;
    }

    // --- catalogue search (as you type) ------------------------------------------------------------------------

    public static function catalogue(): void
    {
        check_ajax_referer(self::AJAX);
        if (!current_user_can('read') || !self::is_school_admin()) {
            wp_send_json_error(['message' => __('Je hebt geen toegang tot deze pagina.', 'lop-sidecar')], 403);
        }
        $q = sanitize_text_field(wp_unslash($_GET['q'] ?? ''));
        if (mb_strlen($q) < 2) {
            wp_send_json_success(['items' => []]);
        }
        $response = LOP_Sidecar_Client::get('/api/v1/catalogue/admgr', ['q' => $q, 'active' => 'true', 'limit' => 15]);
        if (!$response->ok()) {
            wp_send_json_error(['message' => $response->detail()], $response->unreachable ? 503 : 502);
        }
        $items = [];
        foreach ((array) ($response->json['items'] ?? []) as $item) {
            if (is_array($item)) {
                $items[] = ['code' => (int) ($item['code'] ?? 0), 'description' => (string) ($item['description'] ?? ''),
                    'onderwijsvorm' => (string) ($item['onderwijsvorm'] ?? ''), 'graad' => $item['graad'] ?? null,
                    'leerjaar' => $item['leerjaar'] ?? null];
            }
        }
        wp_send_json_success(['items' => $items]);
    }
}

LOP_Sidecar_Screen_My_School::register();

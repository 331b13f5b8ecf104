<?php
/**
 * Extra > AN: anderstalige nieuwkomers (programme 10000) for the BaO schools of the site. The sidecar says which
 * schools are BaO and whether they have AN (the free-places table of the current and the next year, type BaO);
 * "AN toevoegen aan alle basisscholen" and "AN toevoegen" per school post to POST /an, which decides and counts.
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Screen_AN
{
    public const SLUG = 'an';

    public static function register(): void
    {
        LOP_Sidecar_Admin::screen(self::SLUG, __('AN', 'lop-sidecar'), [self::class, 'render'], [self::class, 'post'],
            null, 80);
    }

    private static function year_labels(): array
    {
        return ['current' => __('lopend schooljaar', 'lop-sidecar'), 'next' => __('volgend schooljaar', 'lop-sidecar')];
    }

    public static function render(): void
    {
        $tables = [];
        foreach (array_keys(self::year_labels()) as $year) {
            $tables[$year] = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/free-places'), ['year' => $year, 'type' => 'BaO']);
            if (!$tables[$year]->ok()) {
                LOP_Sidecar_Admin::problem($tables[$year]);
                return;
            }
        }
        $schools = [];  // id => [name, an per year]
        foreach ($tables as $year => $table) {
            foreach ((array) ($table->json['schools'] ?? []) as $school) {
                if (!is_array($school) || !isset($school['id'])) {
                    continue;
                }
                $id = (int) $school['id'];
                $schools[$id]['name'] = (string) ($school['name'] ?? '');
                $schools[$id]['an'][$year] = is_array($school['an'] ?? null) ? $school['an'] : null;
                $schools[$id]['school_year'][$year] = (string) ($table->json['school_year'] ?? '');
            }
        }
        echo '<p>' . esc_html__('Anderstalige nieuwkomers (AN, administratieve groep 10000) zijn een aparte kolom in de '
            . 'tabel van de vrije plaatsen van het gewoon basisonderwijs. LOP-deskundigen voegen AN toe; de '
            . 'schoolbeheerder vult daarna capaciteit en vrije plaatsen in.', 'lop-sidecar') . '</p>';
        if ($schools === []) {
            LOP_Sidecar_Admin::notice('info', __('Deze site heeft geen scholen van het gewoon basisonderwijs (BaO): '
                . 'AN bestaat enkel daar.', 'lop-sidecar'));
            return;
        }
        $years = self::year_labels();
        LOP_Sidecar_Admin::form_open(self::SLUG, 'all', ['class' => 'lop-an-all']);
        echo '<fieldset><legend class="screen-reader-text">' . esc_html__('Schooljaren', 'lop-sidecar') . '</legend>';
        foreach ($years as $year => $label) {
            $school_year = (string) (reset($schools)['school_year'][$year] ?? '');
            echo '<label><input type="checkbox" name="years[]" value="' . esc_attr($year) . '" checked> '
                . esc_html($label . ($school_year !== '' ? ' (' . $school_year . ')' : '')) . '</label> &nbsp; ';
        }
        LOP_Sidecar_Admin::field_messages('years');
        echo '</fieldset><p>';
        submit_button(__('AN toevoegen aan alle basisscholen', 'lop-sidecar'), 'primary', 'lop-an-all-submit', false);
        echo '</p></form>';

        echo '<table class="widefat striped lop-an"><thead><tr><th scope="col">' . esc_html__('School', 'lop-sidecar') . '</th>';
        foreach ($years as $year => $label) {
            $school_year = (string) (reset($schools)['school_year'][$year] ?? '');
            echo '<th scope="col">' . esc_html(sprintf(__('AN %s', 'lop-sidecar'), $label))
                . ($school_year !== '' ? '<br><span class="lop-muted">' . esc_html($school_year) . '</span>' : '') . '</th>';
        }
        echo '<th scope="col"></th></tr></thead><tbody>';
        foreach ($schools as $id => $school) {
            echo '<tr data-school="' . esc_attr((string) $id) . '"><td>' . esc_html($school['name']) . '</td>';
            $missing = false;
            foreach (array_keys($years) as $year) {
                $an = $school['an'][$year] ?? null;
                if ($an === null) {
                    $missing = true;
                    echo '<td class="lop-an-missing">' . esc_html__('geen AN', 'lop-sidecar') . '</td>';
                } else {
                    $numbers = [];
                    if (isset($an['capacity'])) {
                        $numbers[] = sprintf(__('capaciteit %s', 'lop-sidecar'), (string) $an['capacity']);
                    }
                    if (isset($an['free_places'])) {
                        $numbers[] = sprintf(__('vrije plaatsen %s', 'lop-sidecar'), (string) $an['free_places']);
                    }
                    echo '<td class="lop-an-present">' . esc_html__('AN aanwezig', 'lop-sidecar')
                        . ($numbers ? '<br><span class="lop-muted">' . esc_html(implode(', ', $numbers)) . '</span>' : '') . '</td>';
                }
            }
            echo '<td>';
            if ($missing) {
                LOP_Sidecar_Admin::form_open(self::SLUG, 'school');
                echo '<input type="hidden" name="school" value="' . esc_attr((string) $id) . '">';
                foreach (array_keys($years) as $year) {
                    if (($school['an'][$year] ?? null) === null) {
                        echo '<input type="hidden" name="years[]" value="' . esc_attr($year) . '">';
                    }
                }
                submit_button(__('AN toevoegen', 'lop-sidecar'), 'secondary small', 'lop-an-' . $id, false);
                echo '</form>';
            }
            echo '</td></tr>';
        }
        echo '</tbody></table>';
    }

    public static function post(string $do): array
    {
        $years = isset($_POST['years']) && is_array($_POST['years']) ? array_map('sanitize_key', wp_unslash($_POST['years'])) : [];
        $years = array_values(array_intersect(array_keys(self::year_labels()), $years));
        if ($do === 'all') {
            $schools = 'all';
        } elseif ($do === 'school') {
            $schools = [absint(wp_unslash($_POST['school'] ?? 0))];
        } else {
            return ['type' => 'error', 'message' => __('Onbekende actie.', 'lop-sidecar'), 'fields' => []];
        }
        $response = LOP_Sidecar_Client::request('POST', LOP_Sidecar_Admin::site_path('/an'), [], ['schools' => $schools, 'years' => $years]);
        if (!$response->ok()) {
            return LOP_Sidecar_Admin::problem_notice($response);
        }
        $added = (int) ($response->json['added'] ?? 0);
        $present = (int) ($response->json['already_present'] ?? 0);
        $names = [];
        foreach ((array) ($response->json['schools'] ?? []) as $row) {
            if (is_array($row) && (int) ($row['added'] ?? 0) > 0) {
                $names[] = (string) ($row['name'] ?? '');
            }
        }
        $message = sprintf(__('AN toegevoegd: %1$d keer, was er al: %2$d keer (per school en schooljaar).', 'lop-sidecar'), $added, $present);
        if ($names !== []) {
            $message .= ' ' . sprintf(__('Toegevoegd bij: %s.', 'lop-sidecar'), implode(', ', $names));
        }
        return LOP_Sidecar_Admin::success_notice($message);
    }
}

LOP_Sidecar_Screen_AN::register();

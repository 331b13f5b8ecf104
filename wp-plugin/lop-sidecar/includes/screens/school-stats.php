<?php
/**
 * Extra > School stats: every school with its admins (as GET …/school-stats returns them, in its order), adding
 * an admin by e-mail (a dialog per school) and removing one (with a confirmation), and the totals.
 */

defined('ABSPATH') || exit;

LOP_Sidecar_Admin::screen('school-stats', 'School stats', 'lop_sidecar_school_stats_render',
    'lop_sidecar_school_stats_post', null, 10);

add_action('admin_enqueue_scripts', static function (string $hook): void {
    // The look of helper A's screens (School stats, Import, Export, Logbestand); the dialogs on School stats only.
    if (!preg_match('/_page_lop-(extra|import|export|log)$/', $hook, $match)) {
        return;
    }
    wp_enqueue_style('lop-sidecar-school-stats', plugins_url('assets/school-stats.css', LOP_SIDECAR_FILE), [],
        LOP_SIDECAR_VERSION);
    if ($match[1] === 'extra') {
        wp_enqueue_script('lop-sidecar-school-stats', plugins_url('assets/school-stats.js', LOP_SIDECAR_FILE), [],
            LOP_SIDECAR_VERSION, true);
    }
});

function lop_sidecar_school_stats_render(): void
{
    $response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/school-stats'));
    if (!$response->ok()) {
        LOP_Sidecar_Admin::problem($response);
        return;
    }
    $flash = LOP_Sidecar_Admin::flash();
    $open_school = is_array($flash) && ($flash['type'] ?? '') === 'error' ? absint($flash['school'] ?? 0) : 0;
    $schools = is_array($response->json['schools'] ?? null) ? $response->json['schools'] : [];
    $totals = is_array($response->json['totals'] ?? null) ? $response->json['totals'] : [];

    echo '<p class="lop-totals">' . esc_html(sprintf(
        /* translators: 1: schools, 2: schools without an admin, 3: admins, 4: links */
        __('%1$d scholen, waarvan %2$d zonder beheerder · %3$d schoolbeheerders · %4$d koppelingen', 'lop-sidecar'),
        (int) ($totals['schools'] ?? count($schools)), (int) ($totals['schools_without_admin'] ?? 0),
        (int) ($totals['admins'] ?? 0), (int) ($totals['links'] ?? 0))) . '</p>';

    if ($schools === []) {
        echo '<p>' . esc_html__('Deze LOP-site heeft nog geen scholen.', 'lop-sidecar') . '</p>';
        return;
    }
    echo '<table class="widefat striped lop-school-stats"><thead><tr>';
    foreach ([__('School', 'lop-sidecar'), __('Type', 'lop-sidecar'), __('Instellingsnummer', 'lop-sidecar'),
                 __('Schoolbeheerders', 'lop-sidecar')] as $heading) {
        echo '<th scope="col">' . esc_html($heading) . '</th>';
    }
    echo '</tr></thead><tbody>';
    foreach ($schools as $school) {
        $school_id = (int) ($school['id'] ?? 0);
        $name = (string) ($school['name'] ?? '');
        $numbers = [];
        foreach (is_array($school['vestigingen'] ?? null) ? $school['vestigingen'] : [] as $vestiging) {
            $numbers[] = ($vestiging['instellingsnummer_text'] ?? '') . '-' . ($vestiging['vestigingsnummer'] ?? '');
        }
        echo '<tr data-school="' . esc_attr((string) $school_id) . '">';
        echo '<td><strong>' . esc_html($name) . '</strong></td>';
        echo '<td>' . esc_html((string) ($school['type'] ?? '')) . '</td>';
        echo '<td>' . esc_html(implode(', ', $numbers)) . '</td>';
        echo '<td>';
        $admins = is_array($school['admins'] ?? null) ? $school['admins'] : [];
        if ($admins === []) {
            echo '<p class="lop-muted">' . esc_html__('Geen schoolbeheerder.', 'lop-sidecar') . '</p>';
        } else {
            echo '<ul class="lop-admins">';
            foreach ($admins as $admin) {
                lop_sidecar_school_stats_admin($school_id, $name, $admin);
            }
            echo '</ul>';
        }
        lop_sidecar_school_stats_add_dialog($school_id, $name, $school_id === $open_school);
        echo '</td></tr>';
    }
    echo '</tbody></table>';
}

function lop_sidecar_school_stats_admin(int $school_id, string $school_name, array $admin): void
{
    $email = (string) ($admin['email'] ?? '');
    $display = (string) ($admin['display_name'] ?? '');
    echo '<li class="lop-admin" data-email="' . esc_attr($email) . '">';
    echo '<span class="lop-admin-email">' . esc_html($email) . '</span>';
    if ($display !== '' && $display !== $email) {
        echo ' <span class="lop-admin-name">(' . esc_html($display) . ')</span>';
    }
    echo '<br>';
    if (!empty($admin['password_set'])) {
        echo '<span class="lop-status lop-status-ok">' . esc_html__('wachtwoord ingesteld', 'lop-sidecar') . '</span>';
    } else {
        echo '<span class="lop-status lop-status-pending">' . esc_html__('uitnodiging openstaand', 'lop-sidecar') . '</span>';
    }
    if (!empty($admin['since'])) {
        echo ' <span class="lop-muted">' . esc_html(sprintf(__('sinds %s', 'lop-sidecar'),
            LOP_Sidecar_Admin::local_time((string) $admin['since']))) . '</span>';
    }
    if (!empty($admin['role_missing'])) {
        echo '<br><span class="lop-field-error">' . esc_html__('De rol schoolbeheerder werd in WordPress afgenomen; opnieuw toevoegen herstelt ze.', 'lop-sidecar') . '</span>';
    }
    LOP_Sidecar_Admin::form_open('school-stats', 'remove', ['class' => 'lop-inline',
        'data-lop-confirm' => sprintf(__('%1$s verwijderen als beheerder van %2$s?', 'lop-sidecar'), $email, $school_name)]);
    echo '<input type="hidden" name="school" value="' . esc_attr((string) $school_id) . '">';
    echo '<input type="hidden" name="user" value="' . esc_attr((string) (int) ($admin['user_id'] ?? 0)) . '">';
    echo '<input type="hidden" name="email" value="' . esc_attr($email) . '">';
    echo '<input type="hidden" name="school_name" value="' . esc_attr($school_name) . '">';
    echo '<button type="submit" class="button-link button-link-delete">' . esc_html__('verwijderen', 'lop-sidecar') . '</button>';
    echo '</form>';
    if (empty($admin['role_missing']) && (int) ($admin['user_id'] ?? 0) > 0) {
        // Switching (includes/class-lop-sidecar-switch.php): WordPress and the sidecar both check the target.
        LOP_Sidecar_Switch::switch_form((int) $admin['user_id'], __('Bekijk als deze schoolbeheerder', 'lop-sidecar'),
            LOP_Sidecar_Admin::url('school-stats'));
    }
    echo '</li>';
}

function lop_sidecar_school_stats_add_dialog(int $school_id, string $school_name, bool $open): void
{
    $id = 'lop-add-admin-' . $school_id;
    echo '<button type="button" class="button button-small" data-lop-dialog="' . esc_attr($id) . '">'
        . esc_html__('nieuwe beheerder toevoegen', 'lop-sidecar') . '</button>';
    echo '<dialog id="' . esc_attr($id) . '" class="lop-dialog"' . ($open ? ' data-lop-open="1"' : '') . '>';
    LOP_Sidecar_Admin::form_open('school-stats', 'add');
    echo '<h2>' . esc_html(sprintf(__('Nieuwe beheerder voor %s', 'lop-sidecar'), $school_name)) . '</h2>';
    echo '<input type="hidden" name="school" value="' . esc_attr((string) $school_id) . '">';
    echo '<input type="hidden" name="school_name" value="' . esc_attr($school_name) . '">';
    echo '<p><label for="' . esc_attr($id) . '-email">' . esc_html__('E-mailadres', 'lop-sidecar') . '</label><br>';
    echo '<input type="email" class="regular-text" name="email" id="' . esc_attr($id) . '-email" required maxlength="200"></p>';
    if ($open) {
        LOP_Sidecar_Admin::field_messages('email');
    }
    echo '<p class="lop-muted">' . esc_html__('Wie nog geen account heeft, krijgt een e-mail om een wachtwoord in te stellen.', 'lop-sidecar') . '</p>';
    echo '<p><button type="submit" class="button button-primary">' . esc_html__('Toevoegen', 'lop-sidecar') . '</button> ';
    echo '<button type="button" class="button" data-lop-close>' . esc_html__('Annuleren', 'lop-sidecar') . '</button></p>';
    echo '</form></dialog>';
}

/** @return array<string, mixed> */
function lop_sidecar_school_stats_post(string $do): array
{
    $school = absint(wp_unslash($_POST['school'] ?? 0));
    $school_name = sanitize_text_field(wp_unslash($_POST['school_name'] ?? ''));
    $email = sanitize_text_field(wp_unslash($_POST['email'] ?? ''));
    if ($do === 'add') {
        $response = LOP_Sidecar_Client::request('POST', LOP_Sidecar_Admin::site_path('/schools/' . $school . '/admins'),
            [], ['email' => $email]);
        if (!$response->ok()) {
            return LOP_Sidecar_Admin::problem_notice($response) + ['school' => $school];
        }
        LOP_Sidecar_WordPress::after_write($response->json['wordpress'] ?? null);
        $result = $response->json ?? [];
        if (!empty($result['already_admin'])) {
            $message = sprintf(__('%1$s is al schoolbeheerder van %2$s.', 'lop-sidecar'), $email, $school_name);
            if (!empty($result['role_restored'])) {
                $message .= ' ' . __('De rol schoolbeheerder werd hersteld.', 'lop-sidecar');
            }
        } elseif (!empty($result['created'])) {
            $message = sprintf(__('Nieuw account voor %1$s aangemaakt en gekoppeld aan %2$s: %3$s.', 'lop-sidecar'),
                $email, $school_name, (string) ($result['invitation']['message'] ?? __('uitnodiging in wachtrij', 'lop-sidecar')));
        } else {
            $message = sprintf(__('Het bestaande account van %1$s is gekoppeld aan %2$s.', 'lop-sidecar'), $email, $school_name);
        }
        return LOP_Sidecar_Admin::success_notice($message);
    }
    if ($do === 'remove') {
        $user = absint(wp_unslash($_POST['user'] ?? 0));
        $response = LOP_Sidecar_Client::request('DELETE',
            LOP_Sidecar_Admin::site_path('/schools/' . $school . '/admins/' . $user));
        if (!$response->ok()) {
            return LOP_Sidecar_Admin::problem_notice($response);
        }
        LOP_Sidecar_WordPress::after_write($response->json['wordpress'] ?? null);
        $message = sprintf(__('%1$s is geen beheerder meer van %2$s.', 'lop-sidecar'), $email, $school_name);
        if (!empty($response->json['role_removed'])) {
            $message .= ' ' . __('Zonder andere school op deze site verloor het account de rol schoolbeheerder hier.', 'lop-sidecar');
        }
        return LOP_Sidecar_Admin::success_notice($message);
    }
    return LOP_Sidecar_Admin::success_notice('');
}

<?php
/**
 * Extra > Logbestand: the site's log newest first, a page at a time (the sidecar's cursor), filtered by school,
 * person, action and period, in the words of the downloads (`text` of each entry); "Download log" as Excel or CSV
 * with the same filters. Two sidecar calls: the log page and the schools (for the school filter).
 */

defined('ABSPATH') || exit;

LOP_Sidecar_Admin::screen('log', 'Logbestand', 'lop_sidecar_log_render', null, 'lop_sidecar_log_download', 40);

/** The filters of the request, as the sidecar's query names them. */
function lop_sidecar_log_filters(): array
{
    $filters = [];
    foreach (['school', 'user'] as $name) {
        $value = isset($_GET[$name]) ? absint(wp_unslash($_GET[$name])) : 0;
        if ($value > 0) {
            $filters[$name] = $value;
        }
    }
    // "action" names admin-post.php's handler in WordPress URLs: the log's action travels as log_action.
    foreach (['log_action' => 'action', 'from' => 'from', 'to' => 'to'] as $param => $name) {
        $value = isset($_GET[$param]) ? sanitize_text_field(wp_unslash($_GET[$param])) : '';
        if ($value !== '') {
            $filters[$name] = $value;
        }
    }
    return $filters;
}

/** The filters as this page's own URLs carry them. */
function lop_sidecar_log_url_args(array $filters): array
{
    if (isset($filters['action'])) {
        $filters['log_action'] = $filters['action'];
        unset($filters['action']);
    }
    return $filters;
}

function lop_sidecar_log_render(): void
{
    $filters = lop_sidecar_log_filters();
    $cursor = isset($_GET['cursor']) ? sanitize_text_field(wp_unslash($_GET['cursor'])) : '';
    $page = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/log'), $filters + ['limit' => 50, 'cursor' => $cursor]);
    $schools = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/schools'));

    lop_sidecar_log_filter_form($filters, $schools->ok() && is_array($schools->json['schools'] ?? null) ? $schools->json['schools'] : []);

    echo '<p class="lop-log-downloads">' . esc_html__('Download log:', 'lop-sidecar') . ' ';
    foreach (['xlsx' => __('Excel', 'lop-sidecar'), 'csv' => __('CSV', 'lop-sidecar')] as $format => $label) {
        echo '<a class="button" data-format="' . esc_attr($format) . '" href="'
            . esc_url(LOP_Sidecar_Admin::download_url('log', lop_sidecar_log_url_args($filters) + ['format' => $format])) . '">' . esc_html($label) . '</a> ';
    }
    echo '</p>';

    if (!$page->ok()) {
        LOP_Sidecar_Admin::problem($page);
        return;
    }
    $entries = is_array($page->json['entries'] ?? null) ? $page->json['entries'] : [];
    if ($entries === []) {
        echo '<p>' . esc_html($filters === [] && $cursor === '' ? __('Het logbestand is nog leeg.', 'lop-sidecar')
            : __('Geen wijzigingen gevonden voor deze filters.', 'lop-sidecar')) . '</p>';
        return;
    }
    echo '<table class="widefat striped lop-log"><thead><tr>';
    foreach ([__('Tijdstip', 'lop-sidecar'), __('Wie', 'lop-sidecar'), __('School', 'lop-sidecar'),
                 __('Onderdeel', 'lop-sidecar'), __('Actie', 'lop-sidecar'), __('Veld', 'lop-sidecar'),
                 __('Oude waarde', 'lop-sidecar'), __('Nieuwe waarde', 'lop-sidecar'), __('Bron', 'lop-sidecar')] as $heading) {
        echo '<th scope="col">' . esc_html($heading) . '</th>';
    }
    echo '</tr></thead><tbody>';
    foreach ($entries as $entry) {
        lop_sidecar_log_row(is_array($entry) ? $entry : []);
    }
    echo '</tbody></table>';
    $next = $page->json['next_cursor'] ?? null;
    if (is_string($next) && $next !== '') {
        echo '<p><a class="button" id="lop-log-next" href="' . esc_url(LOP_Sidecar_Admin::url('log', lop_sidecar_log_url_args($filters) + ['cursor' => $next]))
            . '">' . esc_html__('Volgende pagina', 'lop-sidecar') . ' &rarr;</a></p>';
    }
}

function lop_sidecar_log_row(array $entry): void
{
    $text = is_array($entry['text'] ?? null) ? $entry['text'] : [];
    $user = is_array($entry['user'] ?? null) ? $entry['user'] : [];
    $who = (string) ($user['display_name'] ?? '') !== '' ? (string) $user['display_name'] : (string) ($user['login'] ?? '');
    $offering = is_array($entry['offering'] ?? null) ? $entry['offering'] : null;
    echo '<tr>';
    echo '<td class="lop-nowrap">' . esc_html(LOP_Sidecar_WordPress::local_time_seconds((string) ($entry['occurred_at'] ?? ''))) . '</td>';
    // While switched the entry names both: the real person and the account used ("An De Smet (als Jan Peeters)").
    $from = is_array($entry['switched_from'] ?? null) ? $entry['switched_from'] : null;
    echo '<td class="lop-log-who">';
    if ($from !== null) {
        $real = (string) ($from['display_name'] ?? '') !== '' ? (string) $from['display_name'] : (string) ($from['login'] ?? '');
        echo '<span class="lop-log-switched">' . esc_html(sprintf(__('%1$s (als %2$s)', 'lop-sidecar'), $real, $who)) . '</span>';
    } else {
        echo esc_html($who);
    }
    if ((string) ($user['login'] ?? '') !== '' && $user['login'] !== $who) {
        echo '<br><span class="lop-muted">' . esc_html((string) $user['login']) . '</span>';
    }
    if (($text['role'] ?? '') !== '') {
        echo '<br><span class="lop-muted">' . esc_html((string) $text['role']) . '</span>';
    }
    echo '</td>';
    echo '<td>' . esc_html((string) ($entry['school_name'] ?? '')) . '</td>';
    echo '<td>' . esc_html((string) ($text['entity'] ?? $entry['entity'] ?? ''));
    if ($offering !== null) {
        echo '<br><span class="lop-muted">' . esc_html(sprintf('%s (%s, %s)', (string) ($offering['name'] ?? ''),
            (string) ($offering['admgr_code'] ?? ''), (string) ($offering['school_year'] ?? ''))) . '</span>';
    }
    echo '</td>';
    echo '<td>' . esc_html((string) ($text['action'] ?? $entry['action'] ?? '')) . '</td>';
    echo '<td>' . esc_html((string) ($text['field'] ?? $entry['field'] ?? '')) . '</td>';
    echo '<td class="lop-log-value">' . esc_html((string) ($text['old_value'] ?? $entry['old_value'] ?? '')) . '</td>';
    echo '<td class="lop-log-value">' . esc_html((string) ($text['new_value'] ?? $entry['new_value'] ?? '')) . '</td>';
    echo '<td>' . esc_html((string) ($text['source'] ?? $entry['source'] ?? '')) . '</td>';
    echo '</tr>';
}

/** The filters: a GET form (bookmarkable, no nonce needed: it changes nothing). */
function lop_sidecar_log_filter_form(array $filters, array $schools): void
{
    echo '<form method="get" action="' . esc_url(admin_url('admin.php')) . '" class="lop-log-filters">';
    echo '<input type="hidden" name="page" value="lop-log">';
    echo '<label>' . esc_html__('School', 'lop-sidecar') . ' <select name="school"><option value="">'
        . esc_html__('alle scholen', 'lop-sidecar') . '</option>';
    foreach ($schools as $school) {
        $id = (int) ($school['id'] ?? 0);
        echo '<option value="' . esc_attr((string) $id) . '"' . selected($filters['school'] ?? 0, $id, false) . '>'
            . esc_html((string) ($school['name'] ?? '')) . '</option>';
    }
    echo '</select></label> ';
    // People: the site's users as WordPress knows them (the sidecar filters by WordPress user id).
    $users = get_users(['blog_id' => get_current_blog_id(), 'fields' => ['ID', 'display_name', 'user_login'],
        'orderby' => 'display_name', 'number' => 500]);
    echo '<label>' . esc_html__('Persoon', 'lop-sidecar') . ' <select name="user"><option value="">'
        . esc_html__('iedereen', 'lop-sidecar') . '</option>';
    foreach ($users as $user) {
        echo '<option value="' . esc_attr((string) $user->ID) . '"' . selected($filters['user'] ?? 0, (int) $user->ID, false) . '>'
            . esc_html($user->display_name . ' (' . $user->user_login . ')') . '</option>';
    }
    echo '</select></label> ';
    $actions = ['add' => __('toegevoegd', 'lop-sidecar'), 'create' => __('aangemaakt', 'lop-sidecar'),
        'update' => __('gewijzigd', 'lop-sidecar'), 'remove' => __('verwijderd (ontkoppeld)', 'lop-sidecar'),
        'delete' => __('verwijderd', 'lop-sidecar'), 'restore_role' => __('rol hersteld', 'lop-sidecar'),
        'rollover' => __('overgang schooljaar', 'lop-sidecar')];
    echo '<label>' . esc_html__('Actie', 'lop-sidecar') . ' <select name="log_action"><option value="">'
        . esc_html__('alle acties', 'lop-sidecar') . '</option>';
    foreach ($actions as $code => $label) {
        echo '<option value="' . esc_attr($code) . '"' . selected($filters['action'] ?? '', $code, false) . '>' . esc_html($label) . '</option>';
    }
    echo '</select></label> ';
    echo '<label>' . esc_html__('Van', 'lop-sidecar') . ' <input type="date" name="from" value="' . esc_attr($filters['from'] ?? '') . '"></label> ';
    echo '<label>' . esc_html__('Tot en met', 'lop-sidecar') . ' <input type="date" name="to" value="' . esc_attr($filters['to'] ?? '') . '"></label> ';
    echo '<button type="submit" class="button">' . esc_html__('Filteren', 'lop-sidecar') . '</button>';
    if ($filters !== []) {
        echo ' <a href="' . esc_url(LOP_Sidecar_Admin::url('log')) . '">' . esc_html__('Filters wissen', 'lop-sidecar') . '</a>';
    }
    echo '</form>';
}

function lop_sidecar_log_download(): ?LOP_Sidecar_Response
{
    $format = sanitize_key(wp_unslash($_GET['format'] ?? 'csv'));
    return LOP_Sidecar_Client::stream_download(LOP_Sidecar_Admin::site_path('/log/export'),
        lop_sidecar_log_filters() + ['format' => $format]);
}

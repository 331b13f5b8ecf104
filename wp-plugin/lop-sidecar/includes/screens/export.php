<?php
/**
 * Extra > Export: free places (current and next school year), the offerings, and the stored free-places
 * snapshots (1 July and others), each as Excel or CSV, streamed from the sidecar.
 */

defined('ABSPATH') || exit;

LOP_Sidecar_Admin::screen('export', 'Export', 'lop_sidecar_export_render', null, 'lop_sidecar_export_download', 30);

function lop_sidecar_export_links(array $args): string
{
    $links = [];
    foreach (['xlsx' => __('Excel', 'lop-sidecar'), 'csv' => __('CSV', 'lop-sidecar')] as $format => $label) {
        $links[] = '<a class="button" href="' . esc_url(LOP_Sidecar_Admin::download_url('export', $args + ['format' => $format]))
            . '" data-format="' . esc_attr($format) . '">' . esc_html($label) . '</a>';
    }
    return implode(' ', $links);
}

function lop_sidecar_export_render(): void
{
    $years = ['current' => __('Lopend schooljaar', 'lop-sidecar'), 'next' => __('Volgend schooljaar', 'lop-sidecar')];
    echo '<table class="widefat striped lop-exports"><thead><tr><th scope="col">' . esc_html__('Export', 'lop-sidecar')
        . '</th><th scope="col">' . esc_html__('Schooljaar', 'lop-sidecar') . '</th><th scope="col">'
        . esc_html__('Download', 'lop-sidecar') . '</th></tr></thead><tbody>';
    foreach (['free-places' => __('Vrije plaatsen', 'lop-sidecar'), 'offerings' => __('Aanbod (alle velden)', 'lop-sidecar')] as $what => $title) {
        foreach ($years as $year => $year_label) {
            echo '<tr data-export="' . esc_attr($what . '-' . $year) . '"><td>' . esc_html($title) . '</td><td>'
                . esc_html($year_label) . '</td><td>' . lop_sidecar_export_links(['what' => $what, 'year' => $year]) . '</td></tr>';
        }
    }
    echo '</tbody></table>';

    echo '<h2>' . esc_html__('Momentopnames van de vrije plaatsen', 'lop-sidecar') . '</h2>';
    echo '<p class="lop-muted">' . esc_html__('Elk jaar op 1 juli worden de vrije plaatsen bewaard, zoals ze toen waren.', 'lop-sidecar') . '</p>';
    $response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/exports/snapshots'));
    if (!$response->ok()) {
        LOP_Sidecar_Admin::problem($response);
        return;
    }
    $snapshots = is_array($response->json['snapshots'] ?? null) ? $response->json['snapshots'] : [];
    if ($snapshots === []) {
        echo '<p>' . esc_html__('Er werden nog geen momentopnames bewaard.', 'lop-sidecar') . '</p>';
        return;
    }
    $kinds = ['1_july' => __('1 juli', 'lop-sidecar'), 'rollover' => __('bij de overgang naar het nieuwe schooljaar', 'lop-sidecar'),
        'manual' => __('manueel', 'lop-sidecar')];
    echo '<table class="widefat striped lop-snapshots"><thead><tr>';
    foreach ([__('Datum', 'lop-sidecar'), __('Schooljaar', 'lop-sidecar'), __('Soort', 'lop-sidecar'),
                 __('Rijen', 'lop-sidecar'), __('Download', 'lop-sidecar')] as $heading) {
        echo '<th scope="col">' . esc_html($heading) . '</th>';
    }
    echo '</tr></thead><tbody>';
    foreach ($snapshots as $snapshot) {
        $date = (string) ($snapshot['date'] ?? '');
        $kind = (string) ($snapshot['kind'] ?? '');
        echo '<tr><td>' . esc_html(LOP_Sidecar_WordPress::local_date($date)) . '</td><td>'
            . esc_html((string) ($snapshot['school_year'] ?? '')) . '</td><td>' . esc_html($kinds[$kind] ?? $kind)
            . '</td><td>' . esc_html((string) (int) ($snapshot['rows'] ?? 0)) . '</td><td>'
            . lop_sidecar_export_links(['what' => 'snapshot', 'snapshot' => $date]) . '</td></tr>';
    }
    echo '</tbody></table>';
}

function lop_sidecar_export_download(): ?LOP_Sidecar_Response
{
    $what = sanitize_key(wp_unslash($_GET['what'] ?? ''));
    $query = ['format' => sanitize_key(wp_unslash($_GET['format'] ?? 'xlsx'))];
    if ($what === 'snapshot') {
        return LOP_Sidecar_Client::stream_download(LOP_Sidecar_Admin::site_path('/exports/free-places'),
            $query + ['snapshot' => sanitize_text_field(wp_unslash($_GET['snapshot'] ?? ''))]);
    }
    $query['year'] = sanitize_text_field(wp_unslash($_GET['year'] ?? 'current'));
    $path = $what === 'offerings' ? '/exports/offerings' : '/exports/free-places';
    return LOP_Sidecar_Client::stream_download(LOP_Sidecar_Admin::site_path($path), $query);
}

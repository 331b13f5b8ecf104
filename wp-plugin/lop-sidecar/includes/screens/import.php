<?php
/**
 * Extra > Import: the Excel template of school admins; an uploaded file is first checked by the sidecar (dry
 * run: what would happen, or every error by row and column, with the file annotated), then "Toepassen".
 * The uploaded file waits between the two steps in a private temporary file of this user (an hour at most).
 */

defined('ABSPATH') || exit;

LOP_Sidecar_Admin::screen('import', 'Import', 'lop_sidecar_import_render', 'lop_sidecar_import_post',
    'lop_sidecar_import_download', 20);

const LOP_SIDECAR_IMPORT_PATH = '/imports/school-admins';

/** The current user's waiting upload: ['file' => path, 'name' => original name] or null. */
function lop_sidecar_import_pending(): ?array
{
    $pending = get_transient('lop_sidecar_import_' . get_current_user_id());
    return is_array($pending) && is_string($pending['file'] ?? null) && is_file($pending['file']) ? $pending : null;
}

function lop_sidecar_import_forget(): void
{
    $pending = lop_sidecar_import_pending();
    if ($pending !== null) {
        wp_delete_file($pending['file']);
    }
    delete_transient('lop_sidecar_import_' . get_current_user_id());
}

/** The multipart body of the upload (built here: the signature covers the exact bytes). */
function lop_sidecar_import_body(array $pending): array
{
    $boundary = 'lop' . wp_generate_password(24, false);
    $name = str_replace(['"', "\r", "\n"], '', (string) $pending['name']);
    $body = "--$boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"$name\"\r\n"
        . "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
        . (string) file_get_contents($pending['file']) . "\r\n--$boundary--\r\n";
    return ['body' => $body, 'content_type' => 'multipart/form-data; boundary=' . $boundary, 'timeout' => 60];
}

function lop_sidecar_import_render(): void
{
    $flash = LOP_Sidecar_Admin::flash();
    $step = is_array($flash) ? (string) ($flash['step'] ?? '') : '';
    $pending = lop_sidecar_import_pending();

    echo '<h2>' . esc_html__('1. Sjabloon', 'lop-sidecar') . '</h2>';
    echo '<p>' . esc_html__('Download het sjabloon, vul per rij één schoolbeheerder in (school en e-mailadres) en laad het hieronder op.', 'lop-sidecar') . '</p>';
    echo '<p><a class="button" id="lop-import-template" href="' . esc_url(LOP_Sidecar_Admin::download_url('import', ['what' => 'template']))
        . '">' . esc_html__('Sjabloon downloaden (Excel)', 'lop-sidecar') . '</a></p>';

    if ($step === 'preview' && $pending !== null) {
        echo '<h2>' . esc_html__('2. Voorbeeld', 'lop-sidecar') . '</h2>';
        echo '<p>' . esc_html(sprintf(__('Bestand: %s', 'lop-sidecar'), (string) $pending['name'])) . '</p>';
        echo '<div class="lop-preview notice notice-info inline"><p>' . esc_html((string) ($flash['preview'] ?? '')) . '</p></div>';
        LOP_Sidecar_Admin::form_open('import', 'apply', ['id' => 'lop-import-apply']);
        echo '<p><button type="submit" class="button button-primary">' . esc_html__('Toepassen', 'lop-sidecar') . '</button> ';
        echo '<span class="lop-muted">' . esc_html__('of laad hieronder een ander bestand op.', 'lop-sidecar') . '</span></p></form>';
    }
    if ($step === 'errors') {
        $errors = is_array($flash['errors'] ?? null) ? $flash['errors'] : [];
        if ($errors !== []) {
            echo '<h2>' . esc_html__('2. Fouten in het bestand', 'lop-sidecar') . '</h2>';
            echo '<table class="widefat striped lop-import-errors"><thead><tr><th scope="col">'
                . esc_html__('Rij', 'lop-sidecar') . '</th><th scope="col">' . esc_html__('Kolom', 'lop-sidecar')
                . '</th><th scope="col">' . esc_html__('Fout', 'lop-sidecar') . '</th></tr></thead><tbody>';
            foreach ($errors as $error) {
                echo '<tr><td>' . esc_html((string) ($error['row'] ?? '')) . '</td><td>' . esc_html((string) ($error['column'] ?? ''))
                    . '</td><td>' . esc_html((string) ($error['message'] ?? '')) . '</td></tr>';
            }
            echo '</tbody></table>';
        }
        if ($pending !== null && ($flash['code'] ?? '') === 'import_invalid') {
            echo '<p><a class="button" href="' . esc_url(LOP_Sidecar_Admin::download_url('import', ['what' => 'report']))
                . '">' . esc_html__('Bestand met de fouten aangeduid downloaden (Excel)', 'lop-sidecar') . '</a> '
                . '<span class="lop-muted">' . esc_html__('Verbeter de rijen en laad het bestand opnieuw op: de kolom Status mag blijven staan.', 'lop-sidecar') . '</span></p>';
        }
    }
    if ($step === 'applied') {
        echo '<h2>' . esc_html__('Resultaat', 'lop-sidecar') . '</h2>';
        echo '<div class="lop-result notice notice-success inline"><p>' . esc_html((string) ($flash['result'] ?? '')) . '</p></div>';
        echo '<p><a href="' . esc_url(LOP_Sidecar_Admin::url('school-stats')) . '">' . esc_html__('Naar School stats', 'lop-sidecar') . '</a></p>';
    }

    echo '<h2>' . esc_html__('Bestand opladen', 'lop-sidecar') . '</h2>';
    LOP_Sidecar_Admin::form_open('import', 'upload', ['enctype' => 'multipart/form-data', 'id' => 'lop-import-upload']);
    echo '<p><label for="lop-import-file">' . esc_html__('Ingevuld sjabloon (.xlsx, hoogstens 5 MB)', 'lop-sidecar') . '</label><br>';
    echo '<input type="file" name="file" id="lop-import-file" accept=".xlsx" required></p>';
    LOP_Sidecar_Admin::field_messages('file');
    echo '<p><button type="submit" class="button">' . esc_html__('Nakijken', 'lop-sidecar') . '</button> '
        . '<span class="lop-muted">' . esc_html__('Er wordt nog niets gewijzigd: je ziet eerst wat er zal gebeuren.', 'lop-sidecar') . '</span></p></form>';
}

/** @return array<string, mixed> */
function lop_sidecar_import_post(string $do): array
{
    if ($do === 'upload') {
        lop_sidecar_import_forget();
        $upload = $_FILES['file'] ?? null;
        if (!is_array($upload) || ($upload['error'] ?? UPLOAD_ERR_NO_FILE) !== UPLOAD_ERR_OK
            || !is_uploaded_file((string) $upload['tmp_name'])) {
            return ['type' => 'error', 'message' => __('Kies het ingevulde sjabloon om op te laden.', 'lop-sidecar'),
                'fields' => ['file' => [__('Verplicht: het ingevulde sjabloon (.xlsx).', 'lop-sidecar')]]];
        }
        $file = wp_tempnam('lop-import');
        if (!move_uploaded_file((string) $upload['tmp_name'], $file)) {
            return ['type' => 'error', 'message' => __('Het bestand kon niet bewaard worden.', 'lop-sidecar'), 'fields' => []];
        }
        $pending = ['file' => $file, 'name' => sanitize_file_name(wp_unslash((string) ($upload['name'] ?? 'import.xlsx')))];
        set_transient('lop_sidecar_import_' . get_current_user_id(), $pending, HOUR_IN_SECONDS);
        $response = LOP_Sidecar_Client::request('POST', LOP_Sidecar_Admin::site_path(LOP_SIDECAR_IMPORT_PATH),
            ['dry_run' => 'true'], null, lop_sidecar_import_body($pending));
        if ($response->ok()) {
            return LOP_Sidecar_Admin::success_notice(__('Het bestand is nagekeken: er werd nog niets gewijzigd.', 'lop-sidecar'),
                ['step' => 'preview', 'preview' => (string) ($response->json['message'] ?? '')]);
        }
        $errors = is_array($response->json['errors'] ?? null) ? array_values(array_filter($response->json['errors'],
            static fn($e): bool => is_array($e) && isset($e['row']))) : [];
        return LOP_Sidecar_Admin::problem_notice($response) + ['step' => 'errors', 'errors' => $errors, 'code' => $response->code()];
    }
    if ($do === 'apply') {
        $pending = lop_sidecar_import_pending();
        if ($pending === null) {
            return ['type' => 'error', 'message' => __('Laad het bestand opnieuw op: het wachtte te lang.', 'lop-sidecar'), 'fields' => []];
        }
        $response = LOP_Sidecar_Client::request('POST', LOP_Sidecar_Admin::site_path(LOP_SIDECAR_IMPORT_PATH), [], null,
            lop_sidecar_import_body($pending));
        if (!$response->ok()) {
            $errors = is_array($response->json['errors'] ?? null) ? array_values(array_filter($response->json['errors'],
                static fn($e): bool => is_array($e) && isset($e['row']))) : [];
            return LOP_Sidecar_Admin::problem_notice($response) + ['step' => 'errors', 'errors' => $errors, 'code' => $response->code()];
        }
        LOP_Sidecar_WordPress::after_write($response->json['wordpress'] ?? null);
        lop_sidecar_import_forget();
        $message = (string) ($response->json['message'] ?? '');
        return LOP_Sidecar_Admin::success_notice(__('De schoolbeheerders zijn toegevoegd.', 'lop-sidecar'),
            ['step' => 'applied', 'result' => $message]);
    }
    return LOP_Sidecar_Admin::success_notice('');
}

/** The template, or the waiting upload annotated by the sidecar (its Status column says what is wrong per row). */
function lop_sidecar_import_download(): ?LOP_Sidecar_Response
{
    $what = sanitize_key(wp_unslash($_GET['what'] ?? ''));
    if ($what === 'template') {
        return LOP_Sidecar_Client::stream_download(LOP_Sidecar_Admin::site_path(LOP_SIDECAR_IMPORT_PATH . '/template.xlsx'));
    }
    $pending = lop_sidecar_import_pending();
    if ($what !== 'report' || $pending === null) {
        return new LOP_Sidecar_Response(404, ['detail' => __('Laad het bestand opnieuw op: het wachtte te lang.', 'lop-sidecar')]);
    }
    return lop_sidecar_import_stream_report($pending);
}

/**
 * POST the waiting upload with report=xlsx&dry_run=true and pass the annotated workbook through to the browser.
 * The sidecar answers a file with errors as 422 with the xlsx content type (nothing applied), a correct one as
 * JSON (a dry run applies nothing): only an xlsx answer is sent on.
 */
function lop_sidecar_import_stream_report(array $pending): ?LOP_Sidecar_Response
{
    $response = LOP_Sidecar_Client::request('POST', LOP_Sidecar_Admin::site_path(LOP_SIDECAR_IMPORT_PATH),
        ['report' => 'xlsx', 'dry_run' => 'true'], null,
        ['timeout' => LOP_Sidecar_Client::DOWNLOAD_TIMEOUT] + lop_sidecar_import_body($pending));
    if ($response->unreachable) {
        return $response;
    }
    if (!str_contains($response->headers['content-type'] ?? '', 'spreadsheetml')) {
        if ($response->ok()) {  // the file has no errors (any more): nothing to annotate
            return new LOP_Sidecar_Response(409, ['detail' => __('Dit bestand bevat geen fouten: je kunt het toepassen.', 'lop-sidecar')]);
        }
        return $response;
    }
    // The annotated file is at most the 5 MB upload plus a column: held once here, then sent.
    while (ob_get_level() > 0) {
        ob_end_clean();
    }
    nocache_headers();
    header('Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    header('Content-Disposition: attachment; filename="import-schoolbeheerders-fouten.xlsx"');
    header('X-Content-Type-Options: nosniff');
    echo $response->body;
    return null;
}

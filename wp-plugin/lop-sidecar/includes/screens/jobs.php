<?php
/**
 * Extra > Synchronisaties: the jobs the sidecar lists for this person (GET /jobs: operators all of them, LOP
 * experts the per-site ones), each with its schedule, next run and last result; "Nu uitvoeren" (optionally a dry
 * run) queues a run (POST /jobs/{job}/runs) and a progress bar follows it through the plugin's own admin-ajax
 * endpoint (GET /jobs/runs/{id}, signed on the server: the secret never reaches the browser) up to the summary.
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Screen_Jobs
{
    public const SLUG = 'synchronisaties';
    public const AJAX_ACTION = 'lop_sidecar_run';

    public static function register(): void
    {
        LOP_Sidecar_Admin::screen(self::SLUG, __('Synchronisaties', 'lop-sidecar'), [self::class, 'render'],
            [self::class, 'post'], null, 70);
        add_action('wp_ajax_' . self::AJAX_ACTION, [self::class, 'ajax_run']);
        add_action('admin_enqueue_scripts', [self::class, 'assets']);
    }

    /** Dutch names of the sidecar's jobs (its `description` is technical English); others show that description. */
    private static function titles(): array
    {
        return [
            'ov-sync' => __('Onderwijs Vlaanderen: aanbod ophalen en vergelijken', 'lop-sidecar'),
            'agodi-sync' => __('AgODi: administratieve groepen bijwerken', 'lop-sidecar'),
            'free-places-snapshot' => __('Momentopname van de vrije plaatsen (1 juli)', 'lop-sidecar'),
            'rollover' => __('Overgang naar het nieuwe schooljaar (1 augustus)', 'lop-sidecar'),
            'mail-outbox' => __('E-mails versturen', 'lop-sidecar'),
            'prune-nonces' => __('Oude aanvraagsleutels opruimen', 'lop-sidecar'),
            'prune-job-runs' => __('Oude uitvoeringen opruimen', 'lop-sidecar'),
            'site-purge' => __('Verwijderde site opruimen (logbestand archiveren)', 'lop-sidecar'),
        ];
    }

    private static function status_text(string $status): string
    {
        return [
            'queued' => __('in de wachtrij', 'lop-sidecar'),
            'running' => __('bezig', 'lop-sidecar'),
            'succeeded' => __('gelukt', 'lop-sidecar'),
            'failed' => __('mislukt', 'lop-sidecar'),
            'skipped' => __('overgeslagen', 'lop-sidecar'),
        ][$status] ?? $status;
    }

    /** A crontab expression (Brussels time) in words, for the usual shapes; anything else as it is. */
    private static function schedule_text(string $cron): string
    {
        if ($cron === 'manual') {
            return __('enkel op vraag', 'lop-sidecar');
        }
        $parts = preg_split('/\s+/', trim($cron));
        if (!is_array($parts) || count($parts) !== 5) {
            return $cron;
        }
        [$minute, $hour, $day, $month, $weekday] = $parts;
        $digits = static fn(string ...$values): bool => array_reduce($values, static fn(bool $ok, string $v): bool => $ok && ctype_digit($v), true);
        if ($cron === '* * * * *') {
            return __('elke minuut', 'lop-sidecar');
        }
        if ($digits($minute) && $hour === '*' && $day === '*' && $month === '*' && $weekday === '*') {
            return sprintf(__('elk uur om :%02d', 'lop-sidecar'), (int) $minute);
        }
        if (!$digits($minute, $hour)) {
            return $cron;
        }
        $time = sprintf('%02d:%02d', (int) $hour, (int) $minute);
        if ($day === '*' && $month === '*' && $weekday === '*') {
            return sprintf(__('elke dag om %s', 'lop-sidecar'), $time);
        }
        $weekdays = [__('zondag', 'lop-sidecar'), __('maandag', 'lop-sidecar'), __('dinsdag', 'lop-sidecar'),
            __('woensdag', 'lop-sidecar'), __('donderdag', 'lop-sidecar'), __('vrijdag', 'lop-sidecar'), __('zaterdag', 'lop-sidecar')];
        if ($day === '*' && $month === '*' && $digits($weekday) && (int) $weekday <= 7) {
            return sprintf(__('elke %1$s om %2$s', 'lop-sidecar'), $weekdays[(int) $weekday % 7], $time);
        }
        $months = ['', 'januari', 'februari', 'maart', 'april', 'mei', 'juni', 'juli', 'augustus', 'september', 'oktober',
            'november', 'december'];
        if ($digits($day, $month) && $weekday === '*' && (int) $month >= 1 && (int) $month <= 12) {
            return sprintf(__('elk jaar op %1$d %2$s om %3$s', 'lop-sidecar'), (int) $day, $months[(int) $month], $time);
        }
        return $cron;
    }

    public static function render(): void
    {
        $response = LOP_Sidecar_Client::get('/api/v1/jobs');
        $flash = LOP_Sidecar_Admin::flash();
        if (is_array($flash) && absint($flash['run'] ?? 0) > 0) {
            echo '<div class="lop-run-started">';
            echo '<h2>' . esc_html(sprintf(__('Uitvoering %1$d: %2$s', 'lop-sidecar'), absint($flash['run']),
                (string) ($flash['run_title'] ?? ''))) . '</h2>';
            self::progress(['id' => absint($flash['run']), 'status' => (string) ($flash['run_status'] ?? 'queued'),
                'dry_run' => !empty($flash['run_dry_run'])]);
            echo '</div>';
        }
        if (!$response->ok()) {
            LOP_Sidecar_Admin::problem($response);
            return;
        }
        $jobs = array_values(array_filter((array) ($response->json['jobs'] ?? []), 'is_array'));
        $site_jobs = array_values(array_filter($jobs, static fn(array $j): bool => !empty($j['site_scoped'])));
        $network_jobs = array_values(array_filter($jobs, static fn(array $j): bool => empty($j['site_scoped'])));
        echo '<h2>' . esc_html__('Taken van deze site', 'lop-sidecar') . '</h2>';
        self::table($site_jobs);
        if ($network_jobs !== []) {
            echo '<h2>' . esc_html__('Netwerktaken (voor alle LOP-sites samen)', 'lop-sidecar') . '</h2>';
            self::table($network_jobs);
        } else {
            echo '<p class="lop-muted lop-jobs-network-note">' . esc_html__('De synchronisatie met Onderwijs Vlaanderen '
                . 'en de andere netwerktaken start de beheerder van het platform; het resultaat van de laatste synchronisatie '
                . 'met Onderwijs Vlaanderen staat op het scherm Onderwijs Vlaanderen.', 'lop-sidecar') . '</p>';
        }
    }

    private static function table(array $jobs): void
    {
        if ($jobs === []) {
            echo '<p>' . esc_html__('Geen taken.', 'lop-sidecar') . '</p>';
            return;
        }
        $titles = self::titles();
        echo '<table class="widefat striped lop-jobs"><thead><tr>'
            . '<th scope="col">' . esc_html__('Taak', 'lop-sidecar') . '</th>'
            . '<th scope="col">' . esc_html__('Planning', 'lop-sidecar') . '</th>'
            . '<th scope="col">' . esc_html__('Volgende uitvoering', 'lop-sidecar') . '</th>'
            . '<th scope="col">' . esc_html__('Laatste resultaat', 'lop-sidecar') . '</th>'
            . '<th scope="col">' . esc_html__('Nu uitvoeren', 'lop-sidecar') . '</th>'
            . '</tr></thead><tbody>';
        foreach ($jobs as $job) {
            $name = (string) ($job['name'] ?? '');
            $schedule = (string) ($job['schedule'] ?? '');
            echo '<tr class="lop-job" data-job="' . esc_attr($name) . '">';
            echo '<td><strong>' . esc_html($titles[$name] ?? (string) ($job['description'] ?? $name)) . '</strong>'
                . '<br><code class="lop-muted">' . esc_html($name) . '</code></td>';
            echo '<td>' . esc_html(self::schedule_text($schedule)) . '</td>';
            echo '<td>' . esc_html(LOP_Sidecar_Admin::local_time($job['next_run_at'] ?? null,
                $schedule === 'manual' ? '—' : __('onbekend (planner niet actief?)', 'lop-sidecar'))) . '</td>';
            echo '<td class="lop-job-last">';
            $last = is_array($job['last_run'] ?? null) ? $job['last_run'] : null;
            if ($last === null) {
                echo esc_html__('nog niet uitgevoerd', 'lop-sidecar');
            } else {
                self::progress($last);
            }
            echo '</td><td>';
            if ($name === 'site-purge') {
                // This plugin queues it itself when WordPress deletes a site (wp_delete_site): no button on a live one.
                echo '<span class="lop-muted">' . esc_html__('start vanzelf wanneer een site in WordPress verwijderd wordt', 'lop-sidecar') . '</span>';
            } elseif ($job['may_start'] ?? true) {
                self::run_form($name, (bool) ($job['site_scoped'] ?? false));
            }
            echo '</td></tr>';
        }
        echo '</tbody></table>';
    }

    private static function run_form(string $name, bool $site_scoped): void
    {
        LOP_Sidecar_Admin::form_open(self::SLUG, 'run', ['class' => 'lop-job-run']);
        echo '<input type="hidden" name="job" value="' . esc_attr($name) . '">';
        echo '<input type="hidden" name="site_scoped" value="' . ($site_scoped ? '1' : '0') . '">';
        echo '<label><input type="checkbox" name="dry_run" value="1"> ' . esc_html__('proefdraaien (niets wijzigen)', 'lop-sidecar')
            . '</label><br>';
        submit_button($name === 'ov-sync' ? __('Nu synchroniseren', 'lop-sidecar') : __('Nu uitvoeren', 'lop-sidecar'),
            'secondary', 'lop-run-' . $name, false);
        echo '</form>';
    }

    /**
     * A run's state: a progress bar while it is queued or running (assets/jobs.js follows it), else its outcome
     * and summary line.
     */
    private static function progress(array $run): void
    {
        $id = absint($run['id'] ?? 0);
        $status = (string) ($run['status'] ?? '');
        $finished = !in_array($status, ['queued', 'running'], true);
        $done = $run['progress']['done'] ?? null;
        $total = $run['progress']['total'] ?? null;
        echo '<div class="lop-run lop-run-' . esc_attr($status) . '" data-run="' . esc_attr((string) $id) . '" data-finished="'
            . ($finished ? '1' : '0') . '" data-nonce="' . esc_attr(wp_create_nonce(self::AJAX_ACTION)) . '" data-url="'
            . esc_url(admin_url('admin-ajax.php')) . '">';
        echo '<span class="lop-run-status">' . esc_html(self::status_line($run)) . '</span>';
        if (!$finished) {
            echo '<br><progress class="lop-run-bar" max="' . esc_attr((string) max(1, (int) $total)) . '"'
                . (is_int($total) && $total > 0 ? ' value="' . esc_attr((string) (int) $done) . '"' : '') . '></progress> '
                . '<span class="lop-run-count">' . esc_html(is_int($total) && $total > 0 ? sprintf('%d / %d', (int) $done, $total) : '')
                . '</span>';
        }
        $summary = self::summary($run);
        echo '<div class="lop-run-summary' . (($run['status'] ?? '') === 'failed' ? ' lop-field-error' : '') . '">'
            . esc_html($summary) . '</div>';
        echo '</div>';
    }

    private static function status_line(array $run): string
    {
        $status = (string) ($run['status'] ?? '');
        $line = ucfirst(self::status_text($status));
        if (!empty($run['dry_run'])) {
            $line .= ' ' . __('(proefdraaien)', 'lop-sidecar');
        }
        $when = $run['finished_at'] ?? $run['started_at'] ?? $run['created_at'] ?? null;
        if (is_string($when)) {
            $line .= ', ' . LOP_Sidecar_Admin::local_time($when);
        }
        return $line;
    }

    private static function summary(array $run): string
    {
        if (($run['status'] ?? '') === 'failed' && is_string($run['error'] ?? null)) {
            return $run['error'];
        }
        return is_string($run['summary'] ?? null) ? $run['summary'] : '';
    }

    public static function post(string $do): array
    {
        if ($do !== 'run') {
            return ['type' => 'error', 'message' => __('Onbekende actie.', 'lop-sidecar'), 'fields' => []];
        }
        $job = sanitize_key(wp_unslash($_POST['job'] ?? ''));
        $body = ['dry_run' => !empty($_POST['dry_run'])];
        if (!empty($_POST['site_scoped'])) {
            $body['site'] = get_current_blog_id();
        }
        $title = self::titles()[$job] ?? $job;
        $response = LOP_Sidecar_Client::request('POST', '/api/v1/jobs/' . rawurlencode($job) . '/runs', [], $body);
        if ($response->status === 409 && $response->code() === 'job_already_running') {
            $run = absint($response->json['errors'][0]['run_id'] ?? 0);
            return array_merge(LOP_Sidecar_Admin::problem_notice($response),
                ['type' => 'warning', 'run' => $run, 'run_title' => $title, 'run_status' => 'running']);
        }
        if (!$response->ok()) {
            return LOP_Sidecar_Admin::problem_notice($response);
        }
        $run = absint($response->json['id'] ?? 0);
        $message = $body['dry_run']
            ? sprintf(__('%s: proefdraaien gestart (er wordt niets gewijzigd).', 'lop-sidecar'), $title)
            : sprintf(__('%s: gestart.', 'lop-sidecar'), $title);
        return LOP_Sidecar_Admin::success_notice($message,
            ['run' => $run, 'run_title' => $title, 'run_status' => 'queued', 'run_dry_run' => $body['dry_run']]);
    }

    /** admin-ajax: one run's state for the progress bar (its own nonce and the capability). */
    public static function ajax_run(): void
    {
        check_ajax_referer(self::AJAX_ACTION, 'nonce');
        if (!current_user_can(LOP_Sidecar_Admin::CAPABILITY)) {
            wp_send_json_error(['message' => __('Je hebt geen toegang tot deze pagina.', 'lop-sidecar')], 403);
        }
        $id = absint(wp_unslash($_GET['run'] ?? 0));
        $response = LOP_Sidecar_Client::get('/api/v1/jobs/runs/' . $id);
        if (!$response->ok()) {
            wp_send_json_error(['message' => $response->detail(), 'unreachable' => $response->unreachable],
                $response->unreachable ? 503 : ($response->status ?: 502));
        }
        $run = $response->json;
        $status = (string) ($run['status'] ?? '');
        wp_send_json_success([
            'status' => $status,
            'finished' => !in_array($status, ['queued', 'running'], true),
            'status_line' => self::status_line($run),
            'done' => is_int($run['progress']['done'] ?? null) ? $run['progress']['done'] : null,
            'total' => is_int($run['progress']['total'] ?? null) ? $run['progress']['total'] : null,
            'summary' => self::summary($run),
        ]);
    }

    public static function assets(): void
    {
        if (LOP_Sidecar_Admin::is_screen(self::SLUG)) {
            $base = plugins_url('assets/', LOP_SIDECAR_FILE);
            wp_enqueue_style('lop-sidecar-jobs', $base . 'jobs.css', ['lop-sidecar-admin'], LOP_SIDECAR_VERSION);
            wp_enqueue_script('lop-sidecar-jobs', $base . 'jobs.js', [], LOP_SIDECAR_VERSION, true);
            wp_localize_script('lop-sidecar-jobs', 'lopSidecarJobs', [
                'unreachable' => LOP_Sidecar_Client::UNREACHABLE,
            ]);
        }
    }
}

LOP_Sidecar_Screen_Jobs::register();

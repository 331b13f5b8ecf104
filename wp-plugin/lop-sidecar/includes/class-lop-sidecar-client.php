<?php
/**
 * The one client of the sidecar: signs every request (LOP_Sidecar_Signer) as the logged-in WordPress user,
 * sends page calls through WordPress's HTTP API with a short timeout, and passes downloads through to the
 * browser as they arrive (PHP's curl with a write callback: WordPress's HTTP API would hold them whole).
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Response
{
    /** @param array<string, mixed>|null $json */
    public function __construct(
        public readonly int $status,
        public readonly ?array $json,
        public readonly array $headers = [],
        public readonly bool $unreachable = false,
        public readonly string $body = '',  // the raw answer (a file the page hands on, such as an annotated upload)
    ) {
    }

    public function ok(): bool
    {
        return !$this->unreachable && $this->status >= 200 && $this->status < 300;
    }

    /** The problem's Dutch `detail` (the sidecar words it for people), or the unreachable message. */
    public function detail(): string
    {
        if ($this->unreachable) {
            return LOP_Sidecar_Client::UNREACHABLE;
        }
        if (is_array($this->json) && isset($this->json['detail']) && is_string($this->json['detail'])) {
            return $this->json['detail'];
        }
        return sprintf('De LOP-service antwoordde onverwacht (HTTP %d).', $this->status);
    }

    public function code(): string
    {
        return is_array($this->json) && is_string($this->json['code'] ?? null) ? $this->json['code'] : '';
    }

    /**
     * The messages per field of a problem (`errors[].field` => messages).
     *
     * @return array<string, list<string>>
     */
    public function field_errors(): array
    {
        $by_field = [];
        foreach ((is_array($this->json['errors'] ?? null) ? $this->json['errors'] : []) as $error) {
            if (is_array($error) && is_string($error['message'] ?? null)) {
                $by_field[(string) ($error['field'] ?? '')][] = $error['message'];
            }
        }
        return $by_field;
    }
}

final class LOP_Sidecar_Client
{
    public const UNREACHABLE = 'De LOP-service is tijdelijk niet bereikbaar.';
    public const PAGE_TIMEOUT = 3;
    public const DOWNLOAD_TIMEOUT = 300;

    /** The constants wp-config.php must define, that are missing (never read from options or the database). */
    public static function missing_configuration(): array
    {
        return array_values(array_filter(['LOP_SIDECAR_URL', 'LOP_SIDECAR_SECRET'],
            static fn(string $name): bool => !defined($name) || !is_string(constant($name)) || constant($name) === ''));
    }

    public static function configured(): bool
    {
        return self::missing_configuration() === [];
    }

    /** The WordPress user the request acts for, and the original user while switched (plugin 2 of 2). */
    private static function who(): array
    {
        $user = get_current_user_id();
        $switched_from = apply_filters('lop_sidecar_switched_from', null, $user);
        return [$user, is_int($switched_from) && $switched_from > 0 ? $switched_from : null];
    }

    /**
     * @param array<string, scalar|null> $query
     * @return array{0: string, 1: string} (URL, path and query string exactly as signed)
     */
    private static function target(string $path, array $query): array
    {
        $query = array_filter($query, static fn($value): bool => $value !== null && $value !== '');
        $path_and_query = $path . ($query ? '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986) : '');
        $base = rtrim((string) constant('LOP_SIDECAR_URL'), '/');
        return [$base . $path_and_query, (string) (wp_parse_url($base, PHP_URL_PATH) ?? '') . $path_and_query];
    }

    /**
     * A page call: JSON in and out, 3 s at most. Options: `body` + `content_type` (a raw body), `timeout`,
     * `headers` (extra request headers such as If-Match or If-None-Match), `as_site` (signed as user 0, the
     * site itself, whoever is logged in: the public table).
     *
     * Never throws; an unreachable or slow sidecar is a response
     * with `unreachable` set, so the page still renders.
     *
     * @param array<string, scalar|null> $query
     * @param array<string, mixed>|null $json
     */
    public static function request(string $method, string $path, array $query = [], ?array $json = null,
                                   array $options = []): LOP_Sidecar_Response
    {
        if (!self::configured()) {
            return new LOP_Sidecar_Response(0, null, [], true);
        }
        $body = $options['body'] ?? ($json === null ? '' : (string) wp_json_encode($json));
        $content_type = $options['content_type'] ?? ($json === null ? null : 'application/json');
        [$url, $signed_path] = self::target($path, $query);
        [$user, $switched_from] = empty($options['as_site']) ? self::who() : [0, null];
        $headers = LOP_Sidecar_Signer::headers((string) constant('LOP_SIDECAR_SECRET'), $method, $signed_path,
            $user, $switched_from, $body);
        $headers['Accept'] = 'application/json, application/problem+json';
        if ($content_type !== null) {
            $headers['Content-Type'] = $content_type;
        }
        foreach ((array) ($options['headers'] ?? []) as $name => $value) {  // e.g. If-Match (not signed)
            $headers[(string) $name] = (string) $value;
        }
        $response = wp_remote_request($url, [
            'method' => strtoupper($method),
            'headers' => $headers,
            'body' => $body === '' ? null : $body,
            'timeout' => $options['timeout'] ?? self::PAGE_TIMEOUT,
            'redirection' => 0,
        ]);
        if (is_wp_error($response)) {
            return new LOP_Sidecar_Response(0, null, [], true);
        }
        $status = (int) wp_remote_retrieve_response_code($response);
        $raw = (string) wp_remote_retrieve_body($response);
        $decoded = json_decode($raw, true);
        $header_values = [];
        foreach (wp_remote_retrieve_headers($response) as $name => $value) {
            $header_values[strtolower((string) $name)] = is_array($value) ? implode(', ', $value) : (string) $value;
        }
        return new LOP_Sidecar_Response($status, is_array($decoded) ? $decoded : null, $header_values, $status === 0, $raw);
    }

    /** The raw body of a call (a template or annotated file the page offers again), with a page timeout. */
    public static function get(string $path, array $query = []): LOP_Sidecar_Response
    {
        return self::request('GET', $path, $query);
    }

    /**
     * Send a download to the browser as it arrives: status, Content-Type and Content-Disposition of the
     * sidecar, the body in chunks (never held whole in PHP's memory). Returns the problem when the sidecar
     * refused before sending a body (the caller shows it on the page), null when the file was sent.
     *
     * @param array<string, scalar|null> $query
     */
    public static function stream_download(string $path, array $query = []): ?LOP_Sidecar_Response
    {
        if (!self::configured() || !function_exists('curl_init')) {
            return new LOP_Sidecar_Response(0, null, [], true);
        }
        [$url, $signed_path] = self::target($path, $query);
        [$user, $switched_from] = self::who();
        $headers = LOP_Sidecar_Signer::headers((string) constant('LOP_SIDECAR_SECRET'), 'GET', $signed_path, $user,
            $switched_from, '');
        $lines = [];
        foreach ($headers as $name => $value) {
            $lines[] = "$name: $value";
        }
        $status = 0;
        $received = [];
        $problem = '';
        $started = false;
        $curl = curl_init($url);
        curl_setopt_array($curl, [
            CURLOPT_HTTPHEADER => $lines,
            CURLOPT_CONNECTTIMEOUT => self::PAGE_TIMEOUT,
            CURLOPT_TIMEOUT => self::DOWNLOAD_TIMEOUT,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use (&$status, &$received): int {
                if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $match)) {
                    $status = (int) $match[1];
                    $received = [];
                } elseif (str_contains($line, ':')) {
                    [$name, $value] = explode(':', $line, 2);
                    $received[strtolower(trim($name))] = trim($value);
                }
                return strlen($line);
            },
            CURLOPT_WRITEFUNCTION => static function ($handle, string $chunk) use (&$status, &$received, &$problem, &$started): int {
                if ($status !== 200) {
                    $problem .= substr($chunk, 0, max(0, 65536 - strlen($problem)));
                    return strlen($chunk);
                }
                if (!$started) {
                    $started = true;
                    while (ob_get_level() > 0) {
                        ob_end_clean();
                    }
                    nocache_headers();
                    foreach (['content-type', 'content-disposition'] as $name) {
                        if (isset($received[$name])) {
                            header(ucwords($name, '-') . ': ' . $received[$name]);
                        }
                    }
                    header('X-Content-Type-Options: nosniff');
                }
                echo $chunk;
                flush();
                return strlen($chunk);
            },
        ]);
        $ok = curl_exec($curl);
        curl_close($curl);
        if ($started) {
            return null;  // the file went out (a failure half-way shows as a broken download, as with any)
        }
        if ($ok === false || $status === 0) {
            return new LOP_Sidecar_Response(0, null, [], true);
        }
        $decoded = json_decode($problem, true);
        return new LOP_Sidecar_Response($status, is_array($decoded) ? $decoded : null, $received);
    }
}

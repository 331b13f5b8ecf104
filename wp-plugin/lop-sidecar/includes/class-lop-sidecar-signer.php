<?php
/**
 * Request signing as architecture.md defines it ("Request signing"): the sidecar checks every request with
 * the same canonical string. Pure PHP, no WordPress: the PHP test runs it against the shared test vectors.
 */

if (!defined('ABSPATH') && !defined('LOP_SIDECAR_TESTING')) {
    exit;
}

final class LOP_Sidecar_Signer
{
    public static function canonical(string $timestamp, string $nonce, string $method, string $path_and_query,
                                     string $user, string $switched_from, string $body): string
    {
        return implode("\n", [
            'v1', $timestamp, $nonce, strtoupper($method), $path_and_query, $user, $switched_from,
            hash('sha256', $body),
        ]);
    }

    public static function signature(string $secret, string $canonical): string
    {
        return 'v1=' . hash_hmac('sha256', $canonical, $secret);
    }

    /** A nonce of 32 characters from [A-Za-z0-9_-]. */
    public static function nonce(): string
    {
        return rtrim(strtr(base64_encode(random_bytes(24)), '+/', '-_'), '=');
    }

    /**
     * The headers that authenticate one request.
     *
     * @return array<string, string>
     */
    public static function headers(string $secret, string $method, string $path_and_query, int $user,
                                   ?int $switched_from, string $body, ?int $timestamp = null,
                                   ?string $nonce = null): array
    {
        $timestamp_text = (string) ($timestamp ?? time());
        $nonce = $nonce ?? self::nonce();
        $switched_text = $switched_from === null ? '' : (string) $switched_from;
        $headers = [
            'X-LOP-Timestamp' => $timestamp_text,
            'X-LOP-Nonce' => $nonce,
            'X-LOP-User' => (string) $user,
            'X-LOP-Signature' => self::signature($secret, self::canonical(
                $timestamp_text, $nonce, $method, $path_and_query, (string) $user, $switched_text, $body)),
        ];
        if ($switched_from !== null) {
            $headers['X-LOP-Switched-From'] = $switched_text;
        }
        return $headers;
    }
}

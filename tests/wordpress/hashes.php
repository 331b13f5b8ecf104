<?php
// Reference values from PHP itself: WordPress 6.8's wp_fast_hash() (sodium BLAKE2b) and phpass checks.
// Reads lines "key<TAB>phpass hash" on stdin, prints one JSON object per line.
require_once (getenv('WP_PATH') ?: '/usr/share/wordpress') . '/wp-includes/class-phpass.php';
$hasher = new PasswordHash(8, true);
while (($line = fgets(STDIN)) !== false) {
    [$key, $phpass] = explode("\t", rtrim($line, "\n"));
    $fast = '$generic$' . rtrim(strtr(base64_encode(sodium_crypto_generichash($key, 'wp_fast_hash_6.8+', 30)), '+/', '-_'), '=');
    echo json_encode(['fast_hash' => $fast, 'phpass_ok' => $hasher->CheckPassword($key, $phpass),
                      'phpass_wrong_refused' => !$hasher->CheckPassword($key . '!', $phpass)]), "\n";
}

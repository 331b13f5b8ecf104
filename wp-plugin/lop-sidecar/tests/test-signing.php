<?php
/**
 * The PHP signer against the shared test vectors (tests/signing_vectors.json, also checked by the Python
 * tests): run `php wp-plugin/lop-sidecar/tests/test-signing.php`; exit status 0 when every vector matches.
 */

define('LOP_SIDECAR_TESTING', true);
require __DIR__ . '/../includes/class-lop-sidecar-signer.php';

$file = $argv[1] ?? __DIR__ . '/../../../tests/signing_vectors.json';
$data = json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR);
$failures = 0;
foreach ($data['vectors'] as $vector) {
    $body = base64_decode($vector['body_base64'], true);
    $switched = $vector['switched_from'] === null ? '' : (string) $vector['switched_from'];
    $canonical = LOP_Sidecar_Signer::canonical((string) $vector['timestamp'], $vector['nonce'], $vector['method'],
        $vector['path'], (string) $vector['user'], $switched, $body);
    $headers = LOP_Sidecar_Signer::headers($vector['secret'], $vector['method'], $vector['path'], $vector['user'],
        $vector['switched_from'], $body, $vector['timestamp'], $vector['nonce']);
    $ok = $canonical === $vector['canonical'] && $headers['X-LOP-Signature'] === $vector['signature']
        && ($vector['switched_from'] === null) === !isset($headers['X-LOP-Switched-From']);
    echo ($ok ? 'ok   ' : 'FAIL ') . $vector['name'] . "\n";
    $failures += $ok ? 0 : 1;
}
$nonce = LOP_Sidecar_Signer::nonce();
if (!preg_match('/^[A-Za-z0-9_-]{16,64}$/', $nonce)) {
    echo "FAIL nonce format: $nonce\n";
    $failures++;
}
echo count($data['vectors']) . " vectors, $failures failed\n";
exit($failures === 0 ? 0 : 1);

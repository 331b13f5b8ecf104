<?php
// What real WordPress makes of an account the sidecar wrote (tests only). Arguments: login key email user_id
require __DIR__ . '/bootstrap.php';
[$script, $login, $key, $email, $user_id] = $argv;
add_role('schoolbeheerder', 'Schoolbeheerder', ['read' => true]);  // as the LOP plugin registers it
$ok = check_password_reset_key($key, $login);
$bad = check_password_reset_key($key . 'x', $login);
$user = get_userdata((int) $user_id);
echo json_encode([
    'key_accepted' => $ok instanceof WP_User && $ok->ID == (int) $user_id,
    'changed_key_refused' => is_wp_error($bad),
    'empty_password_refused' => !wp_check_password('', $user->user_pass, $user->ID),
    'email_password_refused' => !wp_check_password($email, $user->user_pass, $user->ID),
    'roles' => array_values($user->roles),
    'login' => $user->user_login,
    'nicename' => $user->user_nicename,
    'email' => $user->user_email,
]), "\n";

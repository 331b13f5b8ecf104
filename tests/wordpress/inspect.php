<?php
// What WordPress itself makes of users the sidecar wrote (tests only). Arguments: user ids; set
// WP_LOOKUP_LOGINS / WP_LOOKUP_EMAILS (comma-separated) to ask whose they are. One JSON object per user,
// then one with the lookups.
require __DIR__ . '/bootstrap.php';
foreach (array_slice($argv, 1) as $user_id) {
    $user_id = (int) $user_id;
    clean_user_cache($user_id);
    $user = get_userdata($user_id);
    $roles = [];
    foreach (get_sites(['fields' => 'ids']) as $site) {  // not $blog_id: that is a WordPress global
        // The user's capabilities on that site filtered by that site's roles, as WP_User::get_role_caps() does.
        $site_roles = new WP_Roles($site);
        $on_site = new WP_User($user_id, '', $site);
        $names = array_values(array_filter(array_keys($on_site->caps), [$site_roles, 'is_role']));
        if ($names) {
            $roles[$site] = $names;
        }
    }
    echo json_encode([
        'user_id' => $user_id, 'login' => $user->user_login, 'nicename' => $user->user_nicename,
        'roles' => (object) $roles, 'blogs' => array_map('intval', array_keys(get_blogs_of_user($user_id))),
        'primary_blog' => get_user_meta($user_id, 'primary_blog', true),
        'source_domain' => get_user_meta($user_id, 'source_domain', true),
        'has_primary_blog' => metadata_exists('user', $user_id, 'primary_blog'),
    ]), "\n";
}
$logins = array_filter(explode(',', getenv('WP_LOOKUP_LOGINS') ?: ''));
$emails = array_filter(explode(',', getenv('WP_LOOKUP_EMAILS') ?: ''));
echo json_encode(['logins' => (object) array_combine($logins, array_map(fn($l) => (int) username_exists($l), $logins)),
                  'emails' => (object) array_combine($emails, array_map(fn($e) => (int) email_exists($e), $emails))]), "\n";

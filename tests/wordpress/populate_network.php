<?php
// Step 2 of the test network (tests only), on the network step 1 made: two LOP sites by
// wpmu_create_blog() and the test users by wp_insert_user() + add_user_to_blog(), as an operator would.
// Prints the ids as JSON. The role "schoolbeheerder" is registered on the LOP sites as the plugin does.
// An optional argument names a JSON file with other sites and users (wp-plugin/dev/up.sh: the local platform):
// {"sites": [[id, path, title], ...], "users": {login: {"roles": {blog: role}, "password"?, "display_name"?}}}.
require __DIR__ . '/bootstrap.php';
$operator = get_user_by('login', 'operator')->ID;
$spec = isset($argv[1]) ? json_decode(file_get_contents($argv[1]), true, 512, JSON_THROW_ON_ERROR) : [
    'sites' => [[2, '/bao/', 'LOP Test BaO'], [3, '/so/', 'LOP Test SO']],
    'users' => ['expert2' => ['roles' => [2 => 'administrator']], 'expert3' => ['roles' => [3 => 'administrator', 2 => 'subscriber']],
                'admin2' => ['roles' => [2 => 'schoolbeheerder']], 'admin2other' => ['roles' => [2 => 'schoolbeheerder']],
                'nobody' => ['roles' => [2 => 'subscriber']]],
];
$sites = [];
foreach ($spec['sites'] as [$expected, $path, $title]) {
    $id = wpmu_create_blog('lop.test', $path, $title, $operator, [], 1);
    if (is_wp_error($id) || $id !== $expected) {
        fwrite(STDERR, 'wpmu_create_blog: ' . (is_wp_error($id) ? $id->get_error_message() : "site $id") . "\n");
        exit(1);
    }
    switch_to_blog($id);
    add_role('schoolbeheerder', 'Schoolbeheerder', ['read' => true]);
    remove_user_from_blog($operator, $id);  // wpmu_create_blog made the operator its administrator
    restore_current_blog();
    $sites[] = $id;
}
$users = ['operator' => $operator];
foreach ($spec['users'] as $login => $user) {
    $roles = $user['roles'];
    $id = wp_insert_user(['user_login' => $login, 'user_pass' => $user['password'] ?? wp_generate_password(),
                          'user_email' => "$login@example.org", 'display_name' => $user['display_name'] ?? ucfirst($login),
                          'role' => '']);
    if (is_wp_error($id)) {
        fwrite(STDERR, "wp_insert_user $login: " . $id->get_error_message() . "\n");
        exit(1);
    }
    remove_user_from_blog($id, 1);  // wp_insert_user gave them a role on the main site
    foreach ($roles as $blog => $role) {
        add_user_to_blog($blog, $id, $role);
    }
    $users[$login] = $id;
}
echo json_encode(['sites' => $sites, 'users' => $users]), "\n";

<?php
// Step 2 of the test network (tests only), on the network step 1 made: two LOP sites by
// wpmu_create_blog() and the test users by wp_insert_user() + add_user_to_blog(), as an operator would.
// Prints the ids as JSON. The role "schoolbeheerder" is registered on the LOP sites as the plugin does.
require __DIR__ . '/bootstrap.php';
$operator = get_user_by('login', 'operator')->ID;
$sites = [];
foreach ([[2, '/bao/', 'LOP Test BaO'], [3, '/so/', 'LOP Test SO']] as [$expected, $path, $title]) {
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
foreach (['expert2' => [2 => 'administrator'], 'expert3' => [3 => 'administrator', 2 => 'subscriber'],
          'admin2' => [2 => 'schoolbeheerder'], 'admin2other' => [2 => 'schoolbeheerder'],
          'nobody' => [2 => 'subscriber']] as $login => $roles) {
    $id = wp_insert_user(['user_login' => $login, 'user_pass' => wp_generate_password(), 'user_email' => "$login@example.org",
                          'display_name' => ucfirst($login), 'role' => '']);
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

<?php
/**
 * Switching accounts, as the User Switching plugin does it (written here: that plugin cannot be installed from
 * the package registries of this project): an operator or the site's LOP expert switches to a school admin of
 * this site and back. The switch gets a new auth cookie; the original user is kept in a signed cookie bound to
 * their own session (HMAC with wp_salt() over both user ids and the original session token, which stays valid
 * while switched), so "Terug naar <naam>" restores exactly that session. While switched, every sidecar call
 * sends X-LOP-Switched-From (the client asks the filter lop_sidecar_switched_from); the sidecar applies the
 * same rule and logs both people. Logging out while switched ends both sessions.
 */

defined('ABSPATH') || exit;

final class LOP_Sidecar_Switch
{
    public const COOKIE = 'lop_sidecar_switched_from';
    private const SWITCH_ACTION = 'lop_sidecar_switch_to';
    private const BACK_ACTION = 'lop_sidecar_switch_back';

    /** @var array{user: int, from: ?array}|null the checked cookie for the current user, once per request */
    private static ?array $checked = null;

    public static function boot(): void
    {
        add_action('admin_post_' . self::SWITCH_ACTION, [self::class, 'handle_switch']);
        add_action('admin_post_' . self::BACK_ACTION, [self::class, 'handle_back']);
        add_filter('lop_sidecar_switched_from', [self::class, 'switched_from_filter'], 10, 2);
        add_action('admin_bar_menu', [self::class, 'admin_bar'], 5);
        add_action('admin_notices', [self::class, 'switched_notice']);
        add_action('wp_logout', [self::class, 'on_logout']);
        // A fresh login is nobody's switch: a cookie left behind (a switched session that expired) never lets
        // the next person on this browser "go back" into someone else's account.
        add_action('wp_login', [self::class, 'clear_cookie']);
        add_action('init', [self::class, 'end_orphaned_switch'], 1);
        // While switched, the account stays the school admin's own: no new password, e-mail or application
        // password set by the person who switched (they could log in as that person later, unlogged).
        add_filter('show_password_fields', [self::class, 'not_while_switched']);
        add_filter('wp_is_application_passwords_available_for_user', [self::class, 'not_while_switched']);
        add_action('user_profile_update_errors', [self::class, 'refuse_account_changes'], 10, 3);
    }

    /** The form that switches to a school admin (School stats, next to each admin). */
    public static function switch_form(int $user_id, string $label, string $back): void
    {
        echo '<form method="post" class="lop-inline lop-switch-form" action="' . esc_url(admin_url('admin-post.php')) . '">';
        echo '<input type="hidden" name="action" value="' . esc_attr(self::SWITCH_ACTION) . '">';
        echo '<input type="hidden" name="user" value="' . esc_attr((string) $user_id) . '">';
        echo '<input type="hidden" name="back" value="' . esc_attr($back) . '">';
        wp_nonce_field(self::SWITCH_ACTION);
        echo '<button type="submit" class="button-link lop-switch-to">' . esc_html($label) . '</button>';
        echo '</form>';
    }

    /**
     * The original user while switched (a valid cookie for the current user), else null.
     *
     * @return array{id: int, token: string, back: string}|null
     */
    public static function original(): ?array
    {
        $user = get_current_user_id();
        if (self::$checked === null || self::$checked['user'] !== $user) {
            self::$checked = ['user' => $user, 'from' => $user > 0 ? self::read_cookie($user) : null];
        }
        return self::$checked['from'];
    }

    /** @param mixed $value */
    public static function switched_from_filter($value, $user = 0)
    {
        $original = self::original();
        return $original === null ? $value : $original['id'];
    }

    private static function signature(int $original, int $target, string $token, string $back): string
    {
        return hash_hmac('sha256', $original . '|' . $target . '|' . $token . '|' . $back, wp_salt('auth'));
    }

    /** @return array{id: int, token: string, back: string}|null */
    private static function read_cookie(int $target): ?array
    {
        $cookie = self::signed_cookie($target);
        return $cookie !== null && $cookie['live'] ? $cookie : null;
    }

    /**
     * The cookie signed for this user, and whether the original session still lives (``live``).
     *
     * @return array{id: int, token: string, back: string, live: bool}|null
     */
    private static function signed_cookie(int $target): ?array
    {
        $raw = isset($_COOKIE[self::COOKIE]) ? sanitize_text_field(wp_unslash($_COOKIE[self::COOKIE])) : '';
        $parts = explode('|', $raw);
        if (count($parts) !== 4 || !ctype_digit($parts[0]) || !preg_match('/^[A-Za-z0-9]{20,128}$/', $parts[1])) {
            return null;
        }
        [$original, $token, $back_encoded, $mac] = $parts;
        $back = (string) base64_decode(strtr($back_encoded, '-_', '+/'), true);
        if (!hash_equals(self::signature((int) $original, $target, $token, $back), $mac)) {
            return null;
        }
        // Bound to the original session: once that session ends (logged out elsewhere, expired), so does the way back.
        $live = WP_Session_Tokens::get_instance((int) $original)->verify($token);
        return ['id' => (int) $original, 'token' => $token, 'back' => $back, 'live' => $live];
    }

    /**
     * A switched session whose original session has ended (expired, or logged out elsewhere) ends too: it must
     * never carry on as the school admin alone, without X-LOP-Switched-From and without a way back.
     */
    public static function end_orphaned_switch(): void
    {
        $user = get_current_user_id();
        $cookie = $user > 0 && isset($_COOKIE[self::COOKIE]) ? self::signed_cookie($user) : null;
        if ($cookie === null || $cookie['live']) {
            return;
        }
        wp_destroy_current_session();
        wp_clear_auth_cookie();
        self::clear_cookie();
        wp_set_current_user(0);
        if (!wp_doing_ajax() && !wp_doing_cron() && !(defined('REST_REQUEST') && REST_REQUEST)) {
            wp_safe_redirect(wp_login_url());
            exit;
        }
    }

    /** @param mixed $value */
    public static function not_while_switched($value)
    {
        return self::original() !== null ? false : $value;
    }

    /** @param WP_Error $errors */
    public static function refuse_account_changes($errors, $update, $user): void
    {
        if (!$update || self::original() === null) {
            return;
        }
        $stored = get_userdata((int) $user->ID);
        $new_email = isset($_POST['email']) ? sanitize_email(wp_unslash($_POST['email'])) : '';
        if (!empty($_POST['pass1']) || ($stored instanceof WP_User && $new_email !== ''
                && strtolower($new_email) !== strtolower($stored->user_email))) {
            $errors->add('lop_switched', __('Je werkt als een andere gebruiker: het wachtwoord en het e-mailadres kan enkel die persoon zelf wijzigen.', 'lop-sidecar'));
        }
    }

    private static function set_cookie(string $value, int $expire): void
    {
        $secure = is_ssl();
        setcookie(self::COOKIE, $value, ['expires' => $expire, 'path' => COOKIEPATH, 'domain' => COOKIE_DOMAIN,
            'secure' => $secure, 'httponly' => true, 'samesite' => 'Lax']);
        if (SITECOOKIEPATH !== COOKIEPATH) {
            setcookie(self::COOKIE, $value, ['expires' => $expire, 'path' => SITECOOKIEPATH, 'domain' => COOKIE_DOMAIN,
                'secure' => $secure, 'httponly' => true, 'samesite' => 'Lax']);
        }
    }

    public static function clear_cookie(): void
    {
        self::set_cookie('', time() - YEAR_IN_SECONDS);
        unset($_COOKIE[self::COOKIE]);
        self::$checked = null;
    }

    /** The school admin may be switched to: a school admin on this site, never an operator or a LOP expert. */
    private static function refusal(int $target_id): ?string
    {
        $target = get_userdata($target_id);
        if (!$target instanceof WP_User) {
            return __('Deze gebruiker bestaat niet.', 'lop-sidecar');
        }
        if ($target_id === get_current_user_id()) {
            return __('Je bent al aangemeld met dit account.', 'lop-sidecar');
        }
        if (is_super_admin($target_id) || user_can($target, LOP_Sidecar_Admin::CAPABILITY)
            || !is_user_member_of_blog($target_id, get_current_blog_id())
            || !in_array(LOP_SIDECAR_SCHOOL_ADMIN_ROLE, (array) $target->roles, true)) {
            return __('Overschakelen kan enkel naar een schoolbeheerder van deze site.', 'lop-sidecar');
        }
        // The new login cookie works on every site of the network: the person must be nothing more than a school
        // admin (or subscriber) anywhere, or an expert could take over an account that runs another site.
        global $wpdb;
        foreach (array_keys(get_blogs_of_user($target_id, true)) as $blog_id) {
            $capabilities = get_user_meta($target_id, $wpdb->get_blog_prefix((int) $blog_id) . 'capabilities', true);
            $granted = is_array($capabilities) ? array_keys(array_filter($capabilities)) : [];
            if (array_diff($granted, [LOP_SIDECAR_SCHOOL_ADMIN_ROLE, 'subscriber']) !== []) {
                return __('Overschakelen kan niet: deze persoon heeft elders in het netwerk meer rechten dan een schoolbeheerder.', 'lop-sidecar');
            }
        }
        return null;
    }

    private static function refuse(string $message, string $back): void
    {
        LOP_Sidecar_Admin::set_flash(['type' => 'error', 'message' => $message, 'fields' => []]);
        wp_safe_redirect($back !== '' ? $back : admin_url());
        exit;
    }

    public static function handle_switch(): void
    {
        $target_id = absint(wp_unslash($_POST['user'] ?? 0));
        check_admin_referer(self::SWITCH_ACTION);
        $back = wp_validate_redirect(esc_url_raw(wp_unslash($_POST['back'] ?? '')), '');
        if (!current_user_can(LOP_Sidecar_Admin::CAPABILITY) || self::original() !== null) {
            wp_die(esc_html__('Je hebt geen toegang tot deze pagina.', 'lop-sidecar'), 403);
        }
        $refusal = self::refusal($target_id);
        if ($refusal !== null) {
            self::refuse($refusal, $back);
        }
        $original = get_current_user_id();
        $token = wp_get_session_token();
        if ($token === '') {
            self::refuse(__('Je sessie kon niet gelezen worden; meld je opnieuw aan.', 'lop-sidecar'), $back);
        }
        // The sidecar has the last word: one signed call as the school admin, switched from this user.
        $checking = static fn() => $original;
        add_filter('lop_sidecar_switched_from', $checking, 20);
        wp_set_current_user($target_id);
        $response = LOP_Sidecar_Client::get(LOP_Sidecar_Admin::site_path('/schools'));
        wp_set_current_user($original);
        remove_filter('lop_sidecar_switched_from', $checking, 20);
        self::$checked = null;
        if (!$response->ok()) {
            self::refuse($response->detail(), $back);
        }
        $value = implode('|', [$original, $token, rtrim(strtr(base64_encode($back), '+/', '-_'), '='),
            self::signature($original, $target_id, $token, $back)]);
        self::set_cookie($value, 0);
        wp_set_auth_cookie($target_id, false, is_ssl());
        wp_safe_redirect(admin_url());
        exit;
    }

    public static function handle_back(): void
    {
        check_admin_referer(self::BACK_ACTION);
        $original = self::original();
        if ($original === null) {
            wp_die(esc_html__('Je bent niet overgeschakeld naar een ander account.', 'lop-sidecar'), 403);
        }
        wp_destroy_current_session();  // the switched session ends; the original one was never closed
        self::clear_cookie();
        wp_set_auth_cookie($original['id'], false, is_ssl(), $original['token']);
        wp_set_current_user($original['id']);
        wp_safe_redirect($original['back'] !== '' ? $original['back'] : admin_url());
        exit;
    }

    /** Logging out while switched ends the original session too (the way back must not outlive the switch). */
    public static function on_logout($user_id = 0): void
    {
        $user_id = (int) $user_id;
        $original = $user_id > 0 ? self::read_cookie($user_id) : null;
        if ($original !== null) {
            WP_Session_Tokens::get_instance($original['id'])->destroy($original['token']);
        }
        if (isset($_COOKIE[self::COOKIE])) {
            self::clear_cookie();
        }
    }

    public static function back_url(): string
    {
        return wp_nonce_url(add_query_arg('action', self::BACK_ACTION, admin_url('admin-post.php')), self::BACK_ACTION);
    }

    private static function back_label(array $original): string
    {
        $user = get_userdata($original['id']);
        return sprintf(__('Terug naar %s', 'lop-sidecar'), $user instanceof WP_User ? $user->display_name : '#' . $original['id']);
    }

    /** @param WP_Admin_Bar $bar */
    public static function admin_bar($bar): void
    {
        $original = self::original();
        if ($original === null || !is_object($bar)) {
            return;
        }
        $bar->add_node(['id' => 'lop-sidecar-switch-back', 'title' => esc_html(self::back_label($original)),
            'href' => self::back_url(), 'meta' => ['class' => 'lop-switch-back',
                'title' => esc_attr__('Terug naar je eigen account', 'lop-sidecar')]]);
    }

    /** While switched, every admin page says so (whose account, and the way back). */
    public static function switched_notice(): void
    {
        $original = self::original();
        if ($original === null) {
            return;
        }
        $current = wp_get_current_user();
        echo '<div class="notice notice-info lop-switched-notice"><p>' . esc_html(sprintf(
            __('Je werkt nu als %s (schoolbeheerder). Wat je wijzigt, staat in het logbestand op jouw naam en die van dit account.', 'lop-sidecar'),
            $current->display_name)) . ' <a href="' . esc_url(self::back_url()) . '">' . esc_html(self::back_label($original)) . '</a></p></div>';
    }
}

LOP_Sidecar_Switch::boot();

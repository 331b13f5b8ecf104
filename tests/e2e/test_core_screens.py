"""WordPress's own admin screens keep working with the plugin network-activated (and the autouse check fails the
test if the plugin logs anything there): the dashboards, the users lists, the network admin."""

import pytest

from .helpers import BASE_URL, login

WALK = {
    "operator": ["wp-admin/", "wp-admin/network/", "wp-admin/network/sites.php", "wp-admin/network/users.php",
                 "wp-admin/network/plugins.php", "scheldeland-so/wp-admin/users.php"],
    "bert.deskundige": ["scheldeland-so/wp-admin/", "scheldeland-so/wp-admin/users.php",
                        "scheldeland-so/wp-admin/user-new.php", "scheldeland-so/wp-admin/profile.php"],
    "directie.demo": ["scheldeland-so/wp-admin/", "scheldeland-so/wp-admin/profile.php"],
}


@pytest.mark.parametrize("who", list(WALK))
def test_core_admin_screens(page, who):
    login(page, who)
    for path in WALK[who]:
        response = page.goto(f"{BASE_URL}/{path}")
        assert response.status == 200, (path, response.status)
        page.locator("#wpbody-content").wait_for()
        assert page.locator("#error-page").count() == 0, path

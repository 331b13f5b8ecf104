"""School admins: overview, add/remove, WordPress accounts and set-password e-mails, bulk import (issue 4)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from jobs.mail import queue_mail
from jobs.runner import run_now
from rules.emails import normalise_email
from service.runtime import Runtime
from tests.conftest import add_user
from wp_bridge.options import set_option
from wp_bridge.php_serialize import serialize, unserialize
from wp_bridge.tables import site_tables
from wp_bridge.wp_hashes import fast_hash, phpass_check, phpass_hash

SITE = 2


# --- fixed vectors (checked against PHP: sodium_crypto_generichash and WordPress's class-phpass.php) ----


def test_fast_hash_vectors():
    assert fast_hash("abc") == "$generic$YeaPr_itxnUOyFBBm16EGFnt_nzqpbL728cakJ4U"
    assert fast_hash("Kx9fQ2mB7pLz4RtY8wNc") == "$generic$s10GjX3br4WXo__fgsFK0Pr6jTBF7YpJyqPz8OEx"


def test_phpass_vectors():
    assert phpass_hash("test", salt=b"\x00" * 6) == "$P$B........fE5thzL.RSPC11NLT9vF30"
    assert phpass_hash("Kx9fQ2mB7pLz4RtY8wNc", salt=bytes(range(6))) == "$P$B.2U.1EE/D9pJvEN6WuFx6dGieYUFR."
    assert phpass_check("test", "$P$B........fE5thzL.RSPC11NLT9vF30")
    assert not phpass_check("Test", "$P$B........fE5thzL.RSPC11NLT9vF30")


def test_capabilities_as_wordpress_writes_them():
    assert serialize({"schoolbeheerder": True}) == 'a:1:{s:15:"schoolbeheerder";b:1;}'
    assert serialize({"editor": True, "schoolbeheerder": True}) == 'a:2:{s:6:"editor";b:1;s:15:"schoolbeheerder";b:1;}'


@pytest.mark.parametrize("raw, expected", [
    ("  Directie@Sint-Jan.BE ", "Directie@sint-jan.be"),
    ("an.peeters+lop@school.example", "an.peeters+lop@school.example"),
    ("victim@example.be\n", "victim@example.be"),  # whitespace around it is trimmed, never inside
])
def test_addresses_are_trimmed_with_lower_case_domains(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "geen-at", "a@b", "a@@b.be", "a b@school.be", "a@-school.be", ".a@school.be",
                                 "x" * 95 + "@s.be", "victim\n@example.org", "victim@example.org\nBcc: x@y.be",
                                 "vic\ttim@example.org", "victim@exam\nple.org"])
def test_invalid_addresses(raw):
    with pytest.raises(ValueError):
        normalise_email(raw)


# --- the API on both backends ------------------------------------------------------------------


def usermeta(rt, user_id) -> dict:
    um = rt.network.core.usermeta
    with rt.engine.connect() as conn:
        return {k: v for k, v in conn.execute(select(um.c.meta_key, um.c.meta_value).where(um.c.user_id == user_id))}


def all_users(rt):
    with rt.engine.connect() as conn:
        return conn.execute(select(rt.network.core.users).order_by(rt.network.core.users.c.ID)).all()


def user_row(rt, user_id):
    users = rt.network.core.users
    with rt.engine.connect() as conn:
        return conn.execute(select(users).where(users.c.ID == user_id)).first()


def test_a_new_address_gets_a_wordpress_account(client, rt, users, schools):
    response = client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.expert2,
                           json={"email": "  Directie@De-Linde.BE "})
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["created"], body["already_admin"], body["email_queued"]) == (True, False, True)
    assert body["invalidate_user_cache"] == [body["user_id"]]
    row = user_row(rt, body["user_id"])
    assert (row.user_login, row.user_nicename, row.user_email, row.display_name) == (
        "directie", "directie", "Directie@de-linde.be", "directie")
    assert row.user_pass == "" and row.user_status == 0 and row.user_registered.microsecond == 0
    assert re.fullmatch(r"\d{10}:\$generic\$[A-Za-z0-9_-]{40}", row.user_activation_key)  # WordPress 6.8+
    meta = usermeta(rt, body["user_id"])
    assert meta["wp_2_capabilities"] == 'a:1:{s:15:"schoolbeheerder";b:1;}'
    assert meta["wp_2_user_level"] == "0" and meta["nickname"] == "directie" and meta["primary_blog"] == "2"
    # a second address with the same local part gets its own login and nicename
    other = client.post(f"/api/v1/sites/{SITE}/schools/{schools[1]}/admins", user=users.expert2,
                        json={"email": "directie@het-kompas.be"}).json
    assert (user_row(rt, other["user_id"]).user_login, user_row(rt, other["user_id"]).user_nicename) == (
        "directie-2", "directie-2")


def test_before_wordpress_6_8_the_key_is_a_phpass_hash(client, rt, users, schools):
    with rt.engine.begin() as conn:
        set_option(conn, rt.network.prefix(SITE), "db_version", "53496")
    body = client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.expert2,
                       json={"email": "oud@school.example"}).json
    assert re.fullmatch(r"\d{10}:\$P\$B[./0-9A-Za-z]{30}", user_row(rt, body["user_id"]).user_activation_key)


def test_an_existing_user_keeps_every_other_role(client, rt, users, schools):
    with rt.engine.begin() as conn:
        editor = add_user(conn, rt.network, "redacteur", {2: "editor", 3: "administrator"})
    email = user_row(rt, editor).user_email
    before_users = all_users(rt)
    body = client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.expert2,
                       json={"email": email.upper().replace("EXAMPLE.ORG", "example.org")}).json
    assert (body["user_id"], body["created"], body["email_queued"]) == (editor, False, False)
    meta = usermeta(rt, editor)
    assert unserialize(meta["wp_2_capabilities"]) == {"editor": True, "schoolbeheerder": True}
    assert meta["wp_3_capabilities"] == 'a:1:{s:13:"administrator";b:1;}'
    assert len(all_users(rt)) == len(before_users)
    again = client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.expert2, json={"email": email})
    assert again.status_code == 200 and again.json["already_admin"] is True


def test_removing_keeps_the_role_while_another_school_remains(client, rt, users, schools):
    with rt.engine.begin() as conn:
        editor = add_user(conn, rt.network, "redacteur", {2: "editor"})
    email = user_row(rt, editor).user_email
    for school in schools:
        client.post(f"/api/v1/sites/{SITE}/schools/{school}/admins", user=users.expert2, json={"email": email})
    first = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{editor}", user=users.expert2).json
    assert (first["role_removed"], first["invalidate_user_cache"]) == (False, [editor])
    second = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[1]}/admins/{editor}", user=users.expert2).json
    assert second["role_removed"] is True
    assert unserialize(usermeta(rt, editor)["wp_2_capabilities"]) == {"editor": True}
    assert user_row(rt, editor) is not None  # never deleted
    gone = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[1]}/admins/{editor}", user=users.expert2)
    assert (gone.status_code, gone.json["code"]) == (404, "admin_not_found")


def test_stats_overview(client, rt, users, schools):
    client.post(f"/api/v1/sites/{SITE}/schools/{schools[1]}/admins", user=users.expert2, json={"email": "a@kompas.be"})
    stats = client.get(f"/api/v1/sites/{SITE}/school-stats", user=users.expert2).json
    assert [s["name"] for s in stats["schools"]] == ["De Linde", "Het Kompas"]
    admin = stats["schools"][1]["admins"][0]
    assert admin["email"] == "a@kompas.be" and admin["password_set"] is False and admin["since"].endswith("Z")
    assert stats["totals"] == {"schools": 2, "schools_without_admin": 1, "admins": 1, "links": 1}
    assert client.get(f"/api/v1/sites/{SITE}/school-stats", user=users.admin2).status_code == 403


def test_bad_requests_write_nothing(client, rt, users, schools):
    before = all_users(rt)
    for body in ({"email": "geen adres"}, {"email": "x" * 101 + "@s.be"}, {}, {"email": "a@b.be", "role": "x"}):
        assert client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.expert2,
                           json=body).status_code == 422
    assert client.post(f"/api/v1/sites/{SITE}/schools/999/admins", user=users.expert2, json={"email": "a@b.be"}).status_code == 404
    assert client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.admin2,
                       json={"email": "a@b.be"}).status_code == 403
    assert all_users(rt) == before


def test_the_welcome_mail_is_dutch_and_carries_the_link(client, rt, users, schools, smtp):
    body = client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.expert2,
                       json={"email": "nieuw@linde.be"}).json
    runtime = Runtime(replace(rt.config, smtp_url=smtp.url), rt.engine, rt.network)
    assert run_now(runtime, "mail-outbox", site_id=None, trigger="cli")["summary"] == "1 sent, 0 to retry, 0 failed"
    mail = smtp.messages[0]
    assert mail["To"] == "nieuw@linde.be" and mail["Subject"] == "Je account als schoolbeheerder op LOP Test BaO"
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    assert "Stel je wachtwoord in" in text and "De Linde" in text
    link = re.search(r"(\S+wp-login\.php\?action=rp&key=(\w{20})&login=(\S+))", text)
    # the network's login page, as WordPress's own mails (network_site_url): its reset form posts there and
    # its reset cookie lives there, so a link on the sub-site's path ends in "invalidkey"
    assert link.group(1).startswith("http://lop.test/wp-login.php?action=rp") and link.group(3) == "nieuw"
    stored = user_row(rt, body["user_id"]).user_activation_key.split(":", 1)[1]
    assert stored == fast_hash(link.group(2))


def test_outbox_is_for_operators(client, rt, users, schools):
    client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins", user=users.expert2, json={"email": "q@linde.be"})
    mails = client.get("/api/v1/mail/outbox?status=pending", user=users.operator).json["mails"]
    assert [(m["to"], m["status"]) for m in mails] == [("q@linde.be", "pending")]
    assert "body_text" not in mails[0]
    assert client.get("/api/v1/mail/outbox", user=users.expert2).status_code == 403


# --- the bulk import ---------------------------------------------------------------------------


def workbook_bytes(rows, header=("Instellingsnummer", "Schoolnaam", "E-mailadres")) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Schoolbeheerders"
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client, user, data: bytes, query=""):
    boundary = "lopboundary123"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"import.xlsx\"\r\n"
            f"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/api/v1/sites/{SITE}/imports/school-admins{query}", user=user, data=body,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_template(client, users, schools):
    response = client.get(f"/api/v1/sites/{SITE}/imports/school-admins/template.xlsx", user=users.expert2)
    workbook = load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["Schoolbeheerders", "Scholen", "Instructies"]
    fill = workbook["Schoolbeheerders"]
    assert [c.value for c in fill[1]] == ["Instellingsnummer", "Schoolnaam", "E-mailadres"]
    validation = fill.data_validations.dataValidation[0]
    assert validation.type == "list" and validation.formula1 == "=Scholen!$B$2:$B$3" and "B2:B5001" in str(validation.sqref)
    listing = workbook["Scholen"]
    assert listing.protection.sheet is True
    assert [r for r in listing.iter_rows(min_row=2, values_only=True)] == [
        ("004711", "De Linde", "004711-1", "BaO"), ("004712", "Het Kompas", "004712-1", "BaO")]


def test_a_good_import_applies_every_row_in_one_go(client, rt, users, schools):
    rows = [("004711", "De Linde", "a@linde.be"), (4712, "het kompas", "a@linde.be"), (None, None, None),
            ("4712", "Het Kompas", users_email(rt, users.nobody))]
    response = upload(client, users.expert2, workbook_bytes(rows))
    assert response.status_code == 200, response.json
    assert {k: response.json[k] for k in ("rows", "linked", "already_admin", "users_created", "emails_queued")} == {
        "rows": 3, "linked": 3, "already_admin": 0, "users_created": 1, "emails_queued": 1}
    again = upload(client, users.expert2, workbook_bytes(rows), "?report=xlsx")
    sheet = load_workbook(io.BytesIO(again.get_data()))["Schoolbeheerders"]
    assert [c.value for c in sheet["D"]] == ["Status", "was al schoolbeheerder", "was al schoolbeheerder", None,
                                             "was al schoolbeheerder"]


def users_email(rt, user_id):
    return user_row(rt, user_id).user_email


def test_dry_run_changes_nothing(client, rt, users, schools):
    before = all_users(rt)
    response = upload(client, users.expert2, workbook_bytes([("004711", "De Linde", "n@linde.be")]), "?dry_run=true")
    assert response.json["users_created"] == 1 and response.json["dry_run"] is True
    assert all_users(rt) == before


def test_every_error_is_listed_and_nothing_is_applied(client, rt, users, schools):
    rows = [("004711", "De Linde", "ok@linde.be"), ("009999", "Onbekend", "x@y.be"), ("004711", "Het Kompas", "y@y.be"),
            ("004712", "Het Kompas", "geen-adres"), ("4711", "De Linde", "OK@linde.be"), ("abc", "De Linde", "z@z.be")]
    response = upload(client, users.expert2, workbook_bytes(rows))
    assert response.status_code == 422 and response.json["code"] == "import_invalid"
    errors = {(e["row"], e["column"]) for e in response.json["errors"]}
    assert errors == {(3, "Instellingsnummer"), (4, "Schoolnaam"), (5, "E-mailadres"), (6, "E-mailadres"),
                      (7, "Instellingsnummer")}
    assert any("rij 2" in e["message"] for e in response.json["errors"] if e["row"] == 6)
    t = site_tables(rt.network.prefix(SITE))
    with rt.engine.connect() as conn:
        assert conn.execute(select(t.school_admins)).all() == []


@pytest.mark.parametrize("name, data, message", [
    ("not xlsx", b"naam;email\nx;y\n", "geen Excel-bestand"),
    ("password", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "wachtwoord"),
    ("too big", b"PK\x03\x04" + b"\x00" * (5 * 1024 * 1024), "groter dan 5 MB"),
    ("missing column", workbook_bytes([("1", "x")], header=("Instellingsnummer", "Schoolnaam")), "E-mailadres"),
])
def test_refused_files(client, users, schools, name, data, message):
    response = upload(client, users.expert2, data)
    assert response.status_code == 422, name
    assert message in str(response.json)


def test_macros_too_many_rows_and_xml_bombs_are_refused(client, users, schools):
    with_macro = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook_bytes([]))) as source, zipfile.ZipFile(with_macro, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/vbaProject.bin", b"\x00" * 10)
    assert "macro" in upload(client, users.expert2, with_macro.getvalue()).json["detail"]

    many = workbook_bytes([("004711", "De Linde", f"p{n}@linde.be") for n in range(5001)])
    assert "meer dan 5000 rijen" in upload(client, users.expert2, many).json["detail"]

    bomb = io.BytesIO()
    entity = '<!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    with zipfile.ZipFile(io.BytesIO(workbook_bytes([]))) as source, zipfile.ZipFile(bomb, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/workbook.xml":  # entity expansion ("billion laughs")
                content = entity.encode() + content.split(b"?>", 1)[-1]
            target.writestr(item, content)
    response = upload(client, users.expert2, bomb.getvalue())
    assert response.status_code == 422 and "kan niet gelezen worden" in response.json["detail"]


def test_the_template_opens_whatever_the_names_hold(client, rt, users, schools):
    t = site_tables("wp_2_")
    with rt.engine.begin() as conn:
        conn.execute(t.schools.update().where(t.schools.c.id == schools[0]).values(name="=1+1\u000bDe Linde"))
    response = client.get(f"/api/v1/sites/{SITE}/imports/school-admins/template.xlsx", user=users.expert2)
    assert response.status_code == 200
    listing = load_workbook(io.BytesIO(response.get_data()))["Scholen"]
    names = {row[1].value: row[1].data_type for row in listing.iter_rows(min_row=2)}
    assert names == {"=1+1De Linde": "s", "Het Kompas": "s"}


# --- invitations: cancelled with the role, their state visible to the site's LOP experts (issue 14.5) ----


def outbox_rows(rt):
    o = rt.network_tables.mail_outbox
    with rt.engine.connect() as conn:
        return conn.execute(select(o).order_by(o.c.id)).all()


def add_admin(client, users, school, email):
    return client.post(f"/api/v1/sites/{SITE}/schools/{school}/admins", user=users.expert2, json={"email": email})


def test_the_add_result_says_the_invitation_is_queued_not_sent(client, rt, users, schools):
    body = add_admin(client, users, schools[0], "nieuw@linde.be").json
    mail = outbox_rows(rt)[0]
    assert body["invitation"] == {"mail_id": mail.id, "status": "pending", "message": "uitnodiging in wachtrij"}
    assert (mail.user_id, mail.purpose, mail.site_id) == (body["user_id"], "invitation", SITE)
    existing = add_admin(client, users, schools[0], users_email(rt, users.nobody)).json
    assert existing["invitation"] is None and existing["email_queued"] is False


def test_removing_the_last_school_cancels_the_unsent_invitation(client, rt, users, schools, smtp):
    invited = add_admin(client, users, schools[0], "weg@linde.be").json["user_id"]
    add_admin(client, users, schools[1], "weg@linde.be")  # the same person for a second school: no second mail
    other = add_admin(client, users, schools[0], "blijft@linde.be").json["user_id"]
    assert [(m.user_id, m.status) for m in outbox_rows(rt)] == [(invited, "pending"), (other, "pending")]
    # still admin of the other school on this site: the invitation stays
    first = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{invited}", user=users.expert2).json
    assert first["role_removed"] is False
    assert outbox_rows(rt)[0].status == "pending" and outbox_rows(rt)[0].body_text
    second = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[1]}/admins/{invited}", user=users.expert2).json
    assert second["role_removed"] is True
    cancelled, kept = outbox_rows(rt)
    assert (cancelled.status, cancelled.body_text, cancelled.body_html, cancelled.sent_at) == ("cancelled", "", None, None)
    assert kept.status == "pending" and kept.body_text
    runtime = Runtime(replace(rt.config, smtp_url=smtp.url), rt.engine, rt.network)
    assert run_now(runtime, "mail-outbox", site_id=None, trigger="cli")["summary"] == "1 sent, 0 to retry, 0 failed"
    assert [m["To"] for m in smtp.messages] == ["blijft@linde.be"]  # the removed person never gets a link


def test_an_admin_added_again_after_a_cancelled_invitation_gets_a_new_one(client, rt, users, schools, smtp):
    """Removed before the mail went out, then added again: a new invitation with a new key — the account
    exists, so without it the person would never get a link. Someone who set their password gets none."""
    first = add_admin(client, users, schools[0], "terug@linde.be").json
    old_mail = outbox_rows(rt)[0]
    old_link = re.search(r"key=([A-Za-z0-9]+)", old_mail.body_text).group(1)
    client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{first['user_id']}", user=users.expert2)
    again = add_admin(client, users, schools[0], "terug@linde.be").json
    assert (again["user_id"], again["created"], again["email_queued"]) == (first["user_id"], False, True)
    cancelled, fresh = outbox_rows(rt)
    assert (cancelled.status, fresh.status, fresh.user_id, fresh.purpose) == ("cancelled", "pending", first["user_id"],
                                                                              "invitation")
    assert again["invitation"] == {"mail_id": fresh.id, "status": "pending", "message": "uitnodiging in wachtrij"}
    new_key = re.search(r"key=([A-Za-z0-9]+)", fresh.body_text).group(1)
    assert new_key != old_link
    with rt.engine.connect() as conn:  # the key WordPress checks is the new one
        stored = conn.execute(select(rt.network.core.users.c.user_activation_key)
                              .where(rt.network.core.users.c.ID == first["user_id"])).scalar_one()
    hashed = stored.split(":", 1)[1]
    assert hashed == fast_hash(new_key) if hashed.startswith("$generic$") else phpass_check(new_key, hashed)
    # a person whose invitation was sent (or who set a password) is not invited twice
    runtime = Runtime(replace(rt.config, smtp_url=smtp.url), rt.engine, rt.network)
    run_now(runtime, "mail-outbox", site_id=None, trigger="cli")
    client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{first['user_id']}", user=users.expert2)
    third = add_admin(client, users, schools[0], "terug@linde.be").json
    assert third["email_queued"] is False and len(outbox_rows(rt)) == 2


def test_deleting_the_school_of_an_invited_admin_cancels_the_invitation(client, rt, users, schools):
    add_admin(client, users, schools[0], "school-weg@linde.be")
    assert client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}?force=true", user=users.expert2).status_code == 204
    assert [m.status for m in outbox_rows(rt)] == ["cancelled"]


def test_a_lop_expert_sees_the_delivery_state_of_the_sites_invitations(client, rt, users, schools):
    gone = add_admin(client, users, schools[0], "a@linde.be").json["user_id"]
    add_admin(client, users, schools[0], "b@linde.be")
    add_admin(client, users, schools[1], "c@kompas.be")
    client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{gone}", user=users.expert2)
    with rt.engine.begin() as conn:  # another site's mail is not shown
        queue_mail(conn, rt.network_tables.mail_outbox, site_id=3, to="x@so.be", subject="s", body_text="b",
                   purpose="invitation")
    page = client.get(f"/api/v1/sites/{SITE}/mail/outbox?limit=2", user=users.expert2)
    assert page.status_code == 200, page.json
    mails = page.json["mails"]
    assert [(m["to"], m["status"], m["status_text"]) for m in mails] == [
        ("c@kompas.be", "pending", "uitnodiging in wachtrij"), ("b@linde.be", "pending", "uitnodiging in wachtrij")]
    assert not {"body_text", "body_html"} & set(mails[0]) and mails[0]["purpose"] == "invitation"
    rest = client.get(f"/api/v1/sites/{SITE}/mail/outbox?limit=2&cursor={page.json['next_cursor']}", user=users.expert2).json
    assert [(m["to"], m["status"]) for m in rest["mails"]] == [("a@linde.be", "cancelled")]
    assert rest["next_cursor"] is None
    assert rest["mails"][0]["status_text"] == "uitnodiging geannuleerd: geen schoolbeheerder meer"
    cancelled = client.get(f"/api/v1/sites/{SITE}/mail/outbox?status=cancelled", user=users.operator).json["mails"]
    assert [m["to"] for m in cancelled] == ["a@linde.be"]
    for user in (users.expert3, users.admin2, users.nobody):
        assert client.get(f"/api/v1/sites/{SITE}/mail/outbox", user=user).status_code == 403
    bad = client.get(f"/api/v1/sites/{SITE}/mail/outbox?cursor=abc", user=users.expert2)
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "cursor"
    # operators keep the network-wide outbox, with the same rows and the new statuses
    network = client.get("/api/v1/mail/outbox?status=cancelled", user=users.operator).json
    assert network["mails"] == cancelled and network["next_cursor"] is None
    assert client.get("/api/v1/mail/outbox?status=expired", user=users.operator).json["mails"] == []


def test_an_empty_template_is_refused(client, users, schools):
    template = client.get(f"/api/v1/sites/{SITE}/imports/school-admins/template.xlsx", user=users.expert2).get_data()
    for data in (template, workbook_bytes([(None, None, None), ("", "", "")])):
        response = upload(client, users.expert2, data)
        assert (response.status_code, response.json["detail"]) == (422, "Er werden geen rijen ingevuld.")


def test_two_addresses_in_one_cell(client, rt, users, schools):
    rows = [("004711", "De Linde", "a@linde.be; b@linde.be"), ("004712", "Het Kompas", "c@kompas.be\nd@kompas.be")]
    response = upload(client, users.expert2, workbook_bytes(rows))
    assert response.status_code == 422
    assert [(e["row"], e["column"]) for e in response.json["errors"]] == [(2, "E-mailadres"), (3, "E-mailadres")]
    assert all("één e-mailadres per rij" in e["message"] for e in response.json["errors"])
    assert outbox_rows(rt) == []


def test_a_wrong_heading_row_lists_every_missing_column(client, users, schools):
    response = upload(client, users.expert2, workbook_bytes([("004711", "De Linde", "a@linde.be")],
                                                            header=("School nr", "Naam van de school", "Adres")))
    assert response.status_code == 422
    assert response.json["detail"] == ("De eerste rij mist de kolommen 'Instellingsnummer', 'Schoolnaam' en 'E-mailadres'. "
                                       "Gebruik de kopjes van het sjabloon: Instellingsnummer, Schoolnaam, E-mailadres.")
    assert [e["column"] for e in response.json["errors"]] == ["Instellingsnummer", "Schoolnaam", "E-mailadres"]


def test_report_xlsx_of_a_file_with_errors_explains_each_row(client, rt, users, schools):
    rows = [("004711", "De Linde", "ok@linde.be"), (None, None, None), ("009999", "Onbekend", "x@y.be"),
            ("004712", "Het Kompas", "a@kompas.be, b@kompas.be")]
    response = upload(client, users.expert2, workbook_bytes(rows), "?report=xlsx")
    assert response.status_code == 422
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "fouten" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.get_data()))["Schoolbeheerders"]
    assert [c.value for c in sheet[1]] == ["Instellingsnummer", "Schoolnaam", "E-mailadres", "Status"]
    status = [c.value for c in sheet["D"]]
    assert status[1] == "in orde, maar niet toegevoegd: het bestand bevat fouten" and status[2] is None
    assert status[3] == "FOUT – Instellingsnummer: geen school met instellingsnummer 009999 op deze site"
    assert status[4].startswith("FOUT – E-mailadres: meer dan één e-mailadres in deze cel: één e-mailadres per rij")
    assert [sheet.cell(row=r, column=4).fill.fgColor.rgb[-6:] for r in (4, 5)] == ["FFC7CE", "FFC7CE"]
    assert sheet.cell(row=2, column=4).fill.fill_type is None
    assert outbox_rows(rt) == []
    # the report goes back in as it is once fixed: its Status column is reused, not doubled
    sheet.delete_rows(3, 3)
    fixed = io.BytesIO()
    sheet.parent.save(fixed)
    again = upload(client, users.expert2, fixed.getvalue(), "?report=xlsx")
    assert again.status_code == 200
    done = load_workbook(io.BytesIO(again.get_data()))["Schoolbeheerders"]
    assert [c.value for c in done[1]] == ["Instellingsnummer", "Schoolnaam", "E-mailadres", "Status"]
    assert done["D2"].value == "toegevoegd, nieuw account (uitnodiging in wachtrij)" and done["D2"].fill.fill_type is None


def test_the_import_report_says_queued_never_sent(client, rt, users, schools):
    response = upload(client, users.expert2, workbook_bytes([("004711", "De Linde", "nieuw@linde.be")]))
    assert response.json["message"] == "1 rij(en) verwerkt: 1 gekoppeld, 0 al schoolbeheerder, 1 nieuw(e) account(s) " \
                                       "(uitnodiging in wachtrij)."
    assert "verstuurd" not in str(response.json)
    assert [(m.purpose, m.status) for m in outbox_rows(rt)] == [("invitation", "pending")]

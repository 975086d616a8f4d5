"""The API against its own OpenAPI document: Schemathesis, every operation, with and without
a session, through its example, coverage, fuzzing and stateful phases.

usage: run.py PALISADE_BINARY MAX_EXAMPLES

Checks: no 5xx, every status and content type documented, every response body valid
against its schema, headers as documented, invalid input refused, a token unusable after
logout (use_after_free), authentication enforced (ignored_auth). `positive_data_acceptance`
is left out on purpose: a schema-valid password can still be weak or breached, and a
schema-valid username can still be taken — refusing those with 422/409 is the point.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "faults"))
import common  # noqa: E402

# Documented statuses a schema-driven run cannot provoke reliably (a strong password or an
# existing name is not something a generator can count on hitting; outages and floods are
# not in its reach), and the tests that do. Keys: a status for every operation, or
# "METHOD PATH STATUS". Every refusal a client can cause must be answered in the run itself.
REACHED_ELSEWHERE = {
    "POST /api/v1/register 201": "crates/palisade-service/tests/service/api.rs::account_lifecycle_on_sqlite",
    "POST /api/v1/login 200": "crates/palisade-service/tests/service/api.rs::account_lifecycle_on_sqlite",
    "POST /api/v1/password 200": "crates/palisade-service/tests/service/api.rs::account_lifecycle_on_sqlite",
    "POST /api/v1/logout 204": "crates/palisade-service/tests/service/api.rs::account_lifecycle_on_sqlite",
    "PUT /api/v1/secrets/{name} 204": "crates/palisade-service/tests/service/vault.rs::store_list_reveal_delete_and_reauth",
    "POST /api/v1/secrets/{name}/reveal 200":
        "crates/palisade-service/tests/service/vault.rs::store_list_reveal_delete_and_reauth",
    "DELETE /api/v1/secrets/{name} 204":
        "crates/palisade-service/tests/service/vault.rs::store_list_reveal_delete_and_reauth",
    "DELETE /api/v1/sessions/{id} 204":
        "crates/palisade-service/tests/service/api.rs::ending_another_session_needs_a_recent_password",
    "DELETE /api/v1/sessions/{id} 200":
        "crates/palisade-service/tests/service/api.rs::ending_another_session_needs_a_recent_password",
    # Only a trusted proxy gets past 403, with a complete description of a request.
    **{f"GET /api/v1/authz/{endpoint} {status}":
       "crates/palisade-service/tests/service/forward_auth.rs::forward_auth_flow_on_sqlite"
       for endpoint, statuses in [("forward-auth", ["200", "302", "303", "401"]),
                                  ("auth-request", ["200", "401"])]
       for status in statuses},
    # Creating a token needs a fresh password entry and a free name: reached when the
    # generated example happens to fit, always by the service test.
    "POST /api/v1/tokens 201":
        "crates/palisade-service/tests/service/api_tokens.rs::a_token_reaches_me_and_nothing_else",
    "DELETE /api/v1/tokens/{id} 204":
        "crates/palisade-service/tests/service/api_tokens.rs::a_token_reaches_me_and_nothing_else",
    # A second factor's codes come from its secret, which a generator cannot know.
    "POST /api/v1/login 202": "crates/palisade-service/tests/service/second_factor.rs::enrol_then_sign_in_with_a_code_or_a_recovery_code_each_once",
    "POST /api/v1/login/second-step 200":
        "crates/palisade-service/tests/service/second_factor.rs::enrol_then_sign_in_with_a_code_or_a_recovery_code_each_once",
    "POST /api/v1/mfa/totp/{id}/confirm 200":
        "crates/palisade-service/tests/service/second_factor.rs::enrol_then_sign_in_with_a_code_or_a_recovery_code_each_once",
    "DELETE /api/v1/mfa/{id} 200": "crates/palisade-service/tests/service/second_factor.rs::changing_factors_needs_the_factor_and_a_recent_password",
    "POST /api/v1/mfa/recovery-codes 200":
        "crates/palisade-service/tests/service/second_factor.rs::changing_factors_needs_the_factor_and_a_recent_password",
    "POST /api/v1/mfa/recovery-codes 401":
        "crates/palisade-service/tests/service/second_factor.rs::the_factor_endpoints_need_a_session",
    # Passkeys need a host name as the relying party (this run's server has an address)
    # and a signing authenticator: the service tests drive a software one.
    **{f"POST /api/v1/{path} {status}": f"crates/palisade-service/tests/service/passkeys.rs::{test}" for path, status, test in [
        ("mfa/passkeys", "200", "a_passkey_is_added_then_used_as_the_second_step_and_alone"),
        ("mfa/passkeys/finish", "200", "a_passkey_is_added_then_used_as_the_second_step_and_alone"),
        ("mfa/passkeys/finish", "404", "a_passkey_proves_a_change_and_nothing_is_finished_unstarted"),
        ("mfa/passkeys/challenge", "200", "a_passkey_proves_a_change_and_nothing_is_finished_unstarted"),
        ("login/second-step/challenge", "200", "a_passkey_is_added_then_used_as_the_second_step_and_alone"),
        ("login/second-step/challenge", "404", "second_step_challenge_for_an_account_without_a_passkey"),
        ("login/passkey/challenge", "200", "a_passkey_is_added_then_used_as_the_second_step_and_alone"),
        ("login/passkey", "200", "a_passkey_is_added_then_used_as_the_second_step_and_alone"),
        ("login/passkey", "401", "a_passkey_is_added_then_used_as_the_second_step_and_alone"),
    ]},
    # A mailed link's token is known only to its mailbox; the service tests read it there.
    **{f"POST /api/v1/{path} {status}": f"crates/palisade-service/tests/service/{test}" for path, status, test in [
        ("password/reset", "202", "mail.rs::reset_requests_answer_alike_for_known_and_unknown_addresses"),
        ("password/reset/complete", "200", "mail.rs::a_reset_link_sets_a_new_password_once_and_ends_every_session"),
        ("password/reset/challenge", "200", "passkeys.rs::a_passkey_proves_a_password_reset"),
        ("password/reset/challenge", "404", "mail.rs::a_reset_asks_for_the_second_factor_before_accepting_the_password"),
        ("email/confirm", "200", "mail.rs::changing_the_address_needs_the_password_and_the_new_address_link"),
        ("account/email", "202", "mail.rs::changing_the_address_needs_the_password_and_the_new_address_link"),
        ("email/verification", "202", "mail.rs::verification_links_can_be_sent_again_a_few_times_an_hour"),
        ("register", "202", "signup.rs::a_sign_up_does_not_tell_whether_its_address_has_an_account"),
        ("register/confirm", "201", "signup.rs::a_sign_up_does_not_tell_whether_its_address_has_an_account"),
        ("register/confirm", "409", "signup.rs::a_sign_up_does_not_tell_whether_its_address_has_an_account"),
    ]},
    # The OpenID provider's answers need a registered client and a signed-in user's code:
    # the service tests and the relying parties (openid_client.mjs, apache.mjs) reach them.
    **{f"{op} 200": f"crates/palisade-service/tests/service/oidc/flows.rs::{test}" for op, test in [
        ("POST /oauth2/token", "the_code_flow_signs_a_user_in_to_an_app"),
        ("GET /oauth2/userinfo", "userinfo_releases_claims_by_scope"),
        ("POST /oauth2/introspect", "refresh_rotates_and_introspection_and_revocation_answer_for_own_tokens"),
        ("POST /oauth2/revoke", "refresh_rotates_and_introspection_and_revocation_answer_for_own_tokens"),
    ]},
    "DELETE /api/v1/account/apps/{client_id} 204": "crates/palisade-service/tests/service/oidc/flows.rs::revoking_an_app_ends_its_tokens",
    # Deleting one's account needs one's password (a generator's guess is refused).
    "DELETE /api/v1/account 204": "crates/palisade-service/tests/service/account_data.rs::deleting_an_account_needs_its_password_and_second_factor_and_leaves_no_row_about_it",
    "DELETE /api/v1/account 409": "crates/palisade-service/tests/service/account_data.rs::the_last_administrator_stays_with_64_deletions_in_flight_on_sqlite",
    "503": "crates/palisade-cli/tests/faults/pg_restart.py, disk_full.py",
    "429": "crates/palisade-service/tests/service/throttling.rs",
    "413": "crates/palisade-service/tests/service/api.rs::validation_errors_name_the_field_and_never_echo",
    "409": "crates/palisade-service/tests/service/api.rs::account_lifecycle_on_sqlite",
    "403": "crates/palisade-service/tests/service/api.rs::ending_another_session_needs_a_recent_password",
}

# The admin API answers everyone but an administrator with the 404 of a path that does not
# exist — for every method and path under it, so that nothing tells them it is there. That
# is by design at odds with two of the checks (an unsupported method must answer 405; a
# request without credentials 401), so the run leaves it out; the service tests reach
# every status it documents, for callers of every kind.
ADMIN_PATHS = "^/api/v1/admin/"
ADMIN_TESTS = ["crates/palisade-service/tests/service/admin.rs::the_admin_api_is_not_found_by_anyone_but_an_administrator",
               "crates/palisade-service/tests/service/admin_actions.rs::each_action_does_its_one_thing_is_audited_and_tells_the_owner",
               "crates/palisade-service/tests/service/admin_actions.rs::an_admin_scoped_token_reaches_the_admin_api_while_its_owner_administers"]

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "use_after_free",
    "ignored_auth",
    "missing_required_header",
    "unsupported_method",
])


def main():
    binary, examples = sys.argv[1], sys.argv[2]
    st = subprocess.run(["st", "--version"], capture_output=True, text=True)
    if st.returncode != 0:
        if os.environ.get("CI") == "true":
            common.fail("schemathesis (st) is not installed")
        print("SKIPPED: schemathesis is not installed (pip install schemathesis)")
        return
    server = common.Server(binary, tempfile.mkdtemp(prefix="palisade-st-")).start()
    try:
        host, port = server.addr
        base = f"http://{host}:{port}"
        env = dict(os.environ, PALISADE_ST_HOST=host, PALISADE_ST_PORT=str(port),
                   SCHEMATHESIS_HOOKS="hooks", PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        har = os.path.join(tempfile.mkdtemp(prefix="palisade-st-report-"), "run.har")
        result = subprocess.run(
            ["st", "run", f"{base}/api/v1/openapi.json", "--url", base,
             "--report", "har", "--report-har-path", har,
             "--checks", CHECKS, "--max-examples", examples, "--no-color",
             "--phases", "examples,coverage,fuzzing,stateful", "--seed", os.environ.get("PALISADE_ST_SEED", "1"),
             "--exclude-path-regex", ADMIN_PATHS],
            env=env, capture_output=True, text=True, cwd=os.path.dirname(har))  # its cache stays out of the repository
        print(result.stdout[-6000:])
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            common.fail(f"schemathesis found problems (exit {result.returncode})")
        if any("request failed" in line for line in server.log):
            common.fail("the server logged an internal error")
        document = json.loads(common.call(server.addr, "GET", "/api/v1/openapi.json").body)
        check_elsewhere_tests_exist()
        check_reached(document, har)
    finally:
        server.kill()


def check_elsewhere_tests_exist():
    """The tests REACHED_ELSEWHERE names must exist, or the excuse is empty."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..")
    for where in list(REACHED_ELSEWHERE.values()) + ADMIN_TESTS:
        path, _, function = where.split(",")[0].partition("::")
        source = os.path.join(root, path)
        if not os.path.isfile(source):
            common.fail(f"REACHED_ELSEWHERE names a missing file: {path}")
        if function and f"fn {function}" not in open(source).read():
            common.fail(f"REACHED_ELSEWHERE names a missing test: {where}")


def check_reached(document, har):
    """Every documented (operation, status) was answered in the run, or is in
    REACHED_ELSEWHERE: the document promises nothing the service cannot say."""
    templates = []
    for path, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"
        for method, operation in item.items():
            templates.append((method.upper(), re.compile(pattern), path, set(operation["responses"])))
    seen = set()
    with open(har) as f:
        for entry in json.load(f)["log"]["entries"]:
            url_path = "/" + entry["request"]["url"].split("://", 1)[1].split("/", 1)[1].split("?")[0]
            for method, pattern, path, _ in templates:
                if method == entry["request"]["method"] and pattern.match(url_path):
                    seen.add((method, path, str(entry["response"]["status"])))
    missing = []
    for method, _, path, documented in templates:
        for status in sorted(documented):
            elsewhere = (status in REACHED_ELSEWHERE or f"{method} {path} {status}" in REACHED_ELSEWHERE
                         or re.match(ADMIN_PATHS, path) is not None)
            if (method, path, status) not in seen and not elsewhere:
                missing.append(f"{method} {path} {status}")
    if missing:
        common.fail("documented but never answered: " + ", ".join(missing))
    print(f"every documented status answered: {len(seen)} (operation, status) pairs in this run, "
          f"the rest ({len(REACHED_ELSEWHERE)} kinds) by the tests named in run.py")


if __name__ == "__main__":
    main()

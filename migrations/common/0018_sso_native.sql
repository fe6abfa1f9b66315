-- The studio signs in through the system browser (RFC 8252): a sign-in under way may be a native
-- app's — its loopback address, its PKCE challenge and its own state — and it gets a one-time code
-- there instead of a hand-off link: a user link whose challenge the verifier it trades the code
-- with must meet.
alter table sso_logins add column native_redirect text;
alter table sso_logins add column native_challenge text;
alter table sso_logins add column native_state text;
alter table user_links add column challenge text;

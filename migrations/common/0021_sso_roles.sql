-- A school's provider may say people's roles: the claim that holds them (`groups`, `roles`, …) and
-- how its values map to the school's roles (JSON: [{"value": "staff", "role": "teacher"}, …]). The
-- school-wide grants of the mapped roles follow the provider at each sign-in.
alter table tenant_sso add column role_claim text;
alter table tenant_sso add column role_map text;

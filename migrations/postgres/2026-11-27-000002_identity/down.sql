DROP TABLE recovery_codes;
DROP TABLE one_time_tokens;
DROP TABLE api_keys;
DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE organizations;

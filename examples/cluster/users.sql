-- The users table that node.caddyfile's `auth sql` reads. Passwords are
-- Caddy's bcrypt or argon2id hashes (caddy hash-password) or Dovecot-style
-- {SCHEME} hashes. The mail tables are created by the nodes themselves.
CREATE TABLE IF NOT EXISTS users (
	username text PRIMARY KEY,
	password text NOT NULL
);
-- The password of demo is "demo".
INSERT INTO users VALUES ('demo', '$2a$10$TFpSvX8FRrHG3V5wvG0LDuWDjzPVLZHPRsusW.WDkM1KOwMtzLL22')
	ON CONFLICT (username) DO NOTHING;

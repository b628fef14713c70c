//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// curlExitBadCertificate is curl's exit code for a peer certificate that
// cannot be verified.
const curlExitBadCertificate = 60

// tlsURL returns a URL with credentials for host tlsHostname and port.
func tlsURL(scheme string, port int, path string) string {
	u := url.URL{
		Scheme: scheme,
		User:   url.UserPassword(testUser, testPassword),
		Host:   tlsHostname + ":" + strconv.Itoa(port),
		Path:   "/" + path,
	}
	return u.String()
}

// assertLoginsOverTLS checks that the server logged n logins, each with
// "tls": true: the session knew its connection was encrypted.
func assertLoginsOverTLS(t *testing.T, s *tlsServer, n int) {
	t.Helper()
	flags := s.loginTLSFlags()
	if len(flags) != n {
		t.Errorf("the server logged %d logins, want %d: %q", len(flags), n, flags)
	}
	for i, f := range flags {
		if f != "true" {
			t.Errorf("login %d was logged with tls %s, want true", i+1, f)
		}
	}
}

func TestTLSCurl(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startTLSServer(t, tlsServerOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)
	uid1 := fixture[0].UID // the oldest message is number 1

	// POP3S: implicit TLS, verified against the internal CA.
	pop3s := tlsURL("pop3s", s.TLSPort, "")
	sizes := parseScanListing(t, curlRun(t, curl, "--cacert", s.CACert, pop3s))
	if len(sizes) != len(fixture) {
		t.Errorf("LIST over POP3S: %v, want %d messages", sizes, len(fixture))
	}
	if got, want := curlRun(t, curl, "--cacert", s.CACert, tlsURL("pop3s", s.TLSPort, "1")), fixtureByUID(t, uid1).Wire(); got != want {
		t.Errorf("RETR 1 over POP3S:\n got: %q\nwant: %q", got, want)
	}

	// STLS: --ssl-reqd makes curl fail unless the upgrade happens.
	_, errOut, code := runCommand(t, "", nil, curl, "--verbose", "--max-time", "30", "--ssl-reqd",
		"--cacert", s.CACert, tlsURL("pop3", s.Port, "1"))
	if code != 0 {
		t.Fatalf("curl --ssl-reqd pop3://: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"< STLS", "> STLS", "< +OK Begin TLS negotiation", `subjectAltName: host "localhost" matched`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("curl --ssl-reqd transcript lacks %q:\n%s", want, errOut)
		}
	}

	// SASL PLAIN over each kind of TLS.
	for _, u := range []string{pop3s, tlsURL("pop3", s.Port, "")} {
		_, errOut, code = runCommand(t, "", nil, curl, "--verbose", "--max-time", "30", "--ssl-reqd",
			"--cacert", s.CACert, "--login-options", "AUTH=PLAIN", u)
		if code != 0 || !strings.Contains(errOut, "> AUTH PLAIN") {
			t.Errorf("curl AUTH=PLAIN %s: exit %d\n%s", u, code, errOut)
		}
	}

	// Without the internal CA's root, curl must refuse the certificate.
	_, errOut, code = runCommand(t, "", nil, curl, "--max-time", "30", pop3s)
	if code != curlExitBadCertificate {
		t.Errorf("curl without --cacert: exit %d, want %d (certificate not trusted)\n%s", code, curlExitBadCertificate, errOut)
	}

	assertLoginsOverTLS(t, s, 5)
	assertUIDsOnDisk(t, maildir, fixtureUIDs())
}

// TestTLSCertificateFromHandler starts a server with no TLS options at
// all: the STLS handler alone makes Caddy manage a certificate for its
// host name (from the internal CA, since "localhost" cannot have a public
// one), and the POP3S listener uses the same certificate.
func TestTLSCertificateFromHandler(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startTLSServer(t, tlsServerOptions{globals: "skip_install_trust"})
	deliverFixture(t, s.Maildir(testUser))
	for _, args := range [][]string{
		{"--ssl-reqd", tlsURL("pop3", s.Port, "")},
		{tlsURL("pop3s", s.TLSPort, "")},
	} {
		listing := parseScanListing(t, curlRun(t, curl, append([]string{"--cacert", s.CACert}, args...)...))
		if len(listing) != len(fixture) {
			t.Errorf("curl %q: %v, want %d messages", args, listing, len(fixture))
		}
	}
}

// poplibTLS runs testdata/poplib_tls.py and decodes its JSON into out.
func poplibTLS(t *testing.T, s *tlsServer, mode string, port int, password string, out any) {
	t.Helper()
	python := requireTool(t, "python3", "python3")
	script, err := filepath.Abs(filepath.Join("testdata", "poplib_tls.py"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCommand(t, "", nil, python, script, mode, tlsHostname, strconv.Itoa(port), testUser, password, s.CACert)
	if code != 0 {
		t.Fatalf("poplib %s: exit %d\nstderr:\n%s", mode, code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("poplib %s: decoding %q: %v", mode, stdout, err)
	}
}

// poplibTLSResult is what poplib_tls.py prints in the pop3s and stls modes.
type poplibTLSResult struct {
	Welcome    string              `json:"welcome"`
	CapaBefore map[string][]string `json:"capa_before"`
	STLS       string              `json:"stls"`
	TLSVersion string              `json:"tls_version"`
	ALPN       string              `json:"alpn"`
	Capa       map[string][]string `json:"capa"`
	Stat       []int               `json:"stat"`
	Retr1      string              `json:"retr1"`
	Quit       string              `json:"quit"`
}

func TestTLSPoplib(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, tlsServerOptions{})
	deliverFixture(t, s.Maildir(testUser))
	first := fixtureByUID(t, fixture[0].UID)

	check := func(mode string, got poplibTLSResult) {
		t.Helper()
		if !strings.HasPrefix(got.TLSVersion, "TLSv1.") {
			t.Errorf("%s: TLS version %q", mode, got.TLSVersion)
		}
		if got.ALPN != "pop3" {
			t.Errorf("%s: ALPN protocol %q, want pop3", mode, got.ALPN)
		}
		if _, ok := got.Capa["STLS"]; ok {
			t.Errorf("%s: CAPA over TLS lists STLS: %v", mode, got.Capa)
		}
		if sasl := got.Capa["SASL"]; !slices.Equal(sasl, []string{"PLAIN", "LOGIN"}) {
			t.Errorf("%s: CAPA SASL over TLS: %v, want PLAIN LOGIN", mode, sasl)
		}
		if len(got.Stat) != 2 || got.Stat[0] != len(fixture) {
			t.Errorf("%s: STAT %v, want %d messages", mode, got.Stat, len(fixture))
		}
		if got.Retr1 != first.Text() {
			t.Errorf("%s: RETR 1:\n got: %q\nwant: %q", mode, got.Retr1, first.Text())
		}
		if !strings.HasPrefix(got.Quit, "+OK") {
			t.Errorf("%s: QUIT %q", mode, got.Quit)
		}
	}

	var implicit poplibTLSResult
	poplibTLS(t, s, "pop3s", s.TLSPort, testPassword, &implicit)
	check("POP3_SSL", implicit)

	var upgraded poplibTLSResult
	poplibTLS(t, s, "stls", s.Port, testPassword, &upgraded)
	check("stls()", upgraded)
	if _, ok := upgraded.CapaBefore["STLS"]; !ok {
		t.Errorf("CAPA before STLS lacks STLS: %v", upgraded.CapaBefore)
	}
	if !strings.HasPrefix(upgraded.STLS, "+OK") {
		t.Errorf("STLS: %q", upgraded.STLS)
	}
	assertLoginsOverTLS(t, s, 2)
	assertUIDsOnDisk(t, s.Maildir(testUser), fixtureUIDs())
}

// mpopTLSConfigTemplate is an mpop account that trusts the internal CA
// only; the verbs are tls_starttls, the CA file, the port, the password,
// the maildir to deliver to and the UIDLs file. mpop picks the
// authentication method itself from CAPA.
const mpopTLSConfigTemplate = `defaults
tls on
tls_starttls %s
tls_trust_file %s
timeout 20
received_header off

account default
host ` + tlsHostname + `
port %d
user ` + testUser + `
password %s
delivery maildir %s
uidls_file %s
keep on
`

func TestTLSMpop(t *testing.T) {
	t.Parallel()
	mpop := requireTool(t, "mpop", "mpop")
	s := startTLSServer(t, tlsServerOptions{})
	deliverFixture(t, s.Maildir(testUser))

	for _, tc := range []struct {
		name     string
		starttls string
		port     int
	}{
		{"tls", "off", s.TLSPort},
		{"starttls", "on", s.Port},
	} {
		dir := t.TempDir()
		out := filepath.Join(dir, "Maildir")
		for _, sub := range []string{"new", "cur", "tmp"} {
			if err := os.MkdirAll(filepath.Join(out, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		config := filepath.Join(dir, "mpoprc")
		text := fmt.Sprintf(mpopTLSConfigTemplate, tc.starttls, s.CACert, tc.port, testPassword, out, filepath.Join(dir, "uidls"))
		if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCommand(t, dir, []string{"HOME=" + dir}, mpop, "--file="+config, "--all-accounts")
		if code != 0 {
			t.Fatalf("mpop %s: exit %d\nstdout:\n%s\nstderr:\n%s", tc.name, code, stdout, stderr)
		}
		assertTextsEqual(t, "mpop "+tc.name+" delivery", maildirMessages(t, out))
	}
	assertLoginsOverTLS(t, s, 2)
	assertUIDsOnDisk(t, s.Maildir(testUser), fixtureUIDs())
}

// fetchmailTLSRCTemplate is a fetchmail run control file; the verbs are
// the protocol, the port, the password and the TLS options.
const fetchmailTLSRCTemplate = `set no syslog
set invisible
poll ` + tlsHostname + ` protocol %s service %d timeout 20
	user "` + testUser + `" password "%s"
	%s no rewrite
`

// runFetchmailTLS runs fetchmail --keep once against port and returns its
// exit code and output.
func runFetchmailTLS(t *testing.T, fetchmail, dir, protocol string, port int, options string) (int, string) {
	t.Helper()
	rc := filepath.Join(dir, "fetchmailrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf(fetchmailTLSRCTemplate, protocol, port, testPassword, options)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	mda := fmt.Sprintf(`f=$(mktemp %s/msg.XXXXXXXX) && cat > "$f"`, out)
	stdout, stderr, code := runCommand(t, dir, []string{"HOME=" + dir, "FETCHMAILHOME=" + dir}, fetchmail,
		"--fetchmailrc", rc,
		"--idfile", filepath.Join(dir, "fetchids"),
		"--pidfile", filepath.Join(dir, "fetchmail.pid"),
		"--nodetach", "--nosyslog", "--verbose", "--keep",
		"--mda", mda)
	return code, stdout + stderr
}

func TestTLSFetchmail(t *testing.T) {
	t.Parallel()
	fetchmail := requireTool(t, "fetchmail", "fetchmail")
	s := startTLSServer(t, tlsServerOptions{})
	deliverFixture(t, s.Maildir(testUser))
	// fetchmail 6.4 (Debian 12) checks the server's name only when the
	// certificate has a Common Name, and with sslcertck (its default)
	// refuses one that has none, as Caddy's certificates do: the name is
	// in the SAN. So the certificate is pinned by its fingerprint instead,
	// after Go verified it against the internal CA for the name.
	trust := fmt.Sprintf("sslcertfile %q no sslcertck sslfingerprint %q", s.CACert, s.leafFingerprint(t))

	for _, tc := range []struct {
		name    string
		port    int
		options string
		want    string // in fetchmail's transcript
	}{
		{"ssl", s.TLSPort, "ssl " + trust, "SSL/TLS: using protocol"},
		{"stls", s.Port, "sslproto 'tls1.2+' " + trust, "POP3> STLS"},
	} {
		dir := t.TempDir()
		code, transcript := runFetchmailTLS(t, fetchmail, dir, "pop3", tc.port, tc.options)
		if code != 0 {
			t.Fatalf("fetchmail %s: exit %d\n%s", tc.name, code, transcript)
		}
		for _, want := range []string{tc.want, "fingerprints match"} {
			if !strings.Contains(transcript, want) {
				t.Errorf("fetchmail %s transcript lacks %q:\n%s", tc.name, want, transcript)
			}
		}
		assertTextsEqual(t, "fetchmail "+tc.name+" delivery", dirMessages(t, filepath.Join(dir, "out")))
	}
	assertLoginsOverTLS(t, s, 2)
	assertUIDsOnDisk(t, s.Maildir(testUser), fixtureUIDs())
}

// apopGreeting matches a greeting with an APOP timestamp.
var apopGreeting = regexp.MustCompile(`^\+OK .* <[0-9]+\.[0-9]+@` + tlsHostname + `>$`)

// TestAPOPClients logs in with APOP (passwd_file with a {PLAIN} password)
// from curl, poplib and fetchmail on the clear listener.
func TestAPOPClients(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	fetchmail := requireTool(t, "fetchmail", "fetchmail")
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte(testUser+":{PLAIN}"+testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startTLSServer(t, tlsServerOptions{auth: "auth passwd_file " + users, extra: "apop"})
	deliverFixture(t, s.Maildir(testUser))

	// curl: AUTH=+APOP logs in with APOP only.
	_, errOut, code := runCommand(t, "", nil, curl, "--verbose", "--max-time", "30",
		"--login-options", "AUTH=+APOP", tlsURL("pop3", s.Port, ""))
	if code != 0 || !strings.Contains(errOut, "> APOP "+testUser+" ") {
		t.Errorf("curl APOP: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runCommand(t, "", nil, curl, "--verbose", "--max-time", "30",
		"--login-options", "AUTH=+APOP", pop3URL(s.server, testUser, "not-"+testPassword, ""))
	if code != curlExitLoginDenied || !strings.Contains(errOut, "-ERR [AUTH]") {
		t.Errorf("curl APOP with a wrong password: exit %d, want %d\n%s", code, curlExitLoginDenied, errOut)
	}

	// poplib's apop().
	var got struct {
		Welcome string `json:"welcome"`
		APOP    string `json:"apop"`
		Stat    []int  `json:"stat"`
		Quit    string `json:"quit"`
	}
	poplibTLS(t, s, "apop", s.Port, testPassword, &got)
	if !apopGreeting.MatchString(got.Welcome) {
		t.Errorf("greeting %q has no APOP timestamp", got.Welcome)
	}
	if !strings.HasPrefix(got.APOP, "+OK") || len(got.Stat) != 2 || got.Stat[0] != len(fixture) {
		t.Errorf("poplib apop: %q, STAT %v", got.APOP, got.Stat)
	}

	// fetchmail's APOP protocol.
	dir := t.TempDir()
	code, transcript := runFetchmailTLS(t, fetchmail, dir, "apop", s.Port, "sslproto ''")
	if code != 0 || !strings.Contains(transcript, "POP3> APOP "+testUser) {
		t.Fatalf("fetchmail APOP: exit %d\n%s", code, transcript)
	}
	assertTextsEqual(t, "fetchmail APOP delivery", dirMessages(t, filepath.Join(dir, "out")))
	assertUIDsOnDisk(t, s.Maildir(testUser), fixtureUIDs())
}

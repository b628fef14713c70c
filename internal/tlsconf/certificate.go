// Package tlsconf is the TLS of the mail protocol handlers (STARTTLS and
// implicit TLS): connection policies read from the Caddyfile and loaded
// with Caddy's TLS app, a certificate managed for the handler's host name,
// (the handshake itself is netconn.TLSHandshake).
package tlsconf

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// ManageCertificate makes Caddy's TLS app obtain and renew a certificate
// for hostname, so that STLS and implicit TLS work in a config with no
// HTTP site, unless the config loads a certificate for it itself: ACME for
// a public name (or whatever automation policy covers it), Caddy's internal
// CA for a name that cannot have a public certificate (localhost, *.local,
// *.internal, ...) when no policy covers it, as Caddy's HTTP app does.
//
// The TLS app starts managing the name when the config has started (Caddy's
// "started" event), not while it is provisioned: `caddy validate` and
// configs that fail to load ask no CA for anything.
func ManageCertificate(ctx caddy.Context, hostname string, logger *zap.Logger) error {
	tlsAppIface, err := ctx.App("tls")
	if err != nil {
		return fmt.Errorf("getting the tls app: %v", err)
	}
	tlsApp := tlsAppIface.(*caddytls.TLS)
	if tlsApp.HasCertificateForSubject(hostname) {
		// A certificate the config loads itself (load_files, load_pem,
		// ...) covers the name: use it, as Caddy's HTTP app does.
		logger.Info("using the loaded certificate for TLS; not managing one", zap.String("hostname", hostname))
		return nil
	}

	if !certmagic.SubjectQualifiesForPublicCert(hostname) && !policyCovers(tlsApp, hostname) {
		ap := &caddytls.AutomationPolicy{
			SubjectsRaw: []string{hostname},
			IssuersRaw:  []json.RawMessage{json.RawMessage(`{"module":"internal"}`)},
		}
		if err := tlsApp.AddAutomationPolicy(ap); err != nil {
			return fmt.Errorf("automation policy for %s: %v", hostname, err)
		}
	}

	eventsAppIface, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("getting the events app: %v", err)
	}
	return eventsAppIface.(*caddyevents.App).On("started", &certificateManager{
		tls:      tlsApp,
		hostname: hostname,
		logger:   logger,
	})
}

// policyCovers reports whether one of the TLS app's automation policies
// applies to name.
func policyCovers(tlsApp *caddytls.TLS, name string) bool {
	if tlsApp.Automation == nil {
		return false
	}
	for _, ap := range tlsApp.Automation.Policies {
		subjects := ap.Subjects()
		if len(subjects) == 0 {
			return true // a catch-all policy
		}
		for _, s := range subjects {
			if certmagic.MatchWildcard(name, s) {
				return true
			}
		}
	}
	return false
}

// certificateManager asks the TLS app to manage a certificate for hostname
// once the config has started.
type certificateManager struct {
	tls      *caddytls.TLS
	hostname string
	logger   *zap.Logger
}

// Handle handles Caddy's "started" event.
func (m *certificateManager) Handle(context.Context, caddy.Event) error {
	m.logger.Info("managing the certificate for TLS", zap.String("hostname", m.hostname))
	if err := m.tls.Manage(map[string]struct{}{m.hostname: {}}); err != nil {
		m.logger.Error("managing the certificate for TLS", zap.String("hostname", m.hostname), zap.Error(err))
	}
	return nil
}

// Interface guard
var _ caddyevents.Handler = (*certificateManager)(nil)

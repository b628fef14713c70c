// Package lmtp is the caddy-l4 connection handler layer4.handlers.lmtp: it
// receives mail over LMTP (RFC 2033) from an MTA (Postfix, Exim,
// OpenSMTPD, ...) and delivers each message into a storage backend
// (pop3.storage.*), with one reply per recipient.
//
// The protocol is github.com/emersion/go-smtp's server in LMTP mode; this
// package is the Caddy adapter around it (config, lifecycle, limits,
// metrics, logs) and the delivery backend behind it (recipient mapping,
// spooling, trace headers, storage errors to reply codes).
package lmtp

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/mholt/caddy-l4/layer4"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/caddystore"
	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/hostname"
	"github.com/caddy-pop3/caddy-pop3/internal/sessions"
	"github.com/caddy-pop3/caddy-pop3/internal/tlsconf"
	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func init() {
	caddy.RegisterModule(&Handler{})
}

// Defaults of the handler's settings; each applies when the setting is
// zero (JSON) or absent (Caddyfile).
const (
	// DefaultMaxMessageSize is the largest message accepted, in octets
	// as received (before the trace headers are added).
	DefaultMaxMessageSize = 50 << 20
	// DefaultMaxRecipients bounds the recipients of one transaction.
	DefaultMaxRecipients = 1000
	// DefaultMaxLineLength is the longest line accepted, in commands and
	// in message text, CRLF included.
	DefaultMaxLineLength = 8192
	// MinMaxLineLength is the shortest max_line_length allowed: the text
	// line RFC 5321 (section 4.5.3.1.6) lets every client send.
	MinMaxLineLength = 1000
	// DefaultIdleTimeout is how long a client may stay silent (between
	// commands, or within a message) before the session is closed.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultGracePeriod is how long sessions of a replaced or stopped
	// config may go on before they are closed.
	DefaultGracePeriod = 5 * time.Minute
	// DefaultMaxConnections bounds the LMTP connections of the process.
	DefaultMaxConnections = 1000
	// DefaultMaxConnectionsPerIP bounds the connections of one client
	// address (an IPv6 client counts as its /64).
	DefaultMaxConnectionsPerIP = 100
)

// Handler is the LMTP connection handler. It is terminal: it serves the
// whole session and never passes the connection on.
type Handler struct {
	// Hostname is the server's name in the greeting. Default: the
	// machine's host name.
	Hostname string `json:"hostname,omitempty"`

	// StorageRaw is the storage backend, a pop3.storage module that can
	// deliver (storage.Deliverer). Default: maildir under Caddy's data
	// directory, the same as the pop3 handler's default.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=pop3.storage inline_key=module"`

	// AuthRaw is an optional pop3.auth module that says which users
	// exist (it must implement auth.UserLookup): recipients it does not
	// know are refused at RCPT with 550 5.1.1. With ClientAuth it also
	// checks the credentials of clients outside trusted_networks.
	// Default: none (every recipient the address rules accept is
	// delivered to).
	AuthRaw json.RawMessage `json:"auth,omitempty" caddy:"namespace=pop3.auth inline_key=module"`

	// Recipients says how a recipient address becomes a user name.
	Recipients

	// MaxMessageSize is the largest message accepted, in octets.
	// Advertised as SIZE; larger messages get 552 5.3.4 and nothing is
	// stored. Default: 50 MiB.
	MaxMessageSize int64 `json:"max_message_size,omitempty"`

	// MaxRecipients bounds the recipients of one transaction; over it,
	// RCPT gets 452 4.5.3 (the MTA sends the rest in another
	// transaction). Default: 1000.
	MaxRecipients int `json:"max_recipients,omitempty"`

	// TraceHeaders adds Return-Path: and Delivered-To: headers at the
	// top of each delivered message, as local delivery agents do.
	// Default: true.
	TraceHeaders *bool `json:"trace_headers,omitempty"`

	// TrustedNetworks are the client networks (CIDR, or single
	// addresses) allowed to deliver, besides loopback clients. LMTP has
	// no authentication: anyone who can connect can put mail in any
	// mailbox, so every other client is refused. Default: none (only
	// loopback).
	TrustedNetworks []string `json:"trusted_networks,omitempty"`

	// ClientAuth lets clients that are neither on loopback nor in
	// trusted_networks deliver after they authenticate (SASL PLAIN or
	// LOGIN, RFC 4954) as an account of the auth module, over TLS
	// (starttls or implicit_tls); until then MAIL gets 530 5.7.0. Trusted
	// clients need no AUTH. Failed logins are paused and counted like the
	// pop3 handler's (the same process-wide lockouts). Needs auth and
	// TLS. Default: off (other clients are refused with 554 5.7.1).
	ClientAuth bool `json:"client_auth,omitempty"`

	// ProxyProtocol serves MTAs behind a load balancer that sends a
	// PROXY protocol header. The header's address is the client's, for
	// trusted_networks, limits and logs. Default: off.
	ProxyProtocol *ProxyProtocol `json:"proxy_protocol,omitempty"`

	// StartTLS offers STARTTLS (RFC 3207) with certificates from Caddy's
	// TLS app. Default: off.
	StartTLS *TLS `json:"starttls,omitempty"`

	// ImplicitTLS makes every connection begin with a TLS handshake
	// (LMTP over TLS), with certificates from Caddy's TLS app. Not with
	// StartTLS. Default: off.
	ImplicitTLS *TLS `json:"implicit_tls,omitempty"`

	// Limits against broken or hostile clients.
	Limits

	// GracePeriod is how long sessions that began under this config may
	// go on after it is replaced or stopped; then each is closed between
	// transactions (a message being delivered is finished and answered
	// first). Default: 5m.
	GracePeriod caddy.Duration `json:"grace_period,omitempty"`

	deliverer storage.Deliverer
	// startTLS and implicit make the TLS config of a connection (Caddy's
	// policies pick the certificate of each handshake); nil when off.
	startTLS func() *tls.Config
	implicit func() *tls.Config
	backend  string // the storage module's name, for logs and metrics
	lookup   auth.UserLookup
	authn    auth.Authenticator // the auth module, for ClientAuth
	trusted  clientid.Networks
	logger   *zap.Logger
	sessions *sessions.Registry[*liveSession]

	graceOver  atomic.Bool
	graceTimer *time.Timer
}

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "layer4.handlers.lmtp",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the storage backend and the optional authenticator.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.sessions = liveSessions
	registerExitDrain(h.logger)
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("metrics: %v", err)
	}
	if h.Hostname == "" {
		h.Hostname = hostname.Default()
	}
	if err := h.prepare(); err != nil {
		return err
	}

	if h.StartTLS != nil {
		f, err := tlsconf.Provision(ctx, "starttls", &h.StartTLS.ConnectionPolicies, h.Hostname, alpnLMTP, h.logger)
		if err != nil {
			return err
		}
		h.startTLS = f
	}
	if h.ImplicitTLS != nil {
		f, err := tlsconf.Provision(ctx, "implicit_tls", &h.ImplicitTLS.ConnectionPolicies, h.Hostname, alpnLMTP, h.logger)
		if err != nil {
			return err
		}
		h.implicit = f
	}

	d, err := caddystore.Load[storage.Deliverer](ctx, h.StorageRaw, "cannot deliver mail (it does not implement storage.Deliverer)")
	if err != nil {
		return err
	}
	h.deliverer = d
	h.backend = moduleName(d)

	if h.AuthRaw != nil {
		mod, err := ctx.LoadModule(h, "AuthRaw")
		if err != nil {
			return fmt.Errorf("auth: %v", err)
		}
		l, ok := mod.(auth.UserLookup)
		if !ok {
			return fmt.Errorf("auth: module %s cannot say which users exist (it does not implement auth.UserLookup); leave auth out to deliver to every recipient the address rules accept", moduleName(mod))
		}
		h.lookup = l
		h.authn, _ = mod.(auth.Authenticator)
	}
	return nil
}

// prepare fills in the defaults, checks the settings and builds what the
// sessions read from them.
func (h *Handler) prepare() error {
	h.setDefaults()
	if err := h.Validate(); err != nil {
		return err
	}
	h.trusted, _ = clientid.ParseNetworks(h.TrustedNetworks)
	if err := h.Recipients.provision(); err != nil {
		return err
	}
	if h.ProxyProtocol != nil {
		h.ProxyProtocol.provision()
	}
	return nil
}

// setDefaults fills in the settings left at zero.
func (h *Handler) setDefaults() {
	if h.MaxMessageSize == 0 {
		h.MaxMessageSize = DefaultMaxMessageSize
	}
	if h.MaxRecipients == 0 {
		h.MaxRecipients = DefaultMaxRecipients
	}
	if h.GracePeriod == 0 {
		h.GracePeriod = caddy.Duration(DefaultGracePeriod)
	}
	h.Limits.setDefaults()
}

// Validate checks the handler's settings; each error names its directive.
func (h *Handler) Validate() error {
	if h.MaxMessageSize < 0 {
		return fmt.Errorf("max_message_size: %d is negative", h.MaxMessageSize)
	}
	if h.MaxRecipients < 0 {
		return fmt.Errorf("max_recipients: %d is negative", h.MaxRecipients)
	}
	if h.GracePeriod < 0 {
		return fmt.Errorf("grace_period: %s is negative", time.Duration(h.GracePeriod))
	}
	if _, err := clientid.ParseNetworks(h.TrustedNetworks); err != nil {
		return fmt.Errorf("trusted_networks: %v", err)
	}
	if h.ProxyProtocol != nil {
		if err := h.ProxyProtocol.validate(); err != nil {
			return err
		}
	}
	if h.StartTLS != nil && h.ImplicitTLS != nil {
		return errTLSModes
	}
	if h.ClientAuth && h.AuthRaw == nil && h.authn == nil {
		return fmt.Errorf("client_auth: needs auth (the accounts clients log in as)")
	}
	if h.ClientAuth && (h.StartTLS == nil && h.ImplicitTLS == nil && h.startTLS == nil && h.implicit == nil) {
		return fmt.Errorf("client_auth: needs starttls or implicit_tls (passwords are never sent in the clear)")
	}
	if err := h.Recipients.validate(); err != nil {
		return err
	}
	return h.Limits.validate()
}

// traceHeaders reports whether Return-Path and Delivered-To are added.
func (h *Handler) traceHeaders() bool {
	return h.TraceHeaders == nil || *h.TraceHeaders
}

// Handle serves one LMTP session on cx and returns when it has ended. It
// never calls next.
func (h *Handler) Handle(cx *layer4.Connection, _ layer4.Handler) error {
	if h.graceOver.Load() || caddy.Exiting() {
		// Accepted by a config that is gone: nothing was said yet.
		_, _ = cx.Write([]byte("421 4.3.2 Service shutting down, try again later\r\n"))
		return nil
	}
	h.serve(cx)
	return nil
}

// moduleName is the short name of a Caddy module ("maildir" for
// pop3.storage.maildir), for logs and metric labels.
func moduleName(mod any) string {
	if m, ok := mod.(caddy.Module); ok {
		return m.CaddyModule().ID.Name()
	}
	return fmt.Sprintf("%T", mod)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Handler)(nil)
	_ caddy.Validator       = (*Handler)(nil)
	_ caddy.CleanerUpper    = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ layer4.NextHandler    = (*Handler)(nil)
)

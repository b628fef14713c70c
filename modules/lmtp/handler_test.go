package lmtp

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestValidate checks the errors of bad JSON values: each names its key.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		h    *Handler
		want string // "" for valid
	}{
		{name: "defaults", h: &Handler{}},
		{name: "negative size", h: &Handler{MaxMessageSize: -1}, want: "max_message_size:"},
		{name: "negative recipients", h: &Handler{MaxRecipients: -2}, want: "max_recipients:"},
		{name: "negative grace", h: &Handler{GracePeriod: -1}, want: "grace_period:"},
		{name: "bad network", h: &Handler{TrustedNetworks: []string{"10.0.0.0/99"}}, want: "trusted_networks:"},
		{name: "proxy without networks", h: &Handler{ProxyProtocol: &ProxyProtocol{}}, want: "proxy_protocol:"},
		{name: "both TLS modes", h: &Handler{StartTLS: &TLS{}, ImplicitTLS: &TLS{}}, want: "starttls and implicit_tls"},
		{name: "bad domain", h: &Handler{Recipients: Recipients{Domains: []string{"a b"}}}, want: "domains:"},
		{name: "short lines", h: &Handler{Limits: Limits{MaxLineLength: 999}}, want: "max_line_length:"},
		{name: "short idle", h: &Handler{Limits: Limits{IdleTimeout: caddy.Duration(1)}}, want: "idle_timeout:"},
		{name: "limits off", h: &Handler{Limits: Limits{MaxConnections: -1, MaxConnectionsPerIP: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
